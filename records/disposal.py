"""廃棄・移管 (disposal and transfer) of files whose retention period has expired.

The yearly round (records.md, "Disposal"): the records officer lists the files whose
period has expired → sections may extend a file by a year → a 廃棄文書目録 (batch) goes
to every section that owns a file, whose 課長 consents (文書廃棄承諾), and the
文書主管課長 decides → the batch is executed in the background: 廃棄 keeps a tombstone
in the 廃棄簿 and deletes the content; 移管 exports a BagIt package for the archives.

The 文書主管課 is the department of the records officer who made the batch (no setting:
the records officer role already says who keeps the records, and their own 課 is the
one whose 課長 decides). The 課長 is the post with code `kacho`.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import logging
import shutil
from collections.abc import Iterable, Sequence
from pathlib import Path

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from audit.services import audit_record
from common.dates import today, wareki_year
from common.tasks import enqueue_on_commit, retrying_task
from org.models import Department, Post, Staff
from org.selectors import assignments_on, department_of
from workflow.errors import AlreadyDecided, InvalidRequest, NotAllowed
from workflow.models import Route, Stage, Step
from workflow.services import StageSpec, StepSpec, route_start

from . import bagit, retention
from . import files as file_services
from .models import (
    Classification,
    DisposalBatch,
    DisposalItem,
    DisposalRegisterEntry,
    Disposition,
    Hold,
    Record,
    RecordFile,
    RecordVersion,
    Retention,
)
from .selectors import is_records_officer

log = logging.getLogger(__name__)

SECTION_HEAD_POST = "kacho"
Status = DisposalBatch.Status

# The legal moves of a batch, checked in one place (`_move`).
TRANSITIONS: dict[str, set[str]] = {
    Status.DRAFT: {Status.IN_REVIEW},
    Status.IN_REVIEW: {Status.APPROVED, Status.REJECTED, Status.WITHDRAWN, Status.DRAFT},
    Status.APPROVED: {Status.EXECUTING},
    Status.EXECUTING: {Status.EXECUTED},
    Status.EXECUTED: set(),
    Status.REJECTED: set(),
    Status.WITHDRAWN: set(),
}


# --- retention dates (the rules are records.retention's) ----------------------------------


def file_start_date(file: RecordFile) -> dt.date | None:
    """起算日 (stored by records.files when the file is completed)."""
    if file.start_date is not None:
        return file.start_date
    return retention.start_date(file.completed_on) if file.completed_on else None


def file_end_date(file: RecordFile) -> dt.date | None:
    """満了日 including every extension; None for 永年 or an open file."""
    return retention.period_end(file)


def file_effective_end(file: RecordFile) -> dt.date | None:
    """The latest of the 満了日 and every hold's end; None while a hold is open."""
    return retention.effective_end(file, file.holds.all())


def _open_holds(file: RecordFile, day: dt.date) -> list[Hold]:
    """Holds that still keep the file on `day` (keeps_until empty = open)."""
    return [h for h in file.holds.all() if h.keeps_until is None or h.keeps_until >= day]


def disposal_candidates(day: dt.date | None = None) -> QuerySet[RecordFile]:
    """The files whose effective end has passed on `day`: closed, not 永年, no open
    hold — the annual list the records officer generates (records.retention)."""
    return retention.files_due_for_disposal(day=day or today())


# --- who may do what -----------------------------------------------------------------------


def _head_post() -> Post:
    post = Post.objects.filter(code=SECTION_HEAD_POST).first()
    if post is None:
        raise InvalidRequest("課長の職が登録されていません。", "No 課長 post is registered.")
    return post


def headed_departments(staff: Staff, day: dt.date | None = None) -> list[Department]:
    """The departments where `staff` is 課長 on `day`."""
    if not getattr(staff, "is_authenticated", False):
        return []
    return [
        a.department for a in assignments_on(day).filter(staff=staff, post__code=SECTION_HEAD_POST)
    ]


def can_extend(*, file: RecordFile, staff: Staff) -> bool:
    if is_records_officer(staff):
        return True
    return any(d.pk == section_of(file.department).pk for d in headed_departments(staff))


