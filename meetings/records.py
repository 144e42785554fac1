"""Minutes (議事録) as a record: filing them, and what their official PDF prints.

Once a meeting has closed and its organiser set a classification (文書分類), the minutes
become a record of the records capability (`records.services.record_register`), filed
at once in the open 簿冊 of the organising department, that classification and the
fiscal year of the meeting; from then on they cannot change (`services.minutes_save`).

`MinutesRecordSource` is the `records.payload.RecordSource` protocol for `Minutes`:
records calls `record_payload()`, `record_visible_to()` and `record_destroy_content()`
on the object its Record points to, without knowing about meetings. This module imports
no model at load time, so `meetings.models` can use the mixin.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from records.payload import AttachmentItem, RenderPayload

if TYPE_CHECKING:
    from org.models import Staff
    from records.models import Record

    from .models import Meeting, Minutes

KIND_LABEL = "議事録"
DESTROYED_TEXT = "（保存期間満了により廃棄）"


class MinutesRecordSource:
    """The records source protocol (records/payload.py) for `Minutes`."""

    def record_payload(self) -> RenderPayload:
        return minutes_record_payload(self)  # type: ignore[arg-type]

    def record_visible_to(self, staff: object) -> bool:
        return minutes_visible_to(self, staff)  # type: ignore[arg-type]

    def record_destroy_content(self) -> set[str]:
        return minutes_destroy_content(self)  # type: ignore[arg-type]


def minutes_file(*, meeting: Meeting, actor: Staff) -> Record:
    """File the minutes of a closed meeting as a record, in the 簿冊 of the organising
    department × the meeting's classification × the fiscal year the meeting was held.
    Once only; the organiser, chair or a presenter files them."""
    from django.db import transaction
    from django.utils import timezone

    from audit.services import audit_record
    from common.dates import fiscal_year
    from records.files import record_file_by_classification
    from records.services import record_register
    from workflow.errors import NotAllowed

    from .models import Meeting, Minutes
    from .services import MeetingError, can_present

    with transaction.atomic():
        meeting = Meeting.objects.select_for_update().get(pk=meeting.pk)
        if meeting.organiser_id != actor.pk and not can_present(actor, meeting):
            raise NotAllowed(
                "議事録を公文書として登録できるのは主催者・議長・説明者です。",
                "Only the organiser, chair and presenters may file the minutes.",
            )
        if meeting.status != Meeting.Status.CLOSED:
            raise MeetingError(
                "議事録を公文書として登録できるのは会議の終了後です。",
                "Minutes are filed once the meeting has closed.",
            )
        if meeting.classification_id is None:
            raise MeetingError(
                "会議の編集で「文書分類（議事録）」を設定してください。",
                "Set the meeting's classification for the minutes first.",
            )
        minutes = Minutes.objects.select_for_update().filter(meeting=meeting).first()
        if minutes is None:
            raise MeetingError("議事録がまだ登録されていません。", "There are no minutes yet.")
        if minutes.record_id is not None:
            raise MeetingError(
                "議事録は公文書として登録済みです。", "The minutes are already filed."
            )
        record = record_register(
            source=minutes,
            title=f"{meeting.title} {KIND_LABEL}",
            number="",
            department=meeting.department,
            confidential=meeting.confidential,
            actor=actor,
        )
        record = record_file_by_classification(
            record=record,
            classification=meeting.classification,
            fiscal_year=fiscal_year(timezone.localdate(meeting.starts_at)),
            actor=actor,
        )
        minutes.record = record
        minutes.save(update_fields=["record"])
        audit_record(
            actor=actor,
            action="meetings.minutes.filed",
            target=meeting,
            data={"record": record.pk, "file": record.file_id},
        )
    return record


def _body(meeting: Meeting, minutes: Minutes) -> str:
    """The meeting's facts, who attended (by role) and the materials, then the text."""
    from django.utils import timezone

    from common.dates import wareki

    from .models import Material, Participant

    starts = timezone.localtime(meeting.starts_at)
    ends = timezone.localtime(meeting.ends_at)
    lines = [
        f"会議名: {meeting.title}（{meeting.get_kind_display()}）",
        f"日時: {wareki(starts.date())} {starts:%H:%M}〜{ends:%H:%M}",
    ]
    if meeting.place:
        lines.append(f"場所: {meeting.place}")
    if meeting.chair_id:
        lines.append(f"議長: {meeting.chair.display_name}")
    by_role: dict[str, list[str]] = {}
    for p in Participant.objects.filter(meeting=meeting).select_related("staff").order_by("pk"):
        label = str(p.get_role_display())
        by_role.setdefault(label, []).append(
            f"{p.staff.display_name}（{p.department_name}）"
            if p.department_name
            else p.staff.display_name
        )
    for label, names in by_role.items():
        lines.append(f"{label}: {'、'.join(names)}")
    materials = (
        Material.objects.filter(meeting=meeting)
        .select_related("current_version")
        .order_by("position", "pk")
    )
    listed = []
    for m in materials:
        v = m.current_version
        state = "（回収）" if m.is_revoked else ""
        version = f" 第{v.number}版 {v.page_count}ページ SHA-256 {v.sha256}" if v else ""
        listed.append(f"・{m.title}{state}{version}")
    if listed:
        lines += ["", "配布資料:", *listed]
    lines += ["", minutes.text or "（本文はPDFを参照）"]
    return "\n".join(lines)


