"""Writes of files (簿冊), the classification schedule, holds and received documents.

Each change follows the house recipe: check, lock, change, audit in the same
transaction. The date rules live in records.retention; the services store their results
(RecordFile.start_date/period_end, Hold.keeps_until) so the disposal list is one query.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from audit.services import audit_record
from common.counters import next_serial
from common.dates import era_of, fiscal_year
from org.models import Department, Staff

from . import retention
from .models import (
    Classification,
    ClassificationSchedule,
    Disposition,
    Hold,
    ReceiptCounter,
    ReceivedDocument,
    Record,
    RecordFile,
    Retention,
)
from .payload import AttachmentItem, RenderPayload


class RecordsError(Exception):
    """A refused records operation: Japanese first, English after it."""

    status_code = 409

    def __init__(self, ja: str, en: str) -> None:
        super().__init__(f"{ja} ({en})")
        self.ja = ja
        self.en = en

    @property
    def message(self) -> str:
        return str(self)


# Fields of a file that describe it; everything else (what it holds, how long, its
# dates and state) changes only through its own service.
EDITABLE_FILE_FIELDS = ("name", "creator_post", "manager_post", "medium", "location", "remarks")


def _lock_file(file: RecordFile) -> RecordFile:
    return RecordFile.objects.select_for_update().get(pk=file.pk)


def _store_periods(file: RecordFile) -> None:
    file.start_date = retention.start_date(file.completed_on) if file.completed_on else None
    file.period_end = retention.period_end(file)


def _symbol_of(department: Department) -> str:
    node: Department | None = department
    while node is not None:
        if node.doc_symbol:
            return node.doc_symbol
        node = node.parent
    return department.code


# --- the classification schedule -----------------------------------------------------


def _add_entries(
    schedule: ClassificationSchedule,
    entries: Iterable[dict[str, Any]],
    parent: Classification | None,
    level: int,
    counter: list[int],
    departments: dict[str, Department],
) -> None:
    for entry in entries:
        counter[0] += 1
        children = entry.get("children") or []
        leaf = level == Classification.Level.MINOR
        if leaf and children:
            raise RecordsError("小分類の下には分類を置けません。", "a 小分類 has no children")
        if leaf and (
            entry.get("retention") not in Retention.values
            or entry.get("disposition") not in Disposition.values
        ):
            raise RecordsError(
                f"{entry.get('code')}: 小分類には保存期間と満了時の措置が必要です。",
                "a leaf needs a retention and a disposition",
            )
        node = Classification.objects.create(
            schedule=schedule,
            code=entry["code"],
            name=entry["name"],
            level=level,
            parent=parent,
            retention=entry.get("retention", "") if leaf else "",
            disposition=entry.get("disposition", "") if leaf else "",
            department=departments.get(entry.get("department", "")),
            sort_order=counter[0],
        )
        _add_entries(schedule, children, node, level + 1, counter, departments)


def schedule_new_version(
    *,
    actor: Staff,
    version: int,
    effective_from: dt.date,
    entries: list[dict[str, Any]],
    note: str = "",
) -> ClassificationSchedule:
    """A new version of the 文書分類表 (大 → 中 → 小分類, leaves with 保存期間 and 措置).

    A version in force never changes: a change is a new version (like the authority
    table). `entries` is a tree: {"code", "name", "children"} with leaves carrying
    "retention", "disposition" and optionally "department" (a department code).
    """
    if ClassificationSchedule.objects.filter(version=version).exists():
        raise RecordsError(f"第{version}版は既にあります。", "that version already exists")
    departments = {d.code: d for d in Department.objects.all()}
    with transaction.atomic():
        schedule = ClassificationSchedule.objects.create(
            version=version,
            effective_from=effective_from,
            note=note[:300],
            created_by=actor,
            created_at=timezone.now(),
        )
        _add_entries(schedule, entries, None, Classification.Level.MAJOR, [0], departments)
        audit_record(
            actor=actor,
            action="records.schedule.created",
            target=schedule,
            data={
                "version": version,
                "effective_from": effective_from.isoformat(),
                "leaves": schedule.classifications.filter(level=3).count(),
            },
        )
    return schedule


def schedule_load_fixture(*, path: str | Path, actor: Staff) -> ClassificationSchedule:
    """Load a schedule from JSON ({"version", "effective_from", "note", "entries"});
    idempotent: a version already loaded is returned as it is."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    existing = ClassificationSchedule.objects.filter(version=data["version"]).first()
    if existing is not None:
        return existing
    return schedule_new_version(
        actor=actor,
        version=data["version"],
        effective_from=dt.date.fromisoformat(data["effective_from"]),
        entries=data["entries"],
        note=data.get("note", ""),
    )


