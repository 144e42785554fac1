"""Meetings: every state change, each locking what it changes and audited in its transaction.

Access is a django-guardian object permission per person: `attend_meeting` for every
participant, `present_meeting` for the organiser, the chair and presenters. Departments
and groups are expanded into participants when invited (who is in them that day).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import NamedTuple

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import UploadedFile
from django.db import router, transaction
from django.db.models import Exists, Max, OuterRef, QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from guardian.shortcuts import assign_perm, remove_perm

from audit.services import audit_record
from common.dates import today
from common.socketdb import Compiled
from common.tasks import enqueue_on_commit
from org.models import Department, Staff
from org.selectors import assignments_on
from workflow.errors import InvalidRequest, NotAllowed

from . import live
from .models import (
    AgendaItem,
    Material,
    MaterialVersion,
    Meeting,
    Minutes,
    Note,
    Page,
    Participant,
)
from .validation import check_upload

ATTEND = "meetings.attend_meeting"
PRESENT = "meetings.present_meeting"
Role = Participant.Role


class MeetingError(InvalidRequest):
    """A meeting rule refused the change (Japanese, then English)."""


# --- access -----------------------------------------------------------------------------------


def expired(meeting: Meeting, now: dt.datetime | None = None) -> bool:
    return meeting.access_until is not None and (now or timezone.now()) >= meeting.access_until


class Access(NamedTuple):
    """What one person may do in one meeting, read in one query (see `access_of`)."""

    attend: bool
    present: bool
    status: str


def _granted_exists(staff_id: int, codename: str) -> Exists:
    """The person's own object permission on the outer meeting, or one of their groups'."""
    from .models import MeetingGroupObjectPermission, MeetingUserObjectPermission

    own = MeetingUserObjectPermission.objects.filter(
        user_id=staff_id, content_object=OuterRef("pk"), permission__codename=codename
    )
    group = MeetingGroupObjectPermission.objects.filter(
        group__user=staff_id, content_object=OuterRef("pk"), permission__codename=codename
    )
    return Exists(own) | Exists(group)


def _access_query(staff_id: int, meeting_id: int) -> QuerySet:
    return (
        Meeting.objects.filter(pk=meeting_id)
        .annotate(
            active=Exists(Staff.objects.filter(pk=staff_id, is_active=True)),
            attend=_granted_exists(staff_id, "attend_meeting"),
            present=_granted_exists(staff_id, "present_meeting"),
        )
        .order_by()
        .values_list("status", "access_until", "active", "attend", "present")
    )


# Compiled once (a live socket asks on every message); the stand-ins are no real ids.
_access = Compiled(_access_query, -7_301_000_001, -7_301_000_002)


def access_of(staff_id: int, meeting_id: int, now: dt.datetime | None = None) -> Access | None:
    """Whether an active person may attend and present, with the meeting's status, in ONE
    query (a live socket asks on every message). Read directly: unlike `has_perm`, a
    superuser is not let in to a meeting they were not invited to, and nothing is cached
    on the user, so a removal counts at once. None: no such meeting or person, an
    inactive person, or the meeting's access has ended."""
    rows = _access.run(router.db_for_read(Meeting), staff_id, meeting_id)
    if not rows:
        return None
    status, access_until, active, attend, present = rows[0]
    if isinstance(access_until, str):  # SQLite's text, in UTC
        access_until = parse_datetime(access_until)
    if access_until is not None and timezone.is_naive(access_until):
        access_until = access_until.replace(tzinfo=dt.UTC)
    if not active or (access_until is not None and (now or timezone.now()) >= access_until):
        return None
    return Access(attend=bool(attend), present=bool(present), status=status)


def can_attend(staff: Staff, meeting: Meeting) -> bool:
    if not getattr(staff, "is_authenticated", False) or expired(meeting):
        return False
    access = access_of(staff.pk, meeting.pk)
    return access is not None and access.attend