def minutes_record_payload(minutes: Minutes) -> RenderPayload:
    """The cover of the minutes: the meeting's facts, attendance, the materials with their
    SHA-256, the text, the uploaded PDF attached, and the meeting's audit events."""
    from django.core.serializers.json import DjangoJSONEncoder
    from django.utils import timezone

    from audit.models import AuditEvent
    from audit.services import event_payload

    from .models import Minutes

    minutes = Minutes.objects.select_related(
        "meeting__department", "meeting__chair", "meeting__classification", "written_by"
    ).get(pk=minutes.pk)
    meeting = minutes.meeting
    classification = meeting.classification
    attachments = []
    if minutes.file:
        size = minutes.file.size

        def read() -> bytes:
            with minutes.file.open("rb") as handle:
                return handle.read()

        attachments.append(
            AttachmentItem(
                name=minutes.original_name or "minutes.pdf",
                content_type="application/pdf",
                sha256=minutes.sha256,
                size=size,
                read=read,
            )
        )
    events = [
        {**event_payload(e), "prev_hash": e.prev_hash, "hash": e.hash}
        for e in AuditEvent.objects.for_target(meeting).order_by("seq")
    ]
    return RenderPayload(
        kind_label=KIND_LABEL,
        number="",
        title=f"{meeting.title} {KIND_LABEL}",
        drafter=minutes.written_by.display_name,
        department=meeting.department.full_name,
        dates=[
            ("開催日", timezone.localdate(meeting.starts_at)),
            ("終了日", timezone.localdate(meeting.closed_at) if meeting.closed_at else None),
            ("作成日", timezone.localdate(minutes.written_at)),
        ],
        classification=str(classification) if classification else "",
        retention=classification.get_retention_display() if classification else "",
        confidentiality="秘" if meeting.confidential else "",
        body=_body(meeting, minutes),
        attachments=attachments,
        history_json=json.dumps(
            events, cls=DjangoJSONEncoder, ensure_ascii=False, sort_keys=True, indent=1
        ).encode("utf-8"),
    )


def minutes_visible_to(minutes: Minutes, staff: object) -> bool:
    """Whoever was invited to the meeting (the organiser always) reads the minutes."""
    from .services import ATTEND

    if not getattr(staff, "is_authenticated", False):
        return False
    meeting = minutes.meeting
    return meeting.organiser_id == staff.pk or staff.has_perm(ATTEND, meeting)  # type: ignore[attr-defined]


def minutes_destroy_content(minutes: Minutes) -> set[str]:
    """廃棄: the text and the PDF's bytes go; the row stays as the tombstone."""
    from .models import Minutes

    name = minutes.file.name if minutes.file else ""
    Minutes.objects.filter(pk=minutes.pk).update(text=DESTROYED_TEXT, file="")
    in_use = bool(name) and Minutes.objects.filter(file=name).exclude(pk=minutes.pk).exists()
    return {name} if name and not in_use else set()