def schedule_in_force(day: dt.date | None = None) -> ClassificationSchedule | None:
    day = day or timezone.localdate()
    return ClassificationSchedule.objects.filter(effective_from__lte=day).first()


# --- files (簿冊) ----------------------------------------------------------------------


def file_create(
    *,
    department: Department,
    classification: Classification,
    fiscal_year: int,
    actor: Staff | None,
    name: str = "",
    creator_post: str = "",
    manager_post: str = "",
    medium: str = RecordFile.Medium.ELECTRONIC,
    location: str = "文書管理システム",
    remarks: str = "",
) -> RecordFile:
    """Open a file for a 小分類; its retention and disposition come from the schedule."""
    if classification.level != Classification.Level.MINOR:
        raise RecordsError("簿冊は小分類に作ります。", "files belong to a 小分類 (leaf)")
    post = f"{department.name}長"
    with transaction.atomic():
        file = RecordFile.objects.create(
            department=department,
            classification=classification,
            fiscal_year=fiscal_year,
            name=(name or classification.name)[:300],
            creator_post=creator_post or post,
            manager_post=manager_post or post,
            medium=medium,
            location=location,
            remarks=remarks,
            retention=classification.retention,
            disposition=classification.disposition,
            created_at=timezone.now(),
        )
        audit_record(
            actor=actor,
            action="records.file.created",
            target=file,
            data={
                "classification": classification.code,
                "fiscal_year": fiscal_year,
                "retention": file.retention,
                "disposition": file.disposition,
            },
        )
    return file


def file_for_document(
    *,
    department: Department,
    classification: Classification,
    fiscal_year: int,
    actor: Staff | None = None,
) -> RecordFile:
    """The open file of (department, classification, fiscal year), made when missing.

    One open file per triple is a database constraint, so two decisions at once end in
    the same file: the loser of the race reads the winner's file.
    """
    lookup = {
        "department": department,
        "classification": classification,
        "fiscal_year": fiscal_year,
        "status": RecordFile.Status.OPEN,
    }
    file = RecordFile.objects.filter(**lookup).first()
    if file is not None:
        return file
    try:
        with transaction.atomic():
            return file_create(
                department=department,
                classification=classification,
                fiscal_year=fiscal_year,
                actor=actor,
            )
    except IntegrityError:
        return RecordFile.objects.get(**lookup)


def file_complete(*, file: RecordFile, completed_on: dt.date, actor: Staff | None) -> RecordFile:
    """完結: the file is closed; its 起算日 and 満了日 follow (records.retention)."""
    with transaction.atomic():
        locked = _lock_file(file)
        if locked.status != RecordFile.Status.OPEN:
            raise RecordsError("この簿冊は既に完結しています。", "the file is already closed")
        if completed_on < dt.date(locked.fiscal_year, 4, 1):
            raise RecordsError(
                "完結日が簿冊の年度より前です。", "completion precedes the file's fiscal year"
            )
        locked.completed_on = completed_on
        locked.status = RecordFile.Status.CLOSED
        _store_periods(locked)
        locked.save(update_fields=["completed_on", "status", "start_date", "period_end"])
        audit_record(
            actor=actor,
            action="records.file.completed",
            target=locked,
            data={
                "old": {"status": "open"},
                "new": {
                    "status": "closed",
                    "completed_on": completed_on.isoformat(),
                    "start_date": locked.start_date.isoformat() if locked.start_date else None,
                    "period_end": locked.period_end.isoformat() if locked.period_end else None,
                },
            },
        )
    return locked