def can_present(staff: Staff, meeting: Meeting) -> bool:
    if not getattr(staff, "is_authenticated", False) or expired(meeting):
        return False
    access = access_of(staff.pk, meeting.pk)
    return access is not None and access.present


def _require_organiser(meeting: Meeting, actor: Staff) -> None:
    if meeting.organiser_id != actor.pk and not can_present(actor, meeting):
        raise NotAllowed(
            "この会議を編集できるのは主催者・議長・説明者です。",
            "Only the organiser, chair and presenters may change this meeting.",
        )


def _require_open(meeting: Meeting) -> None:
    if meeting.status == Meeting.Status.CLOSED:
        raise MeetingError("終了した会議は変更できません。", "The meeting has closed.")


def _lock(meeting: Meeting | int) -> Meeting:
    pk = meeting.pk if isinstance(meeting, Meeting) else meeting
    return Meeting.objects.select_for_update().get(pk=pk)


# --- the meeting ---------------------------------------------------------------------------


def meeting_create(
    *,
    actor: Staff,
    title: str,
    starts_at: dt.datetime,
    ends_at: dt.datetime,
    kind: str = Meeting.Kind.KANAI,
    place: str = "",
    chair: Staff | None = None,
    confidential: bool = False,
    allow_download: bool = False,
    classification=None,
) -> Meeting:
    if not title.strip():
        raise MeetingError("会議名を入力してください。", "Give the meeting a title.")
    if ends_at < starts_at:
        raise MeetingError("終了予定が開始より前です。", "The end is before the start.")
    assignment = actor.assignment_on(today())
    if assignment is None:
        raise NotAllowed("所属のない職員は会議を作成できません。", "You have no department.")
    with transaction.atomic():
        meeting = Meeting.objects.create(
            title=title.strip()[:200],
            kind=kind,
            starts_at=starts_at,
            ends_at=ends_at,
            place=place.strip()[:200],
            department=assignment.department,
            organiser=actor,
            chair=chair,
            confidential=confidential,
            allow_download=allow_download and not confidential,
            classification=classification,
        )
        _add(meeting, actor, Role.PRESENTER, "主催者")
        if chair is not None:
            _add(meeting, chair, Role.CHAIR, "議長")
        audit_record(
            actor=actor,
            action="meetings.meeting.created",
            target=meeting,
            data={"title": meeting.title, "confidential": confidential, "kind": kind},
        )
    return meeting


def meeting_update(*, meeting: Meeting, actor: Staff, **changes) -> Meeting:
    allowed = {
        "title",
        "kind",
        "starts_at",
        "ends_at",
        "place",
        "allow_download",
        "classification",
        "chair",
    }
    unknown = set(changes) - allowed
    if unknown:
        raise MeetingError(f"変更できない項目です: {sorted(unknown)}", "Unknown fields.")
    with transaction.atomic():
        meeting = _lock(meeting)
        _require_organiser(meeting, actor)
        if meeting.status == Meeting.Status.CLOSED:
            # After the close only the classification of the minutes may still be set,
            # until the minutes are filed as a record.
            filed = Minutes.objects.filter(meeting=meeting, record__isnull=False).exists()
            if set(changes) - {"classification"} or filed:
                raise MeetingError("終了した会議は変更できません。", "The meeting has closed.")
        chair = changes.get("chair")
        if chair is not None and chair.pk != meeting.chair_id:
            _add(meeting, chair, Role.CHAIR, "議長")
        old = {k: str(getattr(meeting, k)) for k in changes}
        for k, v in changes.items():
            setattr(meeting, k, v)
        if meeting.confidential:
            meeting.allow_download = False
        if meeting.ends_at < meeting.starts_at:
            raise MeetingError("終了予定が開始より前です。", "The end is before the start.")
        meeting.save()
        audit_record(
            actor=actor,
            action="meetings.meeting.updated",
            target=meeting,
            data={"old": old, "new": {k: str(v) for k, v in changes.items()}},
        )
    return meeting


