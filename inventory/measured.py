"""Measured, not typed: volumes and lead times of the processes that run inside this
suite, read from the workflow engine's own event log (Route, Action).

A case is one subject (a 起案文書 of a matter category, a leave request, an overtime
order, a disposal batch) whose route reached a final answer (決裁 or 却下) in the fiscal
year, counted by the day of that answer (Asia/Tokyo). Its lead time runs from the first
submission of the subject (round 1, so a return and resubmission count in full) to the
final answer. Everything runs through the suite, so the online share is 100 %.

Per step: each approving or deciding action is timed from the event before it on the
same route (the submission or the previous action), which is how process-mining tools
read an event log; steps are named by their stage position, kind and post.

Percentiles: the median is the middle value (the mean of the two middle values for an
even count); p90 is the nearest rank, the ⌈0.9·n⌉-th value in ascending order, so it is
always one of the measured lead times.
"""

from __future__ import annotations

import datetime as dt
import math
import statistics
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from django.contrib.contenttypes.models import ContentType
from django.db.models import Count

from common.dates import fiscal_year_end, fiscal_year_start
from workflow.models import Action, Route, Stage

from .models import INTERNAL_SOURCES

TOKYO = ZoneInfo("Asia/Tokyo")
FINAL = (Route.Status.APPROVED, Route.Status.REJECTED)
TIMED_KINDS = (
    Action.Kind.APPROVE,
    Action.Kind.DECIDE,
    Action.Kind.RETURN,
    Action.Kind.REJECT,
    Action.Kind.PULL_UP,
)
# Actions that mark a moment on the route (a comment or a 供覧 confirmation does not).
EVENT_KINDS = (Action.Kind.SUBMIT, *TIMED_KINDS, Action.Kind.WITHDRAW_APPROVAL)


def median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def p90(values: list[float]) -> float | None:
    """Nearest rank: the ⌈0.9·n⌉-th smallest value."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(math.ceil(0.9 * len(ordered)), 1) - 1]


@dataclass
class StepTiming:
    label: str
    hours: list[float] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.hours)

    @property
    def median(self) -> float | None:
        return median(self.hours)

    @property
    def p90(self) -> float | None:
        return p90(self.hours)


@dataclass
class Measured:
    source: str
    label: str
    fiscal_year: int
    lead_hours: list[float] = field(default_factory=list)
    decided: int = 0
    rejected: int = 0
    steps: list[StepTiming] = field(default_factory=list)

    @property
    def cases(self) -> int:
        return len(self.lead_hours)

    @property
    def online(self) -> int:
        return self.cases  # every case was filed and decided in the suite

    @property
    def online_share(self) -> float | None:
        return 1.0 if self.cases else None

    @property
    def median_hours(self) -> float | None:
        return median(self.lead_hours)

    @property
    def p90_hours(self) -> float | None:
        return p90(self.lead_hours)


def _fy_bounds(fy: int) -> tuple[dt.datetime, dt.datetime]:
    start = dt.datetime.combine(fiscal_year_start(fy), dt.time(0, 0), tzinfo=TOKYO)
    end = dt.datetime.combine(
        fiscal_year_end(fy) + dt.timedelta(days=1), dt.time(0, 0), tzinfo=TOKYO
    )
    return start, end


def _hours(delta: dt.timedelta) -> float:
    return delta.total_seconds() / 3600


def source_content_type(source: str) -> ContentType:
    if source not in INTERNAL_SOURCES:
        raise ValueError(f"unknown internal source {source!r}")
    app_label, model = source.split(".")
    return ContentType.objects.get_by_natural_key(app_label, model)


def measure(*, source: str, fiscal_year: int, category_id: int | None = None) -> Measured:
    """Volumes and lead times of one internal process in one fiscal year (three queries)."""
    subject_type = source_content_type(source)
    start, end = _fy_bounds(fiscal_year)
    finals = Route.objects.filter(
        subject_type=subject_type, status__in=FINAL, finished_at__gte=start, finished_at__lt=end
    )
    if source == "approvals.document" and category_id is not None:
        from approvals.models import Document

        finals = finals.filter(
            subject_id__in=Document.objects.filter(category_id=category_id).values("pk")
        )
    final_rows = list(finals.values_list("subject_id", "status", "finished_at", "pk"))
    label = INTERNAL_SOURCES[source]
    result = Measured(source=source, label=label, fiscal_year=fiscal_year)
    if not final_rows:
        return result
    subject_ids = {r[0] for r in final_rows}
    first_submitted: dict[int, dt.datetime] = {}
    for subject_id, submitted_at in (
        Route.objects.filter(subject_type=subject_type, subject_id__in=subject_ids)
        .values_list("subject_id", "submitted_at")
        .order_by("subject_id", "round")
    ):
        first_submitted.setdefault(subject_id, submitted_at)
    for subject_id, status, finished_at, _route_id in final_rows:
        result.lead_hours.append(_hours(finished_at - first_submitted[subject_id]))
        if status == Route.Status.APPROVED:
            result.decided += 1
        else:
            result.rejected += 1
    result.steps = _step_timings([r[3] for r in final_rows])
    return result


def _step_timings(route_ids: Iterable[int]) -> list[StepTiming]:
    actions = (
        Action.objects.filter(route_id__in=list(route_ids), kind__in=EVENT_KINDS)
        .order_by("route_id", "at", "pk")
        .values_list(
            "route_id",
            "kind",
            "at",
            "step__stage__position",
            "step__stage__kind",
            "step__post__name",
        )
    )
    timings: dict[tuple[int, str, str], StepTiming] = {}
    previous: dict[int, dt.datetime] = {}
    for route_id, kind, at, position, stage_kind, post_name in actions:
        before = previous.get(route_id)
        previous[route_id] = at
        if kind not in TIMED_KINDS or before is None or position is None:
            continue
        key = (position, stage_kind or "", post_name or "")
        if key not in timings:
            kind_label = dict(Stage.Kind.choices).get(stage_kind, stage_kind)
            timings[key] = StepTiming(
                label=f"{position}: {kind_label}{f'（{post_name}）' if post_name else ''}"
            )
        timings[key].hours.append(_hours(at - before))
    return [timings[k] for k in sorted(timings)]


def measured_by_source(*, fiscal_year: int) -> list[Measured]:
    """Every internal process for the year; documents split by matter category."""
    from approvals.models import MatterCategory

    rows = []
    for category in MatterCategory.objects.order_by("sort_order", "code"):
        m = measure(source="approvals.document", fiscal_year=fiscal_year, category_id=category.pk)
        m.label = f"{INTERNAL_SOURCES['approvals.document']}（{category.name}）"
        rows.append(m)
    rows += [
        measure(source=key, fiscal_year=fiscal_year)
        for key in INTERNAL_SOURCES
        if key != "approvals.document"
    ]
    return rows


def electronic_decisions(*, fiscal_year: int) -> dict[int, int]:
    """Documents decided electronically in the year, by the drafting 課 (route.department)."""
    from approvals.models import Document

    start, end = _fy_bounds(fiscal_year)
    counts: dict[int, int] = defaultdict(int)
    rows = (
        Route.objects.filter(
            subject_type=ContentType.objects.get_for_model(Document),
            status=Route.Status.APPROVED,
            finished_at__gte=start,
            finished_at__lt=end,
        )
        .values("department_id")
        .order_by()
        .annotate(n=Count("pk"))
    )
    for row in rows:
        counts[row["department_id"]] += row["n"]
    return dict(counts)