def file_extend(*, file: RecordFile, years: int, reason: str, actor: Staff) -> RecordFile:
    """延長 (施行令第9条第2項): add years to the period; the register shows the total."""
    if years < 1:
        raise RecordsError("延長は1年以上です。", "extend by at least one year")
    if not reason.strip():
        raise RecordsError("延長の理由を入力してください。", "give the reason")
    with transaction.atomic():
        locked = _lock_file(file)
        if not locked.under_retention or locked.retention == Retention.PERMANENT:
            raise RecordsError("この簿冊は延長できません。", "this file cannot be extended")
        old = {"extension_years": locked.extension_years, "period_end": _iso(locked.period_end)}
        locked.extension_years += years
        _store_periods(locked)
        locked.save(update_fields=["extension_years", "period_end"])
        audit_record(
            actor=actor,
            action="records.file.extended",
            target=locked,
            data={
                "old": old,
                "new": {
                    "extension_years": locked.extension_years,
                    "period_end": _iso(locked.period_end),
                },
                "reason": reason[:300],
            },
        )
    return locked


def file_update(*, file: RecordFile, actor: Staff, **metadata: Any) -> RecordFile:
    """Edit a file's description (name, posts, medium, location, remarks), audited with
    old and new values. Content and retention (classification, period, dates, state)
    are not metadata: refused here."""
    refused = sorted(set(metadata) - set(EDITABLE_FILE_FIELDS))
    if refused:
        raise RecordsError(
            f"保存期間中の簿冊のこの項目は変更できません: {', '.join(refused)}",
            "content and retention fields cannot be edited",
        )
    with transaction.atomic():
        locked = _lock_file(file)
        if not locked.under_retention:
            raise RecordsError("廃棄・移管済みの簿冊は変更できません。", "file is gone")
        if "medium" in metadata and metadata["medium"] not in RecordFile.Medium.values:
            raise RecordsError("媒体の値が正しくありません。", "unknown medium")
        changes = {
            k: (getattr(locked, k), v) for k, v in metadata.items() if getattr(locked, k) != v
        }
        if not changes:
            return locked
        for k, (_old, new) in changes.items():
            setattr(locked, k, new)
        locked.full_clean(exclude=["department", "classification"])
        locked.save(update_fields=list(changes))
        audit_record(
            actor=actor,
            action="records.file.updated",
            target=locked,
            data={
                "old": {k: o for k, (o, _n) in changes.items()},
                "new": {k: n for k, (_o, n) in changes.items()},
            },
        )
    return locked


def record_file_assign(*, record: Record, file: RecordFile, actor: Staff | None) -> Record:
    """File a record in an open 簿冊 (綴る). A record stays in the file it was put in."""
    with transaction.atomic():
        locked_file = _lock_file(file)
        locked = Record.objects.select_for_update().get(pk=record.pk)
        if locked.file_id == locked_file.pk:
            return locked
        if locked.file_id is not None:
            raise RecordsError(
                "この公文書は既に別の簿冊に綴られています。", "record already in a file"
            )
        if locked_file.status != RecordFile.Status.OPEN:
            raise RecordsError(
                "完結した簿冊には綴れません。", "a closed file takes no more records"
            )
        locked.file = locked_file
        locked.save(update_fields=["file"])
        audit_record(
            actor=actor,
            action="records.record.filed",
            target=locked,
            data={"old": None, "new": locked_file.pk, "file": str(locked_file)},
        )
    return locked


def record_file_by_classification(
    *,
    record: Record,
    classification: Classification,
    fiscal_year: int,
    actor: Staff | None,
) -> Record:
    """File a record in the open file of its department, classification and fiscal year
    (made when missing). Called when a decided document or a receipt becomes a record."""
    file = file_for_document(
        department=record.department,
        classification=classification,
        fiscal_year=fiscal_year,
        actor=actor,
    )
    return record_file_assign(record=record, file=file, actor=actor)


# --- holds (施行令第9条) ----------------------------------------------------------------


def _iso(day: dt.date | None) -> str | None:
    return day.isoformat() if day else None