def _require_officer(actor: Staff) -> None:
    if not is_records_officer(actor):
        raise NotAllowed("文書主管課の職員だけが行えます。", "Only records officers may do this.")


# --- extension --------------------------------------------------------------------------


def file_extend(*, file: RecordFile | int, actor: Staff, reason: str) -> RecordFile:
    """延長 during the disposal round (施行令第9条第2項): the file's 課長 or a records
    officer keeps a file one more year, with its reason; it leaves the candidate list.
    Only a closed file not already in a batch; records.files.file_extend does the rest
    (cumulative total, new 満了日, audit with old and new)."""
    if not reason.strip():
        raise InvalidRequest("延長の理由を入力してください。", "Give a reason for the extension.")
    pk = file.pk if isinstance(file, RecordFile) else file
    with transaction.atomic():
        locked = RecordFile.objects.select_for_update().get(pk=pk)
        if not can_extend(file=locked, staff=actor):
            raise NotAllowed(
                "延長できるのは、その簿冊の課の課長か文書主管課です。",
                "Only the file's section head or a records officer may extend it.",
            )
        if locked.status != RecordFile.Status.CLOSED or locked.retention == Retention.PERMANENT:
            raise InvalidRequest(
                "完結済みで、廃棄・移管の手続に入っていない簿冊だけ延長できます。",
                "Only a closed file not already in a disposal batch can be extended.",
            )
        try:
            return file_services.file_extend(
                file=locked, years=1, reason=reason.strip(), actor=actor
            )
        except file_services.RecordsError as err:
            raise InvalidRequest(err.ja, err.en) from err


# --- the batch ---------------------------------------------------------------------------


def _lock_batch(batch: DisposalBatch | int) -> DisposalBatch:
    pk = batch.pk if isinstance(batch, DisposalBatch) else batch
    return DisposalBatch.objects.select_for_update().get(pk=pk)


def _move(batch: DisposalBatch, status: str, actor: Staff | None, **data) -> None:
    """The one place a batch's status moves (the caller holds the row lock)."""
    if status not in TRANSITIONS[batch.status]:
        raise AlreadyDecided
    old = batch.status
    batch.status = status
    fields = ["status"]
    if status == Status.APPROVED:
        batch.approved_at = timezone.now()
        fields.append("approved_at")
    if status == Status.EXECUTED:
        batch.executed_at = timezone.now()
        fields.append("executed_at")
    batch.save(update_fields=fields)
    audit_record(
        actor=actor,
        action=f"records.disposal.{status}",
        target=batch,
        data={"old": old, "new": status, **data},
    )


def disposal_batch_create(
    *, fiscal_year: int, files: Iterable[RecordFile | int], actor: Staff, title: str = ""
) -> DisposalBatch:
    """廃棄文書目録: a records officer puts due files in a batch; each file's action is its
    保存期間満了時の措置. Files not due, or under an open hold, are refused."""
    _require_officer(actor)
    pks = sorted({f.pk if isinstance(f, RecordFile) else int(f) for f in files})
    if not pks:
        raise InvalidRequest("簿冊を選んでください。", "Select at least one file.")
    day = today()
    with transaction.atomic():
        locked = list(RecordFile.objects.select_for_update().filter(pk__in=pks).order_by("pk"))
        if len(locked) != len(pks):
            raise InvalidRequest("存在しない簿冊があります。", "Unknown file.")
        held = [f for f in locked if _open_holds(f, day)]
        if held:
            raise InvalidRequest(
                f"延長事由（保存期間の延長）がある簿冊は廃棄・移管できません: {held[0]}",
                "A file under an open hold cannot be disposed of.",
            )
        due = set(disposal_candidates(day).filter(pk__in=pks).values_list("pk", flat=True))
        not_due = [f for f in locked if f.pk not in due]
        if not_due:
            raise InvalidRequest(
                f"保存期間が満了していない簿冊があります: {not_due[0]}",
                "A file whose retention period has not expired cannot be disposed of.",
            )
        batch = DisposalBatch.objects.create(
            title=(title or f"{wareki_year(fiscal_year, fiscal=True)} 廃棄・移管文書目録")[:300],
            fiscal_year=fiscal_year,
            created_by=actor,
            created_at=timezone.now(),
        )
        DisposalItem.objects.bulk_create(
            DisposalItem(batch=batch, file=f, action=f.disposition) for f in locked
        )
        RecordFile.objects.filter(pk__in=pks).update(status=RecordFile.Status.IN_DISPOSAL)
        audit_record(
            actor=actor,
            action="records.disposal.created",
            target=batch,
            data={
                "fiscal_year": fiscal_year,
                "files": {str(f.pk): f.disposition for f in locked},
            },
        )
    return batch