def _render_all(meeting: Meeting) -> None:
    from .tasks import render_version

    versions = MaterialVersion.objects.filter(
        material__meeting=meeting,
        render_status__in=(
            MaterialVersion.RenderStatus.PENDING,
            MaterialVersion.RenderStatus.FAILED,
        ),
    ).values_list("pk", flat=True)
    for pk in versions:
        enqueue_on_commit(render_version, pk)


def _needs_watermark_font(meeting: Meeting) -> None:
    from .rendering import watermark_font_available

    if (
        meeting.confidential or meeting.materials.filter(confidential=True).exists()
    ) and not watermark_font_available():
        raise MeetingError(
            "透かし用の日本語フォントがサーバーにありません。管理者に連絡してください"
            "（MEETINGS_WATERMARK_FONT_PATH）。",
            "The server has no CJK font for watermarks (MEETINGS_WATERMARK_FONT_PATH).",
        )


def meeting_publish(*, meeting: Meeting, actor: Staff) -> Meeting:
    """公開: participants see the meeting; every material's pages are rendered."""
    with transaction.atomic():
        meeting = _lock(meeting)
        _require_organiser(meeting, actor)
        if meeting.status != Meeting.Status.DRAFT:
            raise MeetingError("準備中の会議だけ公開できます。", "Only a draft can be published.")
        _needs_watermark_font(meeting)
        meeting.status = Meeting.Status.PUBLISHED
        meeting.published_at = timezone.now()
        meeting.save(update_fields=["status", "published_at"])
        _render_all(meeting)
        audit_record(actor=actor, action="meetings.meeting.published", target=meeting, data={})
        live.materials_changed(meeting.pk)
    return meeting


def meeting_start(*, meeting: Meeting, actor: Staff) -> Meeting:
    with transaction.atomic():
        meeting = _lock(meeting)
        _require_organiser(meeting, actor)
        if meeting.status != Meeting.Status.PUBLISHED:
            raise MeetingError("公開済みの会議だけ開始できます。", "Publish the meeting first.")
        meeting.status = Meeting.Status.IN_SESSION
        meeting.save(update_fields=["status"])
        audit_record(actor=actor, action="meetings.meeting.started", target=meeting, data={})
        state = live.state_change(meeting.pk)
        live.broadcast(meeting.pk, {"type": "status", "seq": state.seq, "status": meeting.status})
    return meeting


def meeting_close(*, meeting: Meeting, actor: Staff) -> Meeting:
    """終了: confidential meetings stay readable for MEETINGS_CONFIDENTIAL_RETENTION_DAYS,
    then their per-viewer images are deleted and participants lose access."""
    with transaction.atomic():
        meeting = _lock(meeting)
        _require_organiser(meeting, actor)
        if meeting.status not in (Meeting.Status.PUBLISHED, Meeting.Status.IN_SESSION):
            raise MeetingError("公開済みか開催中の会議だけ終了できます。", "Not open.")
        now = timezone.now()
        meeting.status = Meeting.Status.CLOSED
        meeting.closed_at = now
        has_confidential = (
            meeting.confidential or meeting.materials.filter(confidential=True).exists()
        )
        if has_confidential:
            days = settings.MEETINGS_CONFIDENTIAL_RETENTION_DAYS
            meeting.access_until = now + dt.timedelta(days=days)
        meeting.save(update_fields=["status", "closed_at", "access_until"])
        audit_record(
            actor=actor,
            action="meetings.meeting.closed",
            target=meeting,
            data={"access_until": str(meeting.access_until) if meeting.access_until else None},
        )
        state = live.state_change(meeting.pk, forced=False)
        live.broadcast(meeting.pk, {"type": "status", "seq": state.seq, "status": meeting.status})
    return meeting


# --- participants -----------------------------------------------------------------------------


