"""Reads for the inventory pages, shaped so that a page costs the same number of queries
with 100 procedures or 5,000: lists are one query plus paging, the ranking reads every
procedure once (values only, no instances per related row) and scores in Python, the
dashboard aggregates in the database where it can and otherwise reads one flat list.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from django.db.models import (
    Case,
    CharField,
    Count,
    F,
    FilteredRelation,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    TextField,
    Value,
    When,
)
from django.db.models.functions import Cast
from django.urls import reverse

from common.dates import fiscal_year, today
from org.models import Department

from .measured import electronic_decisions
from .models import (
    LAW_CHANGE_CONCERNS,
    AttachmentKind,
    AttachmentStatus,
    Concern,
    Fee,
    IdentityCheck,
    OnlineStatus,
    PaperDecisionCount,
    PriorityDecision,
    Procedure,
    ProcedureVolume,
    Seal,
    lacks_online_payment,
    lacks_system,
)
from .scoring import Inputs, Score, Scorer, Weights
from .services import weights_in_force


def reference_fiscal_year() -> int:
    """The year whose counts the pages use: the latest with any counts, else last year."""
    latest = (
        ProcedureVolume.objects.order_by("-fiscal_year")
        .values_list("fiscal_year", flat=True)
        .first()
    )
    return latest if latest is not None else fiscal_year(today()) - 1


def volume_years(limit: int = 5) -> list[int]:
    years = list(
        ProcedureVolume.objects.order_by("-fiscal_year")
        .values_list("fiscal_year", flat=True)
        .distinct()[:limit]
    )
    return sorted(years)


def procedure_list(
    *,
    q: str = "",
    department: Department | None = None,
    online_status: str = "",
    national: bool = False,
    fiscal_year_: int | None = None,
) -> QuerySet[Procedure]:
    fy = fiscal_year_ or reference_fiscal_year()
    year = ProcedureVolume.objects.filter(procedure=OuterRef("pk"), fiscal_year=fy)
    qs = (
        Procedure.objects.select_related("department")
        .annotate(
            cases=Subquery(year.values("total")[:1]),
            online_cases=Subquery(year.values("online")[:1]),
        )
        .order_by("procedure_id")
    )
    if q:
        qs = qs.filter(
            Q(name__icontains=q) | Q(procedure_id__icontains=q) | Q(law_name__icontains=q)
        )
    if department is not None:
        qs = qs.filter(department=department)
    if online_status:
        qs = qs.filter(online_status=online_status)
    if national:
        qs = qs.filter(
            Q(on_childcare_care_list=True)
            | Q(on_disaster_list=True)
            | Q(on_moving_list=True)
            | Q(on_priority_list=True)
        )
    return qs


# --- ranking -----------------------------------------------------------------------------


class RankedProcedure(NamedTuple):
    """What the ranking shows of a procedure, read as plain values (not a model)."""

    pk: int
    procedure_id: str
    name: str
    department_name: str | None

    def get_absolute_url(self) -> str:
        return reverse("inventory:procedure", args=[self.pk])


@dataclass(slots=True)
class Ranked:
    position: int
    procedure: RankedProcedure
    score: Score
    decided_rank: int | None
    moved: int = 0  # places gained (+) or lost (−) under a what-if


def decided_ranks() -> dict[int, int]:
    """The latest decided rank of each procedure (the human decision)."""
    ranks: dict[int, int] = {}
    for procedure_id, rank in (
        PriorityDecision.objects.filter(status=PriorityDecision.Status.DECIDED)
        .order_by("procedure_id", "-decided_at", "-pk")
        .values_list("procedure_id", "rank")
    ):
        ranks.setdefault(procedure_id, rank)
    return ranks


def current_weights(overrides: dict[str, Any] | None = None) -> Weights:
    weights = Weights.from_row(weights_in_force())
    return weights.with_changes(**overrides) if overrides else weights


# Yes/no columns read as text ("1" or ""), and the payment methods as their JSON text
# (decoded only when a fee is due): booleans and JSON would each cost a conversion per
# row, which is most of the time of a ranking of thousands of procedures.
_YES = Value("1")
_NO = Value("")
_NATIONAL = Case(
    When(
        Q(on_childcare_care_list=True)
        | Q(on_disaster_list=True)
        | Q(on_moving_list=True)
        | Q(on_priority_list=True),
        then=_YES,
    ),
    default=_NO,
    output_field=CharField(),
)
_IN_PERSON = Case(When(in_person_required=True, then=_YES), default=_NO, output_field=CharField())


def _ranking_rows(fy: int, department: Department | None) -> QuerySet:
    """One query: the columns the score and the table need, and the year's cases."""
    qs = Procedure.objects.order_by()
    if department is not None:
        qs = qs.filter(department=department)
    return qs.annotate(
        year=FilteredRelation("volumes", condition=Q(volumes__fiscal_year=fy)),
        national=_NATIONAL,
        in_person=_IN_PERSON,
        payments=Cast("payment_methods", TextField()),
    ).values_list(
        "pk",
        "procedure_id",
        "name",
        "department__name",
        "year__total",
        "staff_minutes",
        "resident_minutes",
        "online_status",
        "concern",
        "identity_check",
        "fee",
        "payments",
        "system_application",
        "national",
        "in_person",
    )