def section_of(department: Department) -> Department:
    """The 課 a department belongs to (itself for a 課; the parent 課 for a 係), whose
    課長 consents or decides. A 部 or anything without a 課 above stays itself."""
    node: Department | None = department
    while node is not None:
        if node.level == Department.Level.KA:
            return node
        node = node.parent
    return department


def records_department_of(batch: DisposalBatch) -> Department:
    """文書主管課: the 課 of the records officer who made the batch (a 文書係 belongs to
    総務課, whose 課長 decides)."""
    department = department_of(staff=batch.created_by)
    if department is None:
        raise InvalidRequest(
            "目録の作成者に所属がないため、文書主管課長が決まりません。",
            "The batch creator has no department, so the deciding 課長 is unknown.",
        )
    return section_of(department)


def disposal_route_propose(batch: DisposalBatch) -> list[StageSpec]:
    """合議 (all of them): the 課長 of every section owning a file (文書廃棄承諾);
    then 決裁 by the 文書主管課長."""
    head = _head_post()
    owners = Department.objects.filter(pk__in=batch.items.values("file__department"))
    sections = sorted(
        {section_of(d) for d in owners.select_related("parent")}, key=lambda d: d.code
    )
    return [
        StageSpec(Stage.Kind.CONSULTATION, [StepSpec(post=head, department=d) for d in sections]),
        StageSpec(
            Stage.Kind.DECISION, [StepSpec(post=head, department=records_department_of(batch))]
        ),
    ]


def disposal_batch_submit(*, batch: DisposalBatch | int, actor: Staff) -> Route:
    """Send the batch for the sections' consent and the 文書主管課長's decision."""
    _require_officer(actor)
    with transaction.atomic():
        batch = _lock_batch(batch)
        if batch.status != Status.DRAFT:
            raise AlreadyDecided
        if not batch.items.exists():
            raise InvalidRequest("簿冊のない目録です。", "The batch has no files.")
        route = route_start(
            subject=batch,
            actor=actor,
            title=batch.title,
            department=records_department_of(batch),
            stages=disposal_route_propose(batch),
        )
        _move(batch, Status.IN_REVIEW, actor, route=route.pk)
    return route


def disposal_on_approved(*, batch: DisposalBatch, route: Route, actor: Staff) -> None:
    """Decided: the batch waits for execution, which runs after the commit."""
    with transaction.atomic():
        locked = _lock_batch(batch)
        _move(locked, Status.APPROVED, actor, route=route.pk)
        enqueue_on_commit(disposal_execute_task, locked.pk)
    batch.status = locked.status


def disposal_on_ended(*, batch: DisposalBatch, status: str, actor: Staff) -> None:
    """Rejected or withdrawn: the files are free again (and may be extended);
    returned (差戻し): the batch is a draft again and keeps its files."""
    with transaction.atomic():
        locked = _lock_batch(batch)
        _move(locked, status, actor)
        if status in (Status.REJECTED, Status.WITHDRAWN):
            RecordFile.objects.filter(
                pk__in=locked.items.values("file"), status=RecordFile.Status.IN_DISPOSAL
            ).update(status=RecordFile.Status.CLOSED)
    batch.status = locked.status


# --- execution ----------------------------------------------------------------------------


def approved_route(batch: DisposalBatch) -> Route | None:
    return (
        Route.objects.filter(
            subject_type=ContentType.objects.get_for_model(DisposalBatch),
            subject_id=batch.pk,
            status=Route.Status.APPROVED,
        )
        .order_by("-round")
        .first()
    )