def _department_name(staff: Staff) -> str:
    a = staff.assignment_on(today())
    return a.department.name if a is not None else ""


def _add(meeting: Meeting, staff: Staff, role: str, via: str) -> bool:
    participant, created = Participant.objects.get_or_create(
        meeting=meeting,
        staff=staff,
        defaults={
            "role": role,
            "invited_via": via[:120],
            "department_name": _department_name(staff),
        },
    )
    if (
        not created
        and role in Participant.PRESENTING
        and participant.role not in Participant.PRESENTING
    ):
        participant.role = role
        participant.save(update_fields=["role"])
    assign_perm(ATTEND, staff, meeting)
    if participant.role in Participant.PRESENTING:
        assign_perm(PRESENT, staff, meeting)
    return created


def participants_add(
    *,
    meeting: Meeting,
    actor: Staff,
    staff: Iterable[Staff] = (),
    departments: Iterable[Department] = (),
    groups: Iterable[Group] = (),
    role: str = Role.MEMBER,
) -> int:
    """Invite people, the members of departments (and their 係) and of groups; returns how
    many were new. A confidential meeting already rendered renders for the newcomers."""
    if role not in Role.values:
        raise MeetingError("役割が正しくありません。", "Unknown role.")
    with transaction.atomic():
        meeting = _lock(meeting)
        _require_organiser(meeting, actor)
        _require_open(meeting)
        people: list[tuple[Staff, str]] = [(s, "個人") for s in staff]
        day = today()
        for department in departments:
            ids = [department.pk, *department.children.values_list("pk", flat=True)]
            people += [
                (a.staff, f"所属: {department.name}")
                for a in assignments_on(day).filter(department_id__in=ids, staff__is_active=True)
            ]
        for group in groups:
            people += [
                (s, f"グループ: {group.name}") for s in group.user_set.filter(is_active=True)
            ]
        added = []
        for person, via in people:
            if _add(meeting, person, role, via):
                added.append(person.pk)
        audit_record(
            actor=actor,
            action="meetings.participants.added",
            target=meeting,
            data={"staff": added, "role": role},
        )
        if added and meeting.status != Meeting.Status.DRAFT:
            _render_for_viewers(meeting, added)
    return len(added)


def _render_for_viewers(meeting: Meeting, staff_ids: list[int]) -> None:
    from .tasks import render_for_viewers

    versions = MaterialVersion.objects.filter(
        material__meeting=meeting,
        material__confidential=True,
        render_status=MaterialVersion.RenderStatus.DONE,
    ).values_list("pk", flat=True)
    for pk in versions:
        enqueue_on_commit(render_for_viewers, pk, staff_ids)


def participant_remove(*, meeting: Meeting, actor: Staff, staff: Staff) -> None:
    """Remove someone: their access ends at once (sockets closed, images refused)."""
    with transaction.atomic():
        meeting = _lock(meeting)
        _require_organiser(meeting, actor)
        if staff.pk == meeting.organiser_id:
            raise MeetingError("主催者は外せません。", "The organiser cannot be removed.")
        deleted, _ = Participant.objects.filter(meeting=meeting, staff=staff).delete()
        if not deleted:
            raise MeetingError("参加者ではありません。", "Not a participant.")
        remove_perm(ATTEND, staff, meeting)
        remove_perm(PRESENT, staff, meeting)
        from .models import ViewerPage

        names = list(
            ViewerPage.objects.filter(
                page__version__material__meeting=meeting, viewer=staff
            ).values_list("image", "image_2x")
        )
        ViewerPage.objects.filter(page__version__material__meeting=meeting, viewer=staff).delete()
        transaction.on_commit(lambda: _delete_files([n for pair in names for n in pair]))
        audit_record(
            actor=actor,
            action="meetings.participant.removed",
            target=meeting,
            data={"staff": staff.pk},
        )
        live.kick(meeting.pk, staff.pk)