def ranking(
    *, weights: Weights, fiscal_year_: int | None = None, department: Department | None = None
) -> list[Ranked]:
    """Every procedure scored and sorted: highest priority first, then 手続ID.

    Scores plain value rows with the rules of the model's properties (`Inputs.of` on an
    instance gives the same inputs; tests/inventory/test_ranking.py holds them equal)."""
    fy = fiscal_year_ or reference_fiscal_year()
    scorer = Scorer(weights)
    done, seal, paper, paid = (
        OnlineStatus.DONE.value,
        IdentityCheck.SEAL_AND_CERTIFICATE.value,
        Concern.PAPER_ORIGINAL.value,
        Fee.PAID.value,
    )
    decided = decided_ranks()
    rows: list[Ranked] = []
    for (
        pk,
        procedure_id,
        name,
        department_name,
        cases,
        staff_minutes,
        resident_minutes,
        status,
        concern,
        identity_check,
        fee,
        payments,
        system_application,
        national,
        in_person,
    ) in _ranking_rows(fy, department):
        is_online = status == done
        inputs = Inputs(
            cases or 0,
            staff_minutes,
            resident_minutes,
            is_online,
            bool(national),
            concern in LAW_CHANGE_CONCERNS,
            identity_check == seal,
            concern == paper,
            fee == paid and lacks_online_payment(fee, json.loads(payments or "[]")),
            bool(in_person),
            lacks_system(concern, is_online, system_application),
        )
        procedure = RankedProcedure(pk, procedure_id, name, department_name)
        rows.append(Ranked(0, procedure, scorer(inputs), decided.get(pk)))
    rows.sort(key=_ranking_order)
    for position, row in enumerate(rows, start=1):
        row.position = position
    return rows


def _ranking_order(row: Ranked) -> tuple[float, float, str]:
    return (-row.score.priority, -row.score.effect, row.procedure.procedure_id)


# --- KPIs --------------------------------------------------------------------------------


@dataclass
class Rate:
    numerator: float
    denominator: float

    @property
    def share(self) -> float | None:
        return self.numerator / self.denominator if self.denominator else None

    @property
    def percent(self) -> str:
        s = self.share
        return "—" if s is None else f"{s * 100:.1f}%"


@dataclass
class DepartmentKpi:
    department_id: int | None
    name: str
    procedures: Rate = field(default_factory=lambda: Rate(0, 0))  # オンライン化率
    cases: Rate = field(default_factory=lambda: Rate(0, 0))  # オンライン利用率
    seal: Rate = field(default_factory=lambda: Rate(0, 0))  # 押印廃止率
    attachments: Rate = field(default_factory=lambda: Rate(0, 0))  # 添付書類撤廃率
    decisions: Rate = field(default_factory=lambda: Rate(0, 0))  # 電子決裁率
    hours_saved: float = 0.0


@dataclass
class YearKpi:
    fiscal_year: int
    procedures: Rate
    cases: Rate
    hours_saved: float
    decisions: Rate


@dataclass
class Dashboard:
    fiscal_year: int
    total: DepartmentKpi
    departments: list[DepartmentKpi]
    years: list[YearKpi]
    weights: Weights


def _has_attachments(attachments: list[str]) -> bool:
    return any(a != AttachmentKind.NONE for a in attachments)