def approvers_of(batch: DisposalBatch) -> str:
    """Who approved, for the 廃棄簿: the consenting 課長 and the decider, by name and post."""
    route = approved_route(batch)
    if route is None:
        return ""
    parts: dict[str, list[str]] = {"承諾": [], "決裁": []}
    steps = (
        Step.objects.filter(route=route, acted_by__isnull=False)
        .filter(Q(stage__kind=Stage.Kind.CONSULTATION) | Q(stage__kind=Stage.Kind.DECISION))
        .select_related("stage", "acted_by", "department", "post")
        .order_by("stage__position", "position")
    )
    for step in steps:
        post = (step.department.name if step.department else "") + (
            step.post.name if step.post else ""
        )
        who = f"{step.acted_by.display_name}（{post}）" if post else step.acted_by.display_name
        key = "決裁" if step.stage.kind == Stage.Kind.DECISION else "承諾"
        parts[key].append(who)
    return " / ".join(f"{k}: {'、'.join(v)}" for k, v in parts.items() if v)[:200]


def classification_path(classification: Classification) -> str:
    names: list[str] = []
    node: Classification | None = classification
    while node is not None:
        names.append(f"{node.code} {node.name}")
        node = node.parent
    return " > ".join(reversed(names))


def _storage_names(record: Record) -> set[str]:
    names = {v.file.name for v in record.versions.all() if v.file.name}
    if record.pdf.name:
        names.add(record.pdf.name)
    return names


def _destroy(item: DisposalItem, batch: DisposalBatch, approved_by: str) -> None:
    """廃棄 of one file: tombstones first, then the content; the rows stay."""
    file = (
        RecordFile.objects.select_for_update().select_related("classification").get(pk=item.file_id)
    )
    now = timezone.now()
    start, end = file_start_date(file), file_end_date(file)
    path = classification_path(file.classification)
    records = list(Record.objects.select_for_update().filter(file=file).order_by("pk"))
    # The file leaves retention first: only then may its records' content go (models).
    file.status = RecordFile.Status.DESTROYED
    file.save(update_fields=["status"])
    doomed: set[str] = set()
    for record in records:
        DisposalRegisterEntry.objects.get_or_create(
            batch=batch,
            record=record,
            defaults={
                "file": file,
                "title": record.title,
                "number": record.number,
                "classification": path[:300],
                "fiscal_year": file.fiscal_year,
                "start_date": start,
                "end_date": end,
                "sha256": record.sha256,
                "approved_by": approved_by,
                "destroyed_at": now,
            },
        )
        doomed |= _storage_names(record)
        # The source's own content (a document's body and attachments, a receipt's
        # upload) goes too; its rows stay as the tombstone.
        source = record.source
        destroy_source = getattr(source, "record_destroy_content", None)
        if destroy_source is not None:
            doomed |= destroy_source()
        if record.pdf.name:
            record.pdf = ""
            record.save(update_fields=["pdf"])
    # Content-addressed storage keeps equal bytes once: never delete what a record
    # outside this file still points to.
    others = Q(file__isnull=True) | ~Q(file=file)
    shared = set(Record.objects.filter(others, pdf__in=doomed).values_list("pdf", flat=True)) | set(
        RecordVersion.objects.filter(
            Q(record__file__isnull=True) | ~Q(record__file=file), file__in=doomed
        ).values_list("file", flat=True)
    )
    item.done_at = now
    item.save(update_fields=["done_at"])
    audit_record(
        actor=None,
        action="records.file.destroyed",
        target=file,
        data={
            "batch": batch.pk,
            "records": {str(r.pk): r.sha256 for r in records},
            "approved_by": approved_by,
        },
    )
    # Last, still inside the transaction: if the commit fails after this, a re-run
    # finds the item undone and finishes it (deleting a missing file is a no-op).
    for name in sorted(doomed - shared):
        default_storage.delete(name)


def _transfer(item: DisposalItem, batch: DisposalBatch) -> None:
    """移管 of one file: its records are in the batch's package; the content stays."""
    file = RecordFile.objects.select_for_update().get(pk=item.file_id)
    file.status = RecordFile.Status.TRANSFERRED
    file.save(update_fields=["status"])
    item.done_at = timezone.now()
    item.save(update_fields=["done_at"])
    audit_record(
        actor=None,
        action="records.file.transferred",
        target=file,
        data={"batch": batch.pk, "package": batch.package_path},
    )