def _delete_files(names: Iterable[str]) -> None:
    from django.core.files.storage import default_storage

    for name in names:
        if name:
            default_storage.delete(name)


# --- agenda and materials -----------------------------------------------------------------------


def agenda_item_add(
    *, meeting: Meeting, actor: Staff, title: str, presenter: Staff | None = None
) -> AgendaItem:
    if not title.strip():
        raise MeetingError("議題を入力してください。", "Give the agenda item a title.")
    with transaction.atomic():
        meeting = _lock(meeting)
        _require_organiser(meeting, actor)
        _require_open(meeting)
        position = (meeting.agenda.aggregate(m=Max("position"))["m"] or 0) + 1
        item = AgendaItem.objects.create(
            meeting=meeting, position=position, title=title.strip()[:200], presenter=presenter
        )
        if presenter is not None:
            _add(meeting, presenter, Role.PRESENTER, "説明者")
        audit_record(
            actor=actor,
            action="meetings.agenda.added",
            target=meeting,
            data={"item": item.pk, "title": item.title},
        )
    return item


def material_add(
    *,
    meeting: Meeting,
    actor: Staff,
    title: str,
    upload: UploadedFile,
    agenda_item: AgendaItem | None = None,
    confidential: bool | None = None,
) -> Material:
    """Add a material (version 1). Checked before anything is saved; rendered at once if
    the meeting is already published."""
    if not title.strip():
        raise MeetingError("資料名を入力してください。", "Give the material a title.")
    checked = check_upload(upload)
    stored: list[str] = []
    try:
        with transaction.atomic():
            meeting = _lock(meeting)
            _require_organiser(meeting, actor)
            _require_open(meeting)
            secret = (
                meeting.confidential
                if confidential is None
                else (confidential or meeting.confidential)
            )
            position = (meeting.materials.aggregate(m=Max("position"))["m"] or 0) + 1
            material = Material.objects.create(
                meeting=meeting,
                agenda_item=agenda_item,
                title=title.strip()[:200],
                position=position,
                confidential=secret,
            )
            if secret and meeting.status != Meeting.Status.DRAFT:
                _needs_watermark_font(meeting)
            version = _store(material, actor, upload, checked, stored)
            material.current_version = version
            material.save(update_fields=["current_version"])
            audit_record(
                actor=actor,
                action="meetings.material.added",
                target=meeting,
                data={
                    "material": material.pk,
                    "title": material.title,
                    "sha256": checked.sha256,
                    "pages": checked.page_count,
                    "confidential": secret,
                },
            )
            if meeting.status != Meeting.Status.DRAFT:
                from .tasks import render_version

                enqueue_on_commit(render_version, version.pk)
    except Exception:
        _delete_unreferenced(stored)
        raise
    return material


def _store(material, actor, upload, checked, stored: list[str]) -> MaterialVersion:
    number = (material.versions.aggregate(m=Max("number"))["m"] or 0) + 1
    version = MaterialVersion(
        material=material,
        number=number,
        original_name=(upload.name or "material")[:255],
        content_type=checked.content_type,
        size=checked.size,
        sha256=checked.sha256,
        page_count=checked.page_count,
        uploaded_by=actor,
        uploaded_at=timezone.now(),
    )
    name = f"meetings/{material.meeting_id}/originals/{checked.sha256}"
    from django.core.files.storage import default_storage

    if default_storage.exists(name):
        version.file.name = name  # the same bytes are stored once
    else:
        version.file.save(checked.sha256, upload, save=False)
        stored.append(version.file.name)
    version.save()
    return version


def _delete_unreferenced(names: list[str]) -> None:
    for name in names:
        if not MaterialVersion.objects.filter(file=name).exists():
            _delete_files([name])


