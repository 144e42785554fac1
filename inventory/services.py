"""Every write of the operations inventory. One recipe for each (STYLE.md): check who
acts and what is asked → `transaction.atomic()` → lock the rows that change
(`select_for_update`) → save the listed fields → one audit event in the same transaction.
A row that may not exist yet is guarded by the row it belongs to (a year's counts by
their procedure, a paper count by its department); a new unique value with nothing to
lock (手続ID, 整理番号, a weights version's day) by its unique constraint, through
`refuse_if_taken`. tests/inventory/test_concurrency.py races each of them on PostgreSQL.

Who writes: the DX project team (role `dx_office`) and system administrators. Everyone
signed in may read the inventory (the ranking is meant to be transparent); the head of
the DX office decides priorities on the workflow engine like any other 決裁.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any
from xml.parsers import expat

from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.services import audit_record
from common.dates import fiscal_year, today
from org.models import Department, Staff
from org.roles import ADMIN, DX_OFFICE, has_role
from org.selectors import assignments_on
from workflow.errors import InvalidRequest, NotAllowed
from workflow.models import Stage
from workflow.services import StageSpec, StepSpec, route_start

from .models import (
    BusinessProcess,
    PaperDecisionCount,
    PriorityDecision,
    PriorityWeights,
    Procedure,
    ProcedureVolume,
    ProcessFlow,
)


class InventoryError(InvalidRequest):
    """An inventory rule refused the change (Japanese, then English)."""


MAX_FLOW_BYTES = 20 * 1024 * 1024


def can_edit(user: Any) -> bool:
    """The DX project team and administrators write; everyone else reads."""
    return bool(getattr(user, "is_superuser", False)) or (
        has_role(user, DX_OFFICE) or has_role(user, ADMIN)
    )


def require_editor(user: Any) -> None:
    if not can_edit(user):
        raise NotAllowed(
            "この操作はDX推進担当（dx_office）だけが行えます。",
            "Only the DX office (dx_office) may do this.",
        )


@contextmanager
def refuse_if_taken(taken: Callable[[], bool], ja: str, en: str) -> Iterator[None]:
    """Write a row with a unique value (手続ID, 整理番号, a weights version's start date).

    Checking first is not enough when two people send the same value at the same instant:
    both checks pass, and the database's unique constraint lets only one INSERT/UPDATE
    through (the other waits for it, then fails). The loser gets the same message as if
    the value had been taken before, not a server error; its own transaction goes on
    (the savepoint is rolled back) so the caller's `atomic` decides what is kept."""
    try:
        with transaction.atomic():
            yield
    except IntegrityError:
        if taken():
            raise InventoryError(ja, en) from None
        raise


def _id_taken(procedure_id: str) -> tuple[str, str]:
    return (
        f"手続ID「{procedure_id}」は既に登録されています。",
        "This procedure ID exists already.",
    )


def _value(v: Any) -> Any:
    if hasattr(v, "pk"):
        return v.pk
    if isinstance(v, Decimal):
        return str(v)
    return v


# --- procedures -------------------------------------------------------------------------

PROCEDURE_FIELDS = tuple(
    f.name
    for f in Procedure._meta.concrete_fields
    if f.name not in ("id", "extra", "created_at", "updated_at")
)


def _check_procedure(p: Procedure) -> None:
    if not p.procedure_id.strip():
        raise InventoryError("手続IDを入力してください。", "The procedure ID is required.")
    if not p.name.strip():
        raise InventoryError("手続名を入力してください。", "The procedure name is required.")
    if p.seal == "required" and not p.seal_basis:
        raise InventoryError(
            "押印が必要な場合は、その根拠（法令・条例・規則・要綱・慣行）を選んでください。",
            "Say where the seal is required (law, ordinance, guideline or custom).",
        )
    if p.source_category_id and p.source_key != "approvals.document":
        raise InventoryError(
            "事案の区分は、内部の処理が「起案文書の決裁」の場合だけ指定できます。",
            "A matter category applies to drafted documents only.",
        )


def procedure_create(*, actor: Staff, **values: Any) -> Procedure:
    require_editor(actor)
    unknown = set(values) - set(PROCEDURE_FIELDS)
    if unknown:
        raise InventoryError(
            f"登録できない項目です: {', '.join(sorted(unknown))}", "Unknown fields."
        )
    now = timezone.now()
    procedure = Procedure(**values, created_at=now, updated_at=now)
    _check_procedure(procedure)
    taken = Procedure.objects.filter(procedure_id=procedure.procedure_id).exists
    with transaction.atomic():
        if taken():
            raise InventoryError(*_id_taken(procedure.procedure_id))
        with refuse_if_taken(taken, *_id_taken(procedure.procedure_id)):
            procedure.save()
        audit_record(
            actor=actor,
            action="inventory.procedure.created",
            target=procedure,
            data={"new": {f: _value(getattr(procedure, f)) for f in values}},
        )
    return procedure


def procedure_update(*, procedure: Procedure | int, actor: Staff, **changes: Any) -> Procedure:
    require_editor(actor)
    unknown = set(changes) - set(PROCEDURE_FIELDS)
    if unknown:
        raise InventoryError(f"変更できない項目です: {', '.join(sorted(unknown))}", "Not editable.")
    pk = procedure.pk if isinstance(procedure, Procedure) else procedure
    with transaction.atomic():
        locked = Procedure.objects.select_for_update().get(pk=pk)
        old = {f: _value(getattr(locked, f)) for f in changes}
        for name, value in changes.items():
            setattr(locked, name, value)
        _check_procedure(locked)
        taken = Procedure.objects.filter(procedure_id=locked.procedure_id).exclude(pk=pk).exists
        if "procedure_id" in changes and taken():
            raise InventoryError(*_id_taken(locked.procedure_id))
        locked.updated_at = timezone.now()
        with refuse_if_taken(taken, *_id_taken(locked.procedure_id)):
            locked.save(update_fields=[*changes, "updated_at"])
        audit_record(
            actor=actor,
            action="inventory.procedure.updated",
            target=locked,
            data={"old": old, "new": {f: _value(getattr(locked, f)) for f in changes}},
        )
    return locked


def check_volume(total: int | None, online: int | None, offline: int | None) -> str | None:
    """The problem with three counts, or None. Counts may be unknown (None)."""
    for value in (total, online, offline):
        if value is not None and value < 0:
            return "件数は0以上の整数で入力してください (counts must be 0 or more)"
    if total is not None:
        if online is not None and online > total:
            return "オンライン件数が総手続件数を超えています (online exceeds the total)"
        if offline is not None and offline > total:
            return "非オンライン件数が総手続件数を超えています (offline exceeds the total)"
        if online is not None and offline is not None and online + offline != total:
            return (
                f"オンライン {online} と非オンライン {offline} の合計が総手続件数 {total} と"
                "一致しません (online + offline must equal the total)"
            )
    return None


def volume_set(
    *,
    procedure: Procedure | int,
    actor: Staff,
    fiscal_year: int,
    total: int | None,
    online: int | None,
    offline: int | None,
) -> ProcedureVolume:
    """Record the counts of one fiscal year (self-reported; replaces that year's row)."""
    require_editor(actor)
    if problem := check_volume(total, online, offline):
        ja, _sep, en = problem.partition(" (")
        raise InventoryError(ja, en.rstrip(")"))
    if not 2000 <= fiscal_year <= 2100:
        raise InventoryError("年度が範囲外です。", "Fiscal year out of range.")
    pk = procedure.pk if isinstance(procedure, Procedure) else procedure
    with transaction.atomic():
        locked = Procedure.objects.select_for_update().get(pk=pk)
        row = (
            ProcedureVolume.objects.select_for_update()
            .filter(procedure=locked, fiscal_year=fiscal_year)
            .first()
        )
        old = None if row is None else [row.total, row.online, row.offline]
        if row is None:
            row = ProcedureVolume(procedure=locked, fiscal_year=fiscal_year)
        row.total, row.online, row.offline = total, online, offline
        row.save()
        audit_record(
            actor=actor,
            action="inventory.volume.set",
            target=locked,
            data={"fiscal_year": fiscal_year, "old": old, "new": [total, online, offline]},
        )
    return row


# --- weights and paper decisions --------------------------------------------------------

WEIGHT_FIELDS = (
    "expected_online_share",
    "staff_saving_share",
    "resident_saving_share",
    "base_difficulty",
    "w_law_change",
    "w_seal_certificate",
    "w_paper_original",
    "w_no_online_payment",
    "w_in_person",
    "w_no_system",
    "national_multiplier",
    "effect_threshold",
    "difficulty_threshold",
)
SHARE_FIELDS = ("expected_online_share", "staff_saving_share", "resident_saving_share")


def weights_in_force(day: dt.date | None = None) -> PriorityWeights | None:
    return (
        PriorityWeights.objects.filter(valid_from__lte=day or today())
        .select_related("dx_department")
        .order_by("-valid_from")
        .first()
    )


def weights_new_version(
    *,
    actor: Staff,
    valid_from: dt.date,
    note: str = "",
    dx_department: Department | None = None,
    **weights: Any,
) -> PriorityWeights:
    """A new dated version of the weights; versions already in force are never edited."""
    require_editor(actor)
    unknown = set(weights) - set(WEIGHT_FIELDS)
    if unknown:
        raise InventoryError(f"不明な項目: {', '.join(sorted(unknown))}", "Unknown weights.")
    clean: dict[str, Decimal] = {}
    for name, value in weights.items():
        try:
            number = Decimal(str(value))
        except InvalidOperation as exc:
            raise InventoryError(f"{name} は数値で入力してください。", "Not a number.") from exc
        if number < 0 or (name in SHARE_FIELDS and number > 1):
            raise InventoryError(
                f"{name} の値が範囲外です（割合は0〜1、重みは0以上）。",
                "Out of range (shares 0–1, weights 0 or more).",
            )
        clean[name] = number
    taken = PriorityWeights.objects.filter(valid_from=valid_from).exists
    message = (
        f"{valid_from} から適用する版は既にあります。別の日付を指定してください。",
        "A version starting that day exists already.",
    )
    with transaction.atomic():
        if taken():
            raise InventoryError(*message)
        # No row to lock yet: two versions for the same day meet at the unique start date.
        with refuse_if_taken(taken, *message):
            row = PriorityWeights.objects.create(
                valid_from=valid_from,
                note=note[:300],
                dx_department=dx_department,
                created_by=actor,
                created_at=timezone.now(),
                **clean,
            )
        audit_record(
            actor=actor,
            action="inventory.weights.created",
            target=row,
            data={
                "valid_from": valid_from,
                "new": {f: str(getattr(row, f)) for f in WEIGHT_FIELDS},
                "dx_department": dx_department.pk if dx_department else None,
            },
        )
    return row


def paper_count_set(
    *, actor: Staff, department: Department, fiscal_year: int, count: int
) -> PaperDecisionCount:
    """Record how many decisions a department still made on paper in a fiscal year."""
    require_editor(actor)
    if count < 0:
        raise InventoryError("件数は0以上で入力してください。", "The count must be 0 or more.")
    with transaction.atomic():
        # The department's row stands for the count that may not exist yet (two first
        # entries at once would otherwise both INSERT); NO KEY UPDATE leaves rows that
        # merely refer to the department (documents, assignments) free to be written.
        Department.objects.select_for_update(no_key=True).filter(pk=department.pk).first()
        row = (
            PaperDecisionCount.objects.select_for_update()
            .filter(department=department, fiscal_year=fiscal_year)
            .first()
        )
        old = row.count if row else None
        if row is None:
            row = PaperDecisionCount(department=department, fiscal_year=fiscal_year)
        row.count, row.updated_by, row.updated_at = count, actor, timezone.now()
        row.save()
        audit_record(
            actor=actor,
            action="inventory.paper_decisions.set",
            target=row,
            data={
                "department": department.pk,
                "fiscal_year": fiscal_year,
                "old": old,
                "new": count,
            },
        )
    return row


# --- business processes --------------------------------------------------------------

PROCESS_FIELDS = tuple(
    f.name
    for f in BusinessProcess._meta.concrete_fields
    if f.name not in ("id", "created_at", "updated_at")
)


def _check_process(p: BusinessProcess) -> None:
    if not p.number.strip() or not p.name.strip():
        raise InventoryError(
            "整理番号と業務名を入力してください。", "The number and the name are required."
        )
    if p.source_category_id and p.source_key != "approvals.document":
        raise InventoryError(
            "事案の区分は、内部の処理が「起案文書の決裁」の場合だけ指定できます。",
            "A matter category applies to drafted documents only.",
        )


def process_save(
    *,
    actor: Staff,
    process: BusinessProcess | int | None = None,
    procedures: list[Procedure] | None = None,
    **values: Any,
) -> BusinessProcess:
    """Create (process=None) or change a business process and the procedures it serves."""
    require_editor(actor)
    unknown = set(values) - set(PROCESS_FIELDS)
    if unknown:
        raise InventoryError(f"不明な項目: {', '.join(sorted(unknown))}", "Unknown fields.")
    now = timezone.now()
    with transaction.atomic():
        if process is None:
            row = BusinessProcess(**values, created_at=now, updated_at=now)
            old: dict[str, Any] = {}
            duplicate = BusinessProcess.objects.filter(number=row.number)
        else:
            pk = process.pk if isinstance(process, BusinessProcess) else process
            row = BusinessProcess.objects.select_for_update().get(pk=pk)
            old = {f: _value(getattr(row, f)) for f in values}
            for name, value in values.items():
                setattr(row, name, value)
            row.updated_at = now
            duplicate = BusinessProcess.objects.filter(number=row.number).exclude(pk=pk)
        _check_process(row)
        message = (f"整理番号「{row.number}」は既に使われています。", "This number is taken.")
        if duplicate.exists():
            raise InventoryError(*message)
        with refuse_if_taken(duplicate.exists, *message):
            row.save()
        old_procedures = sorted(row.procedures.values_list("pk", flat=True)) if old else []
        if procedures is not None:
            row.procedures.set(procedures)
        audit_record(
            actor=actor,
            action="inventory.process.updated" if old else "inventory.process.created",
            target=row,
            data={
                "old": {**old, "procedures": old_procedures} if old else None,
                "new": {
                    **{f: _value(getattr(row, f)) for f in values},
                    "procedures": sorted(p.pk for p in procedures or []),
                },
            },
        )
    return row


class _RefuseDTD(Exception):
    pass


@dataclass(frozen=True)
class BpmnSummary:
    processes: int
    tasks: int
    events: int
    gateways: int

    def as_dict(self) -> dict[str, int]:
        return {
            "processes": self.processes,
            "tasks": self.tasks,
            "events": self.events,
            "gateways": self.gateways,
        }


BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"


def bpmn_check(data: bytes) -> BpmnSummary:
    """Parse BPMN 2.0 XML safely: any DOCTYPE, entity declaration or external reference is
    refused before it can expand (billion laughs, XXE), as defusedxml does; the root must
    be BPMN's <definitions>. Returns what the diagram holds, for the page."""
    parser = expat.ParserCreate(namespace_separator=" ")
    counts = {"process": 0, "task": 0, "event": 0, "gateway": 0}
    root: list[str] = []

    def refuse(*_args: Any) -> None:
        raise _RefuseDTD

    def start(name: str, _attrs: dict) -> None:
        ns, _sep, local = name.rpartition(" ")
        if not root:
            root.append(name)
        if ns != BPMN_NS:
            return
        lowered = local.lower()
        if local == "process":
            counts["process"] += 1
        elif lowered.endswith("task") or local in ("subProcess", "callActivity"):
            counts["task"] += 1
        elif lowered.endswith("event"):
            counts["event"] += 1
        elif lowered.endswith("gateway"):
            counts["gateway"] += 1

    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    parser.UnparsedEntityDeclHandler = refuse
    parser.ExternalEntityRefHandler = refuse
    parser.StartElementHandler = start
    try:
        parser.Parse(data, True)
    except _RefuseDTD as exc:
        raise InventoryError(
            "XML に DOCTYPE・エンティティ宣言があるため受け付けません。",
            "XML with a DOCTYPE or entity declarations is refused.",
        ) from exc
    except expat.ExpatError as exc:
        raise InventoryError(
            f"XML として読めません（{expat.ErrorString(exc.code)}、{exc.lineno}行目）。",
            f"Not well-formed XML (line {exc.lineno}).",
        ) from exc
    if not root or root[0] != f"{BPMN_NS} definitions":
        raise InventoryError(
            "BPMN 2.0 の XML ではありません（ルート要素が bpmn:definitions ではありません）。",
            "Not BPMN 2.0 XML (the root is not bpmn:definitions).",
        )
    return BpmnSummary(counts["process"], counts["task"], counts["event"], counts["gateway"])


def flow_add(
    *, process: BusinessProcess | int, actor: Staff, kind: str, upload: UploadedFile
) -> ProcessFlow:
    """Attach a current or revised flow; a .bpmn/.xml file must be safe, valid BPMN XML."""
    require_editor(actor)
    if kind not in ProcessFlow.Kind.values:
        raise InventoryError("フローの種別を選んでください。", "Choose the kind of flow.")
    if not upload.size:
        raise InventoryError("空のファイルは登録できません。", "The file is empty.")
    if upload.size > MAX_FLOW_BYTES:
        raise InventoryError(
            "ファイルが大きすぎます（20 MB まで）。", "The file is too large (20 MB at most)."
        )
    data = b"".join(upload.chunks())
    name = (upload.name or "flow")[:255]
    is_bpmn = name.lower().endswith((".bpmn", ".xml")) or data.lstrip().startswith(b"<?xml")
    summary = bpmn_check(data).as_dict() if is_bpmn else {}
    sha256 = hashlib.sha256(data).hexdigest()
    upload.seek(0)
    pk = process.pk if isinstance(process, BusinessProcess) else process
    with transaction.atomic():
        locked = BusinessProcess.objects.select_for_update().get(pk=pk)
        flow = ProcessFlow(
            process=locked,
            kind=kind,
            original_name=name,
            content_type=(upload.content_type or "")[:100],
            size=len(data),
            sha256=sha256,
            is_bpmn=is_bpmn,
            bpmn_summary=summary,
            uploaded_by=actor,
            uploaded_at=timezone.now(),
        )
        existing = ProcessFlow.objects.filter(sha256=sha256).exclude(file="").first()
        if existing is not None:
            flow.file.name = existing.file.name
        else:
            flow.file.save(sha256, upload, save=False)
        flow.save()
        audit_record(
            actor=actor,
            action="inventory.flow.added",
            target=locked,
            data={"flow": flow.pk, "kind": kind, "name": name, "sha256": sha256, **summary},
        )
    return flow


# --- priority decisions on the workflow engine --------------------------------------------


def dx_head_step(actor: Staff, day: dt.date | None = None) -> tuple[StepSpec, Department]:
    """The head of the DX office: the most senior manager post in the DX department of
    the weights in force, or else in the proposer's own 課."""
    day = day or today()
    weights = weights_in_force(day)
    department = weights.dx_department if weights and weights.dx_department_id else None
    if department is None:
        assignment = actor.assignment_on(day)
        if assignment is None:
            raise InventoryError(
                "所属が登録されていないため提案できません。", "You have no department."
            )
        department = assignment.department
        if department.level == Department.Level.KAKARI and department.parent_id:
            department = department.parent
    head = (
        assignments_on(day)
        .filter(department=department, post__is_manager=True)
        .order_by("post__rank")
        .first()
    )
    if head is None:
        raise InventoryError(
            f"{department.name}の長がいないため、決定を回せません。",
            "The DX office has no head to decide.",
        )
    return StepSpec(post=head.post, department=department), department


def decision_propose(
    *,
    actor: Staff,
    procedure: Procedure | int,
    rank: int,
    reason: str,
    score_snapshot: dict[str, Any],
    fiscal_year_: int | None = None,
) -> PriorityDecision:
    """Propose a rank with its reason; the route goes to the head of the DX office, who
    decides (決裁). The computed score at this moment is kept beside it, not replacing it."""
    require_editor(actor)
    if rank < 1:
        raise InventoryError("優先順位は1以上で入力してください。", "The rank must be 1 or more.")
    if not reason.strip():
        raise InventoryError("理由を入力してください。", "Give a reason.")
    step, department = dx_head_step(actor)
    pk = procedure.pk if isinstance(procedure, Procedure) else procedure
    with transaction.atomic():
        locked = Procedure.objects.select_for_update().get(pk=pk)
        if PriorityDecision.objects.filter(
            procedure=locked, status=PriorityDecision.Status.IN_REVIEW
        ).exists():
            raise InventoryError(
                "この手続には決裁中の優先順位案があります。",
                "A proposal for this procedure is already being decided.",
            )
        decision = PriorityDecision.objects.create(
            procedure=locked,
            fiscal_year=fiscal_year_ or fiscal_year(today()),
            rank=rank,
            reason=reason.strip(),
            score_snapshot=score_snapshot,
            proposed_by=actor,
            proposed_at=timezone.now(),
        )
        audit_record(
            actor=actor,
            action="inventory.decision.proposed",
            target=decision,
            data={"procedure": locked.pk, "rank": rank, "score": score_snapshot},
        )
        route_start(
            subject=decision,
            actor=actor,
            title=decision.workflow_title(),
            department=department,
            stages=[StageSpec(Stage.Kind.DECISION, [step])],
        )
    return decision


def decision_on_closed(*, decision: PriorityDecision, status: str, actor: Staff) -> None:
    """The engine's hook, inside its transaction with the route locked."""
    locked = PriorityDecision.objects.select_for_update().get(pk=decision.pk)
    if not locked.can_move_to(status):
        raise InventoryError(
            "この優先順位案の状態は変更できません。", "This proposal cannot change state now."
        )
    old = locked.status
    locked.status = status
    fields = ["status"]
    if status == PriorityDecision.Status.DECIDED:
        locked.decided_by, locked.decided_at = actor, timezone.now()
        fields += ["decided_by", "decided_at"]
    locked.save(update_fields=fields)
    decision.status = status
    audit_record(
        actor=actor,
        action=f"inventory.decision.{status}",
        target=locked,
        data={"old": old, "new": status, "rank": locked.rank},
    )


def may_see_decision(decision: PriorityDecision, user: Any) -> bool:
    """Decisions are as open as the ranking: every signed-in member of staff may read."""
    return bool(getattr(user, "is_authenticated", False))


def route_of(decision: PriorityDecision):
    from django.contrib.contenttypes.models import ContentType

    from workflow.models import Route

    return (
        Route.objects.filter(
            subject_type=ContentType.objects.get_for_model(PriorityDecision),
            subject_id=decision.pk,
        )
        .order_by("-round")
        .first()
    )


def decision_withdraw(*, decision: PriorityDecision, actor: Staff, comment: str = "") -> None:
    from workflow.services import route_withdraw

    route = route_of(decision)
    if route is None:
        raise InventoryError("回議中ではありません。", "Not on a route.")
    if route.submitted_by_id != actor.pk:
        raise NotAllowed("取下げできるのは提案者だけです。", "Only the proposer may withdraw.")
    route_withdraw(route=route, actor=actor, comment=comment)