def _execute_item(item_id: int, approved_by: str) -> bool:
    """One item in its own transaction, its row locked; False if it was already done
    or is held back by a hold opened since the decision."""
    with transaction.atomic():
        item = DisposalItem.objects.select_for_update().get(pk=item_id)
        if item.done_at is not None:
            return False
        batch = DisposalBatch.objects.get(pk=item.batch_id)
        file = RecordFile.objects.prefetch_related("holds").get(pk=item.file_id)
        if _open_holds(file, today()):
            audit_record(
                actor=None,
                action="records.disposal.item_held",
                target=batch,
                data={"file": file.pk},
            )
            return False
        if item.action == Disposition.DESTROY:
            _destroy(item, batch, approved_by)
        else:
            _transfer(item, batch)
    return True


def disposal_execute(*, batch: DisposalBatch | int) -> DisposalBatch:
    """Execute an approved batch; idempotent and resumable.

    Items go one by one, each in its own transaction; done items are skipped, so a run
    that stopped half way is finished by the next one without a second tombstone. The
    transfer package is built (or reused, if a complete one exists) before any
    移管 item is marked done.
    """
    with transaction.atomic():
        locked = _lock_batch(batch)
        if locked.status == Status.EXECUTED:
            return locked
        if locked.status == Status.APPROVED:
            _move(locked, Status.EXECUTING, None)
        elif locked.status != Status.EXECUTING:
            raise InvalidRequest(
                "承認済みの目録だけ執行できます。", "Only an approved batch can be executed."
            )
    approved_by = approvers_of(locked)
    pending = DisposalItem.objects.filter(batch=locked, done_at__isnull=True)
    if pending.filter(action=Disposition.TRANSFER).exists():
        package = transfer_package_ensure(batch=locked, approved_by=approved_by)
        if locked.package_path != str(package):
            with transaction.atomic():
                locked = _lock_batch(locked)
                locked.package_path = str(package)
                locked.save(update_fields=["package_path"])
    for item_id in list(pending.order_by("file_id").values_list("pk", flat=True)):
        _execute_item(item_id, approved_by)
    with transaction.atomic():
        locked = _lock_batch(locked)
        if (
            locked.status == Status.EXECUTING
            and not locked.items.filter(done_at__isnull=True).exists()
        ):
            _move(locked, Status.EXECUTED, None)
    return locked


@retrying_task(max_attempts=10, backoff_seconds=60, max_backoff_seconds=3600)
def disposal_execute_task(batch_id: int) -> str:
    return disposal_execute(batch=batch_id).status


def disposal_execute_enqueue(*, batch: DisposalBatch | int, actor: Staff) -> None:
    """Run (again) the execution of an approved batch, e.g. after a worker failure."""
    _require_officer(actor)
    with transaction.atomic():
        locked = _lock_batch(batch)
        if locked.status not in (Status.APPROVED, Status.EXECUTING):
            raise AlreadyDecided
        audit_record(actor=actor, action="records.disposal.execute_requested", target=locked)
        enqueue_on_commit(disposal_execute_task, locked.pk)


# --- the transfer package -------------------------------------------------------------------


def transfer_dir(batch: DisposalBatch) -> Path:
    return Path(settings.VAR_DIR) / "transfers" / f"batch-{batch.pk}"


def _record_name(record: Record) -> str:
    name = record.number or f"record-{record.pk}"
    return "".join("_" if c in '/\\:*?"<>|' or ord(c) < 32 else c for c in name)


def _record_metadata(record: Record, file: RecordFile, path: str) -> dict:
    return {
        "id": record.pk,
        "number": record.number,
        "title": record.title,
        "department": record.department.name,
        "confidential": record.confidential,
        "created_at": record.created_at.isoformat(),
        "signed_at": record.signed_at.isoformat() if record.signed_at else None,
        "signature_level": record.level,
        "sha256": record.sha256,
        "size": record.size,
        "file": {
            "id": file.pk,
            "name": file.name,
            "department": file.department.name,
            "fiscal_year": file.fiscal_year,
            "classification": path,
            "retention": file.get_retention_display(),
            "extension_years": file.extension_years,
            "disposition": file.get_disposition_display(),
            "creator_post": file.creator_post,
            "manager_post": file.manager_post,
            "completed_on": file.completed_on.isoformat() if file.completed_on else None,
            "start_date": (d.isoformat() if (d := file_start_date(file)) else None),
            "end_date": (d.isoformat() if (d := file_end_date(file)) else None),
        },
        "versions": [
            {"reason": v.reason, "sha256": v.sha256, "created_at": v.created_at.isoformat()}
            for v in record.versions.all()
        ],
    }