def material_replace(*, material: Material, actor: Staff, upload: UploadedFile) -> MaterialVersion:
    """A new version (差替え). The material switches to it once its pages are rendered,
    and notes on unchanged pages are carried to it then."""
    checked = check_upload(upload)
    stored: list[str] = []
    try:
        with transaction.atomic():
            meeting = _lock(material.meeting_id)
            material = Material.objects.select_for_update().get(pk=material.pk)
            _require_organiser(meeting, actor)
            _require_open(meeting)
            if material.is_revoked:
                raise MeetingError(
                    "回収した資料は差し替えられません。", "The material was revoked."
                )
            version = _store(material, actor, upload, checked, stored)
            if meeting.status == Meeting.Status.DRAFT:
                material.current_version = version
                material.save(update_fields=["current_version"])
            else:
                from .tasks import render_version

                enqueue_on_commit(render_version, version.pk)
            audit_record(
                actor=actor,
                action="meetings.material.replaced",
                target=meeting,
                data={"material": material.pk, "version": version.number, "sha256": checked.sha256},
            )
    except Exception:
        _delete_unreferenced(stored)
        raise
    return version


def material_revoke(*, material: Material, actor: Staff) -> Material:
    """回収: gone from every tablet at once; its images are no longer served."""
    with transaction.atomic():
        meeting = _lock(material.meeting_id)
        material = Material.objects.select_for_update().get(pk=material.pk)
        if not can_present(actor, meeting):
            raise NotAllowed("資料を回収できるのは主催者・議長・説明者です。", "Not allowed.")
        if material.is_revoked:
            raise MeetingError("この資料は回収済みです。", "Already revoked.")
        material.revoked_at = timezone.now()
        material.revoked_by = actor
        material.save(update_fields=["revoked_at", "revoked_by"])
        audit_record(
            actor=actor,
            action="meetings.material.revoked",
            target=meeting,
            data={"material": material.pk},
        )
        state = live.state_for(meeting)
        changes = {}
        if state.material_id == material.pk:
            changes = {"material": None, "version": None, "page": 1}
        live.materials_changed(meeting.pk, **changes)
    return material


def version_ready(version: MaterialVersion) -> None:
    """Called by the render task when a version's pages are all rendered."""
    with transaction.atomic():
        material = Material.objects.select_for_update().get(pk=version.material_id)
        current = material.current_version
        if current is None or current.number <= version.number:
            previous = current if current is not None and current.pk != version.pk else None
            material.current_version = version
            material.save(update_fields=["current_version"])
            if previous is not None:
                notes_carry(old=previous, new=version)
        live.materials_changed(material.meeting_id)


# --- notes ------------------------------------------------------------------------------------


def notes_carry(*, old: MaterialVersion, new: MaterialVersion) -> int:
    """Carry private notes to the new version for pages whose content hash is unchanged
    (the same page number first, else the page that now has that content); the others
    stay on the old version, read-only. Returns how many were carried."""
    new_pages = list(Page.objects.filter(version=new).values_list("number", "content_hash"))
    by_hash: dict[str, list[int]] = {}
    for number, content in new_pages:
        by_hash.setdefault(content, []).append(number)
    old_hash = dict(Page.objects.filter(version=old).values_list("number", "content_hash"))
    carried = 0
    for note in Note.objects.select_for_update().filter(version=old, read_only=False):
        content = old_hash.get(note.page_number)
        targets = by_hash.get(content or "", [])
        target = (
            note.page_number if note.page_number in targets else (targets[0] if targets else None)
        )
        if (
            target is None
            or Note.objects.filter(staff_id=note.staff_id, version=new, page_number=target).exists()
        ):
            note.read_only = True
            note.save(update_fields=["read_only"])
            continue
        Note.objects.create(
            staff_id=note.staff_id,
            version=new,
            page_number=target,
            text=note.text,
            carried_from=note,
        )
        note.read_only = True
        note.save(update_fields=["read_only"])
        carried += 1
    MaterialVersion.objects.filter(pk=new.pk).update(notes_carried=True)
    return carried