def dashboard(*, fiscal_year_: int | None = None) -> Dashboard:
    """The KPIs for the DX project team, in total, by 所管課 and over fiscal years.

    - オンライン化率: procedures 実施済 / all procedures (now);
    - オンライン利用率: online cases / all cases in the year;
    - hours saved: online cases × (staff minutes × share + resident minutes × share) / 60;
    - 押印廃止率: seals abolished / (abolished + still required);
    - 添付書類撤廃率: procedures with attachments whose status includes 撤廃・省略済 /
      procedures with attachments;
    - 電子決裁率: documents decided on the engine / (those + paper decisions recorded).
    """
    fy = fiscal_year_ or reference_fiscal_year()
    weights = current_weights()
    names, order = {}, {}
    for pk, name, code in Department.objects.values_list("pk", "name", "code"):
        names[pk], order[pk] = name, code
    by_dept: dict[int | None, DepartmentKpi] = {}

    def kpi(dept_id: int | None) -> DepartmentKpi:
        if dept_id not in by_dept:
            by_dept[dept_id] = DepartmentKpi(dept_id, names.get(dept_id, "（所管課なし）"))
        return by_dept[dept_id]

    total = DepartmentKpi(None, "全体")
    rows = Procedure.objects.values_list(
        "department_id", "online_status", "seal", "attachments", "attachment_status"
    )
    for dept_id, status, seal, attachments, att_status in rows.iterator(chunk_size=5000):
        for k in (kpi(dept_id), total):
            k.procedures.denominator += 1
            k.procedures.numerator += status == OnlineStatus.DONE
            if seal in (Seal.REQUIRED, Seal.ABOLISHED):
                k.seal.denominator += 1
                k.seal.numerator += seal == Seal.ABOLISHED
            if _has_attachments(attachments or []):
                k.attachments.denominator += 1
                k.attachments.numerator += AttachmentStatus.ABOLISHED in (att_status or [])
    # Cases and hours saved, per department and per year: one aggregate query.
    volume_rows = (
        ProcedureVolume.objects.values("fiscal_year", "procedure__department_id")
        .order_by()
        .annotate(
            sum_total=Sum("total"),
            sum_online=Sum("online"),
            staff=Sum(F("online") * F("procedure__staff_minutes")),
            resident=Sum(F("online") * F("procedure__resident_minutes")),
        )
    )
    years: dict[int, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for r in volume_rows:
        hours = (
            (r["staff"] or 0) * weights.staff_saving_share
            + (r["resident"] or 0) * weights.resident_saving_share
        ) / 60
        y = years[r["fiscal_year"]]
        y["total"] += r["sum_total"] or 0
        y["online"] += r["sum_online"] or 0
        y["hours"] += hours
        if r["fiscal_year"] == fy:
            for k in (kpi(r["procedure__department_id"]), total):
                k.cases.denominator += r["sum_total"] or 0
                k.cases.numerator += r["sum_online"] or 0
                k.hours_saved += hours
    # Procedures with any online case, per year (the オンライン化率 of that year).
    online_by_year = dict(
        ProcedureVolume.objects.filter(online__gt=0)
        .values("fiscal_year")
        .order_by()
        .annotate(n=Count("pk"))
        .values_list("fiscal_year", "n")
    )
    counted_by_year = dict(
        ProcedureVolume.objects.values("fiscal_year")
        .order_by()
        .annotate(n=Count("pk"))
        .values_list("fiscal_year", "n")
    )
    year_list = sorted(years)[-5:] or [fy]
    paper = defaultdict(int)
    paper_by_dept: dict[int, int] = {}
    for dept_id, year, count in PaperDecisionCount.objects.filter(
        fiscal_year__in=year_list
    ).values_list("department_id", "fiscal_year", "count"):
        paper[year] += count
        if year == fy:
            paper_by_dept[dept_id] = count
    year_kpis = []
    for year in year_list:
        electronic = electronic_decisions(fiscal_year=year)
        n_electronic = sum(electronic.values())
        if year == fy:
            for dept_id in set(electronic) | set(paper_by_dept):
                k = kpi(dept_id)
                k.decisions = Rate(
                    electronic.get(dept_id, 0),
                    electronic.get(dept_id, 0) + paper_by_dept.get(dept_id, 0),
                )
            total.decisions = Rate(n_electronic, n_electronic + sum(paper_by_dept.values()))
        y = years.get(year, {})
        year_kpis.append(
            YearKpi(
                fiscal_year=year,
                procedures=Rate(online_by_year.get(year, 0), counted_by_year.get(year, 0)),
                cases=Rate(y.get("online", 0), y.get("total", 0)),
                hours_saved=y.get("hours", 0.0),
                decisions=Rate(n_electronic, n_electronic + paper[year]),
            )
        )
    departments = sorted(
        (k for k in by_dept.values()),
        key=lambda k: (k.department_id is None, order.get(k.department_id, "")),
    )
    return Dashboard(fy, total, departments, year_kpis, weights)