CSV_COLUMNS = [
    ("path", "ファイル"),
    ("number", "文書番号"),
    ("title", "件名"),
    ("department", "作成課"),
    ("file_name", "簿冊"),
    ("fiscal_year", "作成・取得年度"),
    ("classification", "文書分類"),
    ("retention", "保存期間"),
    ("start_date", "起算日"),
    ("end_date", "保存期間満了日"),
    ("sha256", "sha256"),
]


def _read_pdf(record: Record) -> bytes:
    with record.pdf.open("rb") as handle:
        data = handle.read()
    if hashlib.sha256(data).hexdigest() != record.sha256:
        raise ValueError(f"record {record.pk}: stored PDF does not match its sha256")
    return data


def _package_payload(batch: DisposalBatch) -> list[bagit.PayloadFile]:
    items = (
        DisposalItem.objects.filter(batch=batch, action=Disposition.TRANSFER)
        .select_related("file__department", "file__classification")
        .order_by("file_id")
    )
    payload: list[bagit.PayloadFile] = []
    rows: list[dict] = []
    for item in items:
        file = item.file
        path = classification_path(file.classification)
        records = (
            Record.objects.filter(file=file)
            .select_related("department")
            .prefetch_related("versions")
            .order_by("pk")
        )
        for record in records:
            if not record.pdf.name:
                raise ValueError(f"record {record.pk} has no signed PDF to transfer")
            name = _record_name(record)
            pdf_path = f"{file.pk}/{name}.pdf"
            meta = _record_metadata(record, file, path)
            payload.append(bagit.PayloadFile(pdf_path, content=_read_pdf(record)))
            payload.append(
                bagit.PayloadFile(
                    f"{file.pk}/{name}.json",
                    content=json.dumps(meta, ensure_ascii=False, indent=2).encode("utf-8"),
                )
            )
            rows.append(
                {
                    "path": f"data/{pdf_path}",
                    "number": record.number,
                    "title": record.title,
                    "department": record.department.name,
                    "file_name": file.name,
                    "fiscal_year": file.fiscal_year,
                    "classification": path,
                    "retention": meta["file"]["retention"],
                    "start_date": meta["file"]["start_date"] or "",
                    "end_date": meta["file"]["end_date"] or "",
                    "sha256": record.sha256,
                }
            )
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([label for _key, label in CSV_COLUMNS])
    for row in rows:
        writer.writerow([row[key] for key, _label in CSV_COLUMNS])
    payload.append(bagit.PayloadFile("metadata.csv", content=("\ufeff" + out.getvalue()).encode()))
    return payload


def transfer_package_ensure(*, batch: DisposalBatch, approved_by: str = "") -> Path:
    """The batch's BagIt package: reused when a complete, valid one is there; otherwise
    (re)built in a temporary directory and renamed into place."""
    target = transfer_dir(batch)
    if target.exists():
        if not bagit.bag_validate(target):
            return target
        log.warning("transfer package %s is invalid; rebuilding it", target)
        shutil.rmtree(target)
    department = records_department_of(batch)
    info: Sequence[tuple[str, str]] = [
        ("Source-Organization", getattr(settings, "CITY_NAME", "") or department.full_name),
        ("External-Identifier", f"disposal-batch-{batch.pk}"),
        (
            "External-Description",
            f"{batch.title}（{batch.fiscal_year}年度）の移管文書。"
            f"署名済み公文書 PDF と記録ごとのメタデータ（JSON）、一覧（data/metadata.csv）。"
            f"承認: {approved_by or '—'}",
        ),
        ("Internal-Sender-Identifier", f"batch-{batch.pk}"),
    ]
    return bagit.bag_write(target, payload=_package_payload(batch), info=info, bagging_date=today())