def note_save(
    *, staff: Staff, version: MaterialVersion, page_number: int, text: str
) -> Note | None:
    """Save (or clear, with empty text) a private note. Never broadcast, never audited
    beyond its own row: it belongs to the person alone."""
    meeting = version.material.meeting
    if not can_attend(staff, meeting):
        raise NotAllowed("この会議の参加者ではありません。", "You are not a participant.")
    if not 1 <= page_number <= version.page_count:
        raise MeetingError("ページが範囲外です。", "No such page.")
    if len(text) > 5000:
        raise MeetingError("メモは5000字までです。", "Notes are 5000 characters at most.")
    with transaction.atomic():
        note = (
            Note.objects.select_for_update()
            .filter(staff=staff, version=version, page_number=page_number)
            .first()
        )
        if note is not None and note.read_only:
            raise MeetingError(
                "古い版のメモは読み取り専用です。", "Notes on an old version are read-only."
            )
        if not text.strip():
            if note is not None:
                note.delete()
            return None
        if note is None:
            return Note.objects.create(
                staff=staff, version=version, page_number=page_number, text=text
            )
        note.text = text
        note.save(update_fields=["text", "updated_at"])
        return note


# --- minutes ----------------------------------------------------------------------------------


def minutes_save(
    *, meeting: Meeting, actor: Staff, text: str = "", upload: UploadedFile | None = None
) -> Minutes:
    """議事録: text, or a PDF (checked like a material), or both. Only after the meeting has
    begun. Uploading a PDF without text keeps the text already written; saving text
    without a PDF keeps the PDF already stored."""
    checked = None
    if upload is not None:
        checked = check_upload(upload)
        if checked.content_type != "application/pdf":
            raise MeetingError("議事録のファイルはPDFにしてください。", "Minutes must be a PDF.")
    with transaction.atomic():
        meeting = _lock(meeting)
        _require_organiser(meeting, actor)
        if meeting.status not in (Meeting.Status.IN_SESSION, Meeting.Status.CLOSED):
            raise MeetingError(
                "議事録は会議の開始後に登録します。", "Minutes come after the start."
            )
        minutes = Minutes.objects.select_for_update().filter(meeting=meeting).first()
        if minutes is not None and minutes.record_id:
            raise MeetingError(
                "議事録は記録として登録済みのため変更できません。",
                "The minutes are filed as a record and cannot change.",
            )
        minutes = minutes or Minutes(meeting=meeting)
        if not text.strip() and upload is None and not minutes.file:
            raise MeetingError("議事録の本文かPDFを指定してください。", "Give text or a PDF.")
        if text.strip() or upload is None:
            minutes.text = text.strip()
        minutes.written_by = actor
        minutes.written_at = timezone.now()
        if checked is not None:
            minutes.sha256 = checked.sha256
            minutes.original_name = (upload.name or "minutes.pdf")[:255]
            minutes.file.save(checked.sha256, upload, save=False)
        minutes.save()
        audit_record(
            actor=actor,
            action="meetings.minutes.saved",
            target=meeting,
            data={"sha256": minutes.sha256, "chars": len(minutes.text)},
        )
    return minutes


# --- retention --------------------------------------------------------------------------------


def renders_purge(*, now: dt.datetime | None = None) -> int:
    """Delete the per-viewer images of confidential meetings whose access has ended."""
    from .models import ViewerPage

    now = now or timezone.now()
    rows = ViewerPage.objects.filter(page__version__material__meeting__access_until__lte=now)
    names = list(rows.values_list("image", "image_2x"))
    meetings = set(rows.values_list("page__version__material__meeting_id", flat=True))
    with transaction.atomic():
        count, _ = rows.delete()
        for meeting_id in meetings:
            audit_record(
                actor=None,
                action="meetings.renders.purged",
                target=Meeting.objects.get(pk=meeting_id),
                data={"images": count},
            )
        transaction.on_commit(lambda: _delete_files([n for pair in names for n in pair]))
    return count