def hold_register(
    *,
    kind: str,
    reason: str,
    started_on: dt.date,
    actor: Staff,
    files: Iterable[RecordFile] = (),
    records: Iterable[Record] = (),
    reference: str = "",
    until: dt.date | None = None,
) -> Hold:
    """Register a hold: ONE hold on every file given and every file holding the records
    given (a disclosure request names documents; their files are kept). It blocks
    disposal until its end rule (records.retention.hold_end) says otherwise."""
    if kind not in Hold.Kind.values:
        raise RecordsError("延長事由の種別が正しくありません。", "unknown hold kind")
    if not reason.strip():
        raise RecordsError("理由を入力してください。", "give the reason")
    if kind == Hold.Kind.BUSINESS and until is None:
        raise RecordsError("業務上の必要には期限が必要です。", "a business hold needs a date")
    records = list(records)
    unfiled = [r for r in records if r.file_id is None]
    if unfiled:
        raise RecordsError(
            f"簿冊に綴られていない公文書があります: {', '.join(str(r) for r in unfiled)}",
            "some records are not in a file",
        )
    file_ids = {f.pk for f in files} | {r.file_id for r in records}
    if not file_ids:
        raise RecordsError("対象の簿冊または公文書を選んでください。", "choose files or records")
    with transaction.atomic():
        locked_files = list(RecordFile.objects.select_for_update().filter(pk__in=file_ids))
        gone = [f for f in locked_files if not f.under_retention]
        if gone:
            raise RecordsError("廃棄・移管済みの簿冊があります。", "some files are gone")
        hold = Hold(
            kind=kind,
            reason=reason[:300],
            reference=reference[:100],
            started_on=started_on,
            until=until,
            created_by=actor,
            created_at=timezone.now(),
        )
        hold.keeps_until = retention.hold_end(hold)
        hold.save()
        hold.files.set(locked_files)
        hold.records.set(records)
        audit_record(
            actor=actor,
            action="records.hold.registered",
            target=hold,
            data={
                "kind": kind,
                "reference": hold.reference,
                "files": sorted(file_ids),
                "records": sorted(r.pk for r in records),
                "keeps_until": _iso(hold.keeps_until),
            },
        )
    return hold


def _hold_change(hold: Hold, actor: Staff, action: str, **fields: dt.date) -> Hold:
    with transaction.atomic():
        locked = Hold.objects.select_for_update().get(pk=hold.pk)
        old = {k: _iso(getattr(locked, k)) for k in (*fields, "keeps_until")}
        for k, v in fields.items():
            setattr(locked, k, v)
        locked.keeps_until = retention.hold_end(locked)
        locked.save(update_fields=[*fields, "keeps_until"])
        new = {k: _iso(getattr(locked, k)) for k in (*fields, "keeps_until")}
        audit_record(actor=actor, action=action, target=locked, data={"old": old, "new": new})
    return locked


def hold_decide(*, hold: Hold, decided_on: dt.date, actor: Staff) -> Hold:
    """The disclosure decision / ruling: the hold then keeps its files one year counted
    from the next day (施行令第9条第1項第3・4号, 民法第140条・第143条)."""
    if hold.kind not in (Hold.Kind.APPEAL, Hold.Kind.DISCLOSURE, Hold.Kind.PERSONAL):
        raise RecordsError("この種別には決定日がありません。", "this kind has no decision")
    if decided_on < hold.started_on:
        raise RecordsError("決定日が開始日より前です。", "decision before the start")
    return _hold_change(hold, actor, "records.hold.decided", decided_on=decided_on)


def hold_end(*, hold: Hold, ended_on: dt.date, actor: Staff) -> Hold:
    """The audit, case or need ended (or a request was withdrawn before a decision)."""
    if ended_on < hold.started_on:
        raise RecordsError("終了日が開始日より前です。", "end before the start")
    if hold.ended_on is not None:
        raise RecordsError("この延長事由は既に終了しています。", "already ended")
    return _hold_change(hold, actor, "records.hold.ended", ended_on=ended_on)


# --- received documents (収受) ---------------------------------------------------------


def format_receipt_number(fy: int, symbol: str, serial: int) -> str:
    """「8財収第12号」: 令和 year of the fiscal year + 記号 + 収 + serial."""
    _era, year = era_of(dt.date(fy, 12, 31))
    return f"{year}{symbol}収第{serial}号"


def _next_receipt_serial(fy: int, department: Department) -> int:
    """Gap-free per (fiscal year, department)."""
    return next_serial(ReceiptCounter, fiscal_year=fy, department=department)


def receipt_register(
    *,
    department: Department,
    sender: str,
    title: str,
    received_on: dt.date,
    upload: UploadedFile,
    actor: Staff,
    document_date: dt.date | None = None,
    confidential: bool = False,
    classification: Classification | None = None,
) -> ReceivedDocument:
    """収受: number the received document (「8財収第12号」, gap-free per fiscal year and
    department), keep the upload (content-addressed) and register it as a record —
    filed in the open file of `classification` when one is given."""
    from .services import record_register

    if not sender.strip() or not title.strip():
        raise RecordsError("差出人と件名を入力してください。", "sender and title are required")
    data = upload.read()
    if not data:
        raise RecordsError("ファイルが空です。", "the upload is empty")
    sha256 = hashlib.sha256(data).hexdigest()
    suffix = Path(upload.name or "").suffix.lower()[:10]
    name = f"received/{sha256[:2]}/{sha256}{suffix}"
    if not default_storage.exists(name):
        name = default_storage.save(name, ContentFile(data))
    fy = fiscal_year(received_on)
    with transaction.atomic():
        serial = _next_receipt_serial(fy, department)
        received = ReceivedDocument.objects.create(
            department=department,
            receipt_number=format_receipt_number(fy, _symbol_of(department), serial),
            number_fiscal_year=fy,
            number_serial=serial,
            received_on=received_on,
            sender=sender[:200],
            title=title[:300],
            document_date=document_date,
            upload=name,
            original_name=(upload.name or "upload")[:255],
            sha256=sha256,
            size=len(data),
            confidential=confidential,
            registered_by=actor,
            registered_at=timezone.now(),
        )
        audit_record(
            actor=actor,
            action="records.receipt.registered",
            target=received,
            data={"number": received.receipt_number, "sha256": sha256, "sender": sender[:200]},
        )
        record = record_register(
            source=received,
            title=received.title,
            number=received.receipt_number,
            department=department,
            confidential=confidential,
            actor=actor,
        )
        if classification is not None:
            record_file_by_classification(
                record=record, classification=classification, fiscal_year=fy, actor=actor
            )
    return received


def received_record_payload(received: ReceivedDocument) -> RenderPayload:
    """The cover sheet of a received document, with the upload attached as it came."""
    from .selectors import record_for_source

    record = record_for_source(received)
    file = record.file if record is not None and record.file_id else None
    content_type = "application/pdf" if received.original_name.lower().endswith(".pdf") else ""

    def read() -> bytes:
        with received.upload.open("rb") as handle:
            return handle.read()

    return RenderPayload(
        kind_label=str(ReceivedDocument._meta.verbose_name),
        number=received.receipt_number,
        title=received.title,
        drafter=f"{received.department.name}（収受）",
        department=received.department.full_name,
        dates=[("収受日", received.received_on), ("文書の日付", received.document_date)],
        classification=str(file.classification) if file else "",
        retention=file.get_retention_display() if file else "",
        confidentiality="秘" if received.confidential else "",
        body=f"差出人: {received.sender}",
        attachments=[
            AttachmentItem(
                name=received.original_name,
                content_type=content_type or "application/octet-stream",
                sha256=received.sha256,
                size=received.size,
                read=read,
            )
        ],
    )


def classification_leaves_in_force(day: dt.date | None = None) -> QuerySet[Classification]:
    """The 小分類 of the schedule in force, as a lazy queryset (one query when read;
    none when only built, e.g. while a form or the API schema is being set up)."""
    day = day or timezone.localdate()
    current = (
        ClassificationSchedule.objects.filter(effective_from__lte=day)
        .order_by("-effective_from")
        .values("pk")[:1]
    )
    return Classification.objects.filter(
        schedule__in=current, level=Classification.Level.MINOR
    ).order_by("sort_order", "code")
