"""Overtime per person and month, in bulk: pay bands, rounding, fiscal-year totals and caps.

The numbers behind the 超過勤務命令簿, the 出勤簿's overtime and the 時間外勤務集計表
(attendance/reports.py), from a fixed number of queries whatever the number of staff: the
policies, the calendar, the assignments with their people, the departments, the work
schedules, the closed months, the orders and, only when a month in range is closed, the
orders filed and the corrections applied after it. The rest is Python.

What is counted, and how (attendance.md "Order process and pay bands", "Overtime caps"):

- the orders that count toward the caps (`OvertimeOrder.COUNTED`: ordered, reported,
  confirmed); an order's interval is its confirmed actual (the break taken from its
  start, as `requests._actual_bands` does) or else its plan;
- an order belongs, all of it, to the month of its work date, as the caps count it
  (`requests.monthly_minutes`); so `StaffMonth.minutes` is exactly what a
  ``GROUP BY staff, month(work_date)`` over `requests.COUNTED_MINUTES` returns (the
  benchmark's floor, bench/attendance.py);
- bands follow `overtime.month_bands`: each minute by the kind of its own day in the city
  calendar and the person's schedule, and once the month's overtime, in time order, passes
  60 hours, 150/100 (night 175/100). An order running past midnight into the next month
  continues the 60-hour count of its own month;
- rounding per band and month as `overtime.round_monthly` (`round_bands`);
- the worst 2–6 month average of windows ending in each month (windows reach back into
  the previous fiscal year, as the 人事院 guidance has it), months over 45 hours, and the
  doctor-interview flag (≥ 100 h in a month or an average > 80 h), with the numbers of the
  policy in force.

Closed months (`MonthClose`) read as of their closing: an order filed after the close is
left out of the month and an actual corrected after the close counts with its values
before the correction; both are listed in `OvertimeYear.corrections` so a report shows
them as corrections. `as_of_close=False` reads the current values instead.

Speed (a city's year is some 100,000 orders): the bands of an order before the 60-hour
mark depend only on its shape (schedule, rules, kinds of the days it covers, start time,
length), so each shape is classified once (a year of 17:15–19:15 on working days is one
call of `overtime.interval_bands`); only the order of a month that crosses the mark is
classified with its running count. The summary reads the orders in one ordered query and
classifies them in one pass (`month_sums`), with times as the driver gives them.
"""

from __future__ import annotations

import bisect
import contextlib
import datetime as dt
import gc
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.db.models import (
    Case,
    CharField,
    DateTimeField,
    F,
    IntegerField,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.functions import Coalesce

from common.dates import today
from org.models import Assignment, Department, Staff, WorkSchedule

from . import overtime as ot
from .calendar import kinds_between
from .models import AttendancePolicy, CalendarDay, Correction, MonthClose, OvertimeOrder
from .requests import COUNTED_MINUTES

TOKYO = ot.TOKYO
Band = ot.Band
BANDS: tuple[Band, ...] = tuple(Band)
HOLIDAY = BANDS.index(Band.HOLIDAY_PAY)
_WORKDAY, _WORKDAY_NIGHT = BANDS.index(Band.WORKDAY), BANDS.index(Band.WORKDAY_NIGHT)
_REST, _REST_NIGHT = BANDS.index(Band.REST_DAY), BANDS.index(Band.REST_DAY_NIGHT)
_OVER, _OVER_NIGHT = BANDS.index(Band.OVER_60), BANDS.index(Band.OVER_60_NIGHT)
ZERO: tuple[int, ...] = (0,) * len(BANDS)
ONE_MINUTE = dt.timedelta(minutes=1)
NO_TIME = dt.timedelta(0)
AVERAGE_BACK_MONTHS = 5  # a 6-month window ending in April starts in November

_DAY_KINDS: dict[str, ot.DayKind] = {
    CalendarDay.Kind.WORKDAY: "workday",
    CalendarDay.Kind.REST: "weekly_rest",
    CalendarDay.Kind.HOLIDAY: "holiday",
}

# Order interval as counted: the confirmed actual (break from its start), else the plan.
_CONFIRMED = Q(status=OvertimeOrder.Status.CONFIRMED, actual_minutes__isnull=False)
COUNTED_START = Case(
    When(_CONFIRMED, then=F("actual_start")),
    default=F("planned_start"),
    output_field=DateTimeField(),
)
COUNTED_END = Case(
    When(_CONFIRMED, then=F("actual_end")),
    default=F("planned_end"),
    output_field=DateTimeField(),
)
COUNTED_BREAK = Case(
    When(_CONFIRMED, then=F("break_minutes")), default=Value(0), output_field=IntegerField()
)


add_months = ot.add_months
month_last = ot.month_end


def fiscal_months(fiscal_year: int) -> list[dt.date]:
    return [add_months(dt.date(fiscal_year, 4, 1), i) for i in range(12)]


def bands_dict(values: Iterable[int]) -> dict[Band, int]:
    return dict(zip(BANDS, values, strict=True))


# --- rules, calendar, people --------------------------------------------------------------


class RulesByDay:
    """The overtime rules in force on each day, from every dated policy read once."""

    def __init__(self, last: dt.date) -> None:
        policies = list(
            AttendancePolicy.objects.filter(valid_from__lte=last).order_by("valid_from")
        )
        self._starts = [p.valid_from for p in policies]
        self._rules = [p.to_rules() for p in policies]
        self._cache: dict[dt.date, ot.OvertimeRules] = {}

    def __call__(self, day: dt.date) -> ot.OvertimeRules:
        rules = self._cache.get(day)
        if rules is None:
            i = bisect.bisect_right(self._starts, day)
            rules = self._rules[i - 1] if i else ot.NATIONAL_RULES
            self._cache[day] = rules
        return rules


class DayKinds:
    """Day kinds for overtime from the city calendar, read in one query for a range."""

    def __init__(self, first: dt.date, last: dt.date) -> None:
        self._kinds = {d: _DAY_KINDS[k] for d, k in kinds_between(first, last).items()}

    def __call__(self, day: dt.date) -> ot.DayKind:
        kind = self._kinds.get(day)
        if kind is None:  # beyond the range read (an interval of several days): rare
            self._kinds.update(
                {d: _DAY_KINDS[k] for d, k in kinds_between(day, day + dt.timedelta(31)).items()}
            )
            kind = self._kinds[day]
        return kind


_SCHEDULES: dict[tuple, ot.WorkSchedule] = {}


def work_schedule(ws) -> ot.WorkSchedule:
    """`requests.schedule_of` for an already loaded `org.WorkSchedule` (or None)."""
    if ws is None:
        return ot.STANDARD_SCHEDULE
    return schedule_from(ws.start, ws.end, ws.break_start, ws.break_end)


def schedule_from(
    start: dt.time | None,
    end: dt.time | None,
    break_start: dt.time | None,
    break_end: dt.time | None,
) -> ot.WorkSchedule:
    if start is None or end is None:
        return ot.STANDARD_SCHEDULE
    key = (start, end, break_start, break_end)
    found = _SCHEDULES.get(key)
    if found is None:
        breaks = ((break_start, break_end),) if break_start and break_end else ()
        found = _SCHEDULES[key] = ot.WorkSchedule(start=start, end=end, breaks=breaks)
    return found


def subtree_q(department: Department, prefix: str = "department") -> Q:
    """The department and what sits under it (部 → 課 → 係: three levels at most)."""
    return (
        Q(**{prefix: department})
        | Q(**{f"{prefix}__parent": department})
        | Q(**{f"{prefix}__parent__parent": department})
    )


class Departments:
    """Every department, read in one query, with its chain up to the 部."""

    def __init__(self) -> None:
        self.by_pk = {d.pk: d for d in Department.objects.all()}

    def chain(self, pk: int | None) -> list[Department]:
        """The department first, then its parents (at most three levels)."""
        chain: list[Department] = []
        while pk is not None and len(chain) < 3:
            d = self.by_pk[pk]
            chain.append(d)
            pk = d.parent_id
        return chain

    def within(self, pk: int, root: Department) -> bool:
        return any(d.pk == root.pk for d in self.chain(pk))

    def sort_key(self, pk: int | None) -> tuple:
        if pk is None:
            return ((1 << 30, ""),)
        return tuple((d.sort_order, d.code) for d in reversed(self.chain(pk)))


def assignments_overlapping(
    first: dt.date, last: dt.date, department: Department | None = None
) -> QuerySet[Assignment]:
    """Primary assignments overlapping [first, last]; with a department, every such
    assignment of the people who had one in its subtree (so each person's latest is known)."""
    qs = Assignment.objects.filter(
        Q(end__isnull=True) | Q(end__gte=first), start__lte=last, is_primary=True
    )
    if department is not None:
        qs = qs.filter(staff_id__in=qs.filter(subtree_q(department)).values("staff_id"))
    return qs.order_by("staff_id", "start", "pk")


@dataclass(frozen=True, slots=True)
class Person:
    """A member of staff as a report lists them, under one department."""

    pk: int
    employee_number: str
    name: str  # as `Staff.display_name`: family name first
    username: str
    employee_class: str
    department: Department | None
    schedule: ot.WorkSchedule
    daily_minutes: int | None  # of the person's schedule; None without one


PERSON_FIELDS = (
    "employee_number",
    "last_name",
    "first_name",
    "username",
    "employee_class",
    "work_schedule_id",
)


class Schedules:
    """Every work schedule, read in one query: (`overtime.WorkSchedule`, minutes a day)."""

    def __init__(self) -> None:
        self.by_pk = {
            ws.pk: (work_schedule(ws), ws.daily_minutes) for ws in WorkSchedule.objects.all()
        }

    def __call__(self, pk: int | None) -> tuple[ot.WorkSchedule, int | None]:
        return self.by_pk[pk] if pk is not None else (ot.STANDARD_SCHEDULE, None)


def _person(pk: int, values: tuple, department: Department | None, schedules: Schedules) -> Person:
    number, last, first, username, klass, schedule_id = values
    schedule, daily = schedules(schedule_id)
    return Person(
        pk=pk,
        employee_number=number or "",
        name=f"{last} {first}".strip() or username,
        username=username,
        employee_class=klass,
        department=department,
        schedule=schedule,
        daily_minutes=daily,
    )


def people(
    first: dt.date,
    last: dt.date,
    department: Department | None = None,
    departments: Departments | None = None,
) -> dict[int, Person]:
    """Everyone with a primary assignment in the period, each once, under the department of
    their assignment at the end of the period (today, when earlier; their last one before
    that, else their first). With `department`, only those who sit in its subtree then.
    Three queries (the assignments with their people, the departments, the schedules),
    sorted by department and employee number."""
    on = min(last, today())
    departments = departments or Departments()
    schedules = Schedules()
    chosen: dict[int, tuple] = {}
    rows = assignments_overlapping(first, last, department).values_list(
        "staff_id", "department_id", "start", *(f"staff__{f}" for f in PERSON_FIELDS)
    )
    # Rows come by start: the last one starting on or before `on` wins; when all start
    # after it, the first.
    for row in rows:
        if row[2] <= on or row[0] not in chosen:
            chosen[row[0]] = row
    result = [
        _person(staff_id, row[3:], departments.by_pk[row[1]], schedules)
        for staff_id, row in chosen.items()
        if department is None or departments.within(row[1], department)
    ]
    result.sort(
        key=lambda p: (
            departments.sort_key(p.department.pk if p.department else None),
            p.employee_number,
            p.username,
        )
    )
    return {p.pk: p for p in result}


def people_without_assignment(pks: Iterable[int]) -> list[Person]:
    schedules = Schedules()
    return [
        _person(row[0], row[1:], None, schedules)
        for row in Staff.objects.filter(pk__in=list(pks))
        .order_by("employee_number", "username")
        .values_list("pk", *PERSON_FIELDS)
    ]


# --- bands of orders ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Counted:
    """One order as it counts: `start`/`end` aware in Asia/Tokyo (break already taken off
    the start), `minutes` as stored (cap sense), `bands` in `BANDS` order."""

    pk: int
    staff_id: int
    work_date: dt.date
    start: dt.datetime
    end: dt.datetime
    minutes: int
    bands: tuple[int, ...]


class Bander:
    """Classifies a month of one person's orders into bands, in time order (see module).

    Orders come as tuples (start, end, work_date, minutes, pk) with `start` and `end` naive
    wall-clock times in Asia/Tokyo (the break already taken off the start): Asia/Tokyo has
    kept UTC+9 without daylight saving since 1951, and attaching the zone only where
    `overtime` needs it saves much of the time of a large summary. The naive values never
    leave this module.
    """

    def __init__(self, kinds: DayKinds, rules: RulesByDay) -> None:
        self.kinds = kinds
        self.rules = rules
        self._shapes: dict[tuple, tuple[tuple[int, ...], int]] = {}

    def _exact(
        self,
        start: dt.datetime,
        end: dt.datetime,
        before: int,
        schedule: ot.WorkSchedule,
        rules: ot.OvertimeRules,
    ) -> tuple[int, ...]:
        """`month_bands` of one interval (naive Tokyo times) with `before` minutes already in
        its month; the part after a month boundary continues the same count (the order's
        own month)."""
        total = [0] * len(BANDS)
        cursor = start
        while cursor < end:
            boundary = dt.datetime.combine(add_months(cursor.date(), 1), dt.time(0))
            piece_end = min(end, boundary)
            bands = ot.interval_bands(
                cursor.replace(tzinfo=TOKYO),
                piece_end.replace(tzinfo=TOKYO),
                day_kind=self.kinds,
                schedule=schedule,
                rules=rules,
                overtime_before_in_month=before,
            )
            for i, band in enumerate(BANDS):
                total[i] += bands[band]
            before += sum(m for b, m in bands.items() if b in ot.COUNTS_TOWARD_60H)
            cursor = piece_end
        return tuple(total)

    def _shape(
        self,
        start: dt.datetime,
        end: dt.datetime,
        schedule: ot.WorkSchedule,
        rules: ot.OvertimeRules,
    ) -> tuple[tuple[int, ...], int]:
        """(bands, overtime minutes) of an interval before the 60-hour mark. The bands
        depend only on the kinds of the days it covers, its start time and length, the
        schedule and the rules: computed once per such shape (`month` inlines the lookup)."""
        first = start.date()
        last = (end - ONE_MINUTE).date()
        kinds = self.kinds
        if last == first:
            days: Any = kinds(first)
        else:
            days = tuple(kinds(first + dt.timedelta(i)) for i in range((last - first).days + 1))
        # Schedules and rules are shared objects for the whole run: their ids are keys.
        key = (id(schedule), id(rules), days, start.hour, start.minute, end - start)
        found = self._shapes.get(key)
        if found is None:
            bands = self._exact(start, end, 0, schedule, rules)
            found = (bands, sum(bands) - bands[HOLIDAY])
            if found[1] <= rules.over_60_threshold_minutes:
                self._shapes[key] = found
        return found

    def month(
        self,
        orders: list[tuple],
        schedule: ot.WorkSchedule,
        *,
        staff_id: int | None = None,
        detail: bool = False,
    ) -> tuple[tuple[int, ...], int, list[Counted]]:
        """One person's orders of one month (see `staff_months`), classified in time order:
        the month's minutes by band, the stored minutes, and with `detail` each order."""
        if len(orders) > 1:
            orders.sort()
        picked: list[tuple[int, ...]] = []
        counted: list[Counted] = []
        running = stored = 0
        rules_of, rules_at = self.rules, self.rules._cache
        kinds, shapes = self.kinds._kinds, self._shapes
        schedule_id = id(schedule)
        for start, end, work_date, minutes, pk in orders:
            stored += minutes
            length = end - start
            if length <= NO_TIME:
                bands, cap = ZERO, 0
            else:
                rules = rules_at.get(work_date) or rules_of(work_date)
                first = start.date()
                # The common case inline: one day, a shape seen before (see `_shape`).
                found = None
                if first == (end - ONE_MINUTE).date() and first in kinds:
                    key = (schedule_id, id(rules), kinds[first], start.hour, start.minute, length)
                    found = shapes.get(key)
                if found is None:
                    found = self._shape(start, end, schedule, rules)
                bands, cap = found
                threshold = rules.over_60_threshold_minutes
                if running >= threshold:
                    bands = _beyond_60(bands)
                elif running + cap > threshold:
                    bands = self._exact(start, end, running, schedule, rules)
            running += cap
            picked.append(bands)
            if detail:
                counted.append(
                    Counted(
                        pk,
                        staff_id or 0,
                        work_date,
                        start.replace(tzinfo=TOKYO),
                        end.replace(tzinfo=TOKYO),
                        minutes,
                        bands,
                    )
                )
        if len(picked) == 1:
            return picked[0], stored, counted
        total = tuple(map(sum, zip(*picked, strict=True))) if picked else ZERO
        return total, stored, counted


def _beyond_60(bands: tuple[int, ...]) -> tuple[int, ...]:
    """Every overtime minute of the interval past the 60-hour mark (給与法第16条第2項)."""
    moved = list(bands)
    moved[_OVER] += moved[_WORKDAY] + moved[_REST]
    moved[_OVER_NIGHT] += moved[_WORKDAY_NIGHT] + moved[_REST_NIGHT]
    moved[_WORKDAY] = moved[_REST] = moved[_WORKDAY_NIGHT] = moved[_REST_NIGHT] = 0
    return tuple(moved)


# --- closed months and corrections ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OvertimeCorrection:
    """A change to a closed month's overtime: a corrected actual, or an order filed late."""

    kind: str  # "actual" (Correction applied) or "late" (an order filed after the close)
    order_id: int
    staff_id: int
    month: dt.date
    work_date: dt.date
    before_minutes: int | None
    after_minutes: int | None
    reason: str
    at: dt.datetime | None


@dataclass
class ClosedMonths:
    """The closed months in a range, what to read instead of the current values, and the
    corrections to list (see module docstring)."""

    closed: dict[dt.date, dt.datetime] = field(default_factory=dict)
    late: set[int] = field(default_factory=set)
    before: dict[int, tuple[dt.datetime, dt.datetime, int, int]] = field(default_factory=dict)
    corrections: list[OvertimeCorrection] = field(default_factory=list)


def closed_months_between(
    first: dt.date, last: dt.date, staff_filter: Q | None = None, *, as_of_close: bool = True
) -> ClosedMonths:
    """One query for the closes; two more (orders filed late, applied corrections) only when
    a month in range is closed."""
    result = ClosedMonths(
        closed=dict(
            MonthClose.objects.filter(month__range=(first, last)).values_list("month", "closed_at")
        )
    )
    if not result.closed:
        return result
    scope = Q(work_date__range=(first, last))
    if staff_filter is not None:
        scope &= staff_filter
    late_rows = (
        OvertimeOrder.objects.filter(scope, correction=True, status__in=OvertimeOrder.COUNTED)
        .annotate(_m=COUNTED_MINUTES)
        .values_list("pk", "staff_id", "work_date", "created_at", "_m", "correction_reason")
        .order_by("work_date", "pk")
    )
    for pk, staff_id, work_date, created_at, minutes, reason in late_rows:
        month = work_date.replace(day=1)
        closed_at = result.closed.get(month)
        if closed_at is not None and created_at > closed_at:
            result.late.add(pk)
            result.corrections.append(
                OvertimeCorrection(
                    "late", pk, staff_id, month, work_date, None, minutes, reason, created_at
                )
            )
    applied = (
        Correction.objects.filter(
            kind=Correction.Kind.OVERTIME_ACTUAL,
            status=Correction.Status.APPLIED,
            month__in=list(result.closed),
        )
        .filter(staff_filter if staff_filter is not None else Q())
        .values_list(
            "overtime_order_id",
            "staff_id",
            "month",
            "overtime_order__work_date",
            "before",
            "after",
            "reason",
            "applied_at",
        )
        .order_by("applied_at", "pk")
    )
    for order_id, staff_id, month, work_date, before, after, reason, applied_at in applied:
        result.corrections.append(
            OvertimeCorrection(
                "actual",
                order_id,
                staff_id,
                month,
                work_date,
                before.get("actual_minutes"),
                after.get("actual_minutes"),
                reason,
                applied_at,
            )
        )
        if order_id not in result.before and before.get("actual_start"):
            result.before[order_id] = (
                dt.datetime.fromisoformat(before["actual_start"]),
                dt.datetime.fromisoformat(before["actual_end"]),
                int(before.get("break_minutes") or 0),
                int(before.get("actual_minutes") or 0),
            )
    result.corrections.sort(key=lambda c: (c.month, c.work_date, c.order_id))
    if not as_of_close:
        result.late.clear()
        result.before.clear()
    return result


def counted_rows(
    first: dt.date, last: dt.date, staff_filter: Q | None = None
) -> QuerySet[OvertimeOrder]:
    """The orders counted in [first, last] as tuples (pk, staff_id, work_date, start, end,
    break, minutes), in no order: one query.

    The date and times come as the database gives them (text on SQLite) and are converted
    by `staff_months`: Django's converter per value costs more than all the rest of a row.
    """
    qs = OvertimeOrder.objects.filter(
        status__in=OvertimeOrder.COUNTED, work_date__gte=first, work_date__lte=last
    )
    if staff_filter is not None:
        qs = qs.filter(staff_filter)
    return (
        qs.annotate(
            # COALESCE: an expression has no declared type, so sqlite3 leaves it as text.
            _d=Coalesce(F("work_date"), F("work_date"), output_field=RAW),
            _s=Case(*COUNTED_START.cases, default=COUNTED_START.default, output_field=RAW),
            _e=Case(*COUNTED_END.cases, default=COUNTED_END.default, output_field=RAW),
            _b=Case(*COUNTED_BREAK.cases, default=COUNTED_BREAK.default, output_field=RAW),
            _m=Case(*COUNTED_MINUTES.cases, default=COUNTED_MINUTES.default, output_field=RAW),
        )
        .order_by()
        .values_list("pk", "staff_id", "_d", "_s", "_e", "_b", "_m")
    )


RAW = CharField()  # no converter: the driver's value as it is
TOKYO_OFFSET = dt.timedelta(hours=9)  # Asia/Tokyo: UTC+9, no daylight saving since 1951


def _wall(value: str | dt.datetime) -> dt.datetime:
    """Naive Asia/Tokyo wall-clock time of a driver value (SQLite keeps UTC as text) or an
    aware datetime."""
    if isinstance(value, str):
        parsed = dt.datetime.fromisoformat(value)
        if parsed.tzinfo is None:  # Django's SQLite text: UTC
            return parsed + TOKYO_OFFSET
        value = parsed
    return value.astimezone(TOKYO).replace(tzinfo=None)


def staff_months(
    rows: Iterable[tuple],
    closes: ClosedMonths,
) -> dict[int, dict[dt.date, list[tuple]]]:
    """Orders grouped by person and month (first day), as (start, end, work_date, minutes,
    pk), `start`/`end` naive Tokyo wall-clock times with the break taken off the start (see
    `Bander`); closed months as of their closing."""
    grouped: dict[int, dict[dt.date, list[tuple]]] = {}
    late, before = closes.late, closes.before
    wall, fromisoformat, parse = _wall, dt.date.fromisoformat, dt.datetime.fromisoformat
    minute, offset = dt.timedelta(minutes=1), TOKYO_OFFSET
    month_of: dict[Any, tuple[dt.date, dt.date]] = {}  # raw work date → (date, month)
    for pk, staff_id, raw_date, start, end, brk, minutes in rows:
        if late and pk in late:
            continue
        if before and pk in before:
            start, end, brk, minutes = before[pk]
        months = grouped.get(staff_id)
        if months is None:
            months = grouped[staff_id] = {}
        dates = month_of.get(raw_date)
        if dates is None:
            day = fromisoformat(raw_date) if isinstance(raw_date, str) else raw_date
            dates = month_of[raw_date] = (day, day.replace(day=1))
        if type(start) is str:  # SQLite: UTC as text (Django never stores an offset)
            start, end = parse(start) + offset, parse(end) + offset
        else:
            start, end = wall(start), wall(end)
        if brk:
            start += brk * minute
        bucket = months.get(dates[1])
        if bucket is None:
            months[dates[1]] = [(start, end, dates[0], minutes, pk)]
        else:
            bucket.append((start, end, dates[0], minutes, pk))
    return grouped


def month_sums(
    rows: Iterable[tuple],
    closes: ClosedMonths,
    listed: dict[int, Person],
    bander: Bander,
    first: dt.date,
) -> tuple[dict[int, dict[dt.date, tuple]], dict[int, dict[dt.date, list[tuple]]]]:
    """One pass over `counted_rows` ordered by person, work date and start: per person and
    month (bands, stored minutes, orders), classified as `Bander.month` does; months before
    `first` get their minutes only. Rows of people not in `listed` are returned apart,
    grouped as `staff_months` does.

    The summary's hot loop: a city's year is some 100,000 orders, so this avoids building
    the per-month lists and re-sorting them (the query orders them)."""
    sums: dict[int, dict[dt.date, tuple]] = {}
    strays: dict[int, dict[dt.date, list[tuple]]] = {}
    late, before = closes.late, closes.before
    wall, parse, date_of = _wall, dt.datetime.fromisoformat, dt.date.fromisoformat
    minute, offset = ONE_MINUTE, TOKYO_OFFSET
    kinds, shapes, shape = bander.kinds._kinds, bander._shapes, bander._shape
    rules_at, rules_of = bander.rules._cache, bander.rules
    month_of: dict[Any, tuple[dt.date, dt.date]] = {}  # raw work date → (date, month)
    current_staff = current_month = person = schedule = rules_day = None
    schedule_id = running = stored = count = 0
    totals_only = False
    rules = ot.NATIONAL_RULES
    picked: list[tuple[int, ...]] = []
    months: dict[dt.date, tuple] = {}

    def close_month() -> None:
        if current_month is None or person is None:
            return
        if len(picked) == 1:
            bands = picked[0]
        elif picked:
            bands = tuple(map(sum, zip(*picked, strict=True)))
        else:
            bands = ZERO
        months[current_month] = (bands, stored, count)

    overrides = late or before
    for pk, staff_id, raw_date, start, end, brk, minutes in rows:
        if overrides:
            if pk in late:
                continue
            if pk in before:
                start, end, brk, minutes = before[pk]
        dates = month_of.get(raw_date)
        if dates is None:
            day = date_of(raw_date) if isinstance(raw_date, str) else raw_date
            dates = month_of[raw_date] = (day, day.replace(day=1))
        work_date, month = dates
        if staff_id != current_staff or month != current_month:
            close_month()
            if staff_id != current_staff:
                current_staff = staff_id
                person = listed.get(staff_id)
                if person is not None:
                    months = sums[staff_id] = {}
                    schedule = person.schedule
                    schedule_id = id(schedule)
            current_month = month
            picked, running, stored, count = [], 0, 0, 0
            totals_only = month < first  # before the year: only the total, for the averages
        if type(start) is str:  # SQLite: UTC as text (Django never stores an offset)
            start, end = parse(start) + offset, parse(end) + offset
        else:
            start, end = wall(start), wall(end)
        if brk:
            start += brk * minute
        if person is None:
            strays.setdefault(staff_id, {}).setdefault(month, []).append(
                (start, end, work_date, minutes, pk)
            )
            continue
        stored += minutes
        count += 1
        length = end - start
        if totals_only or length <= NO_TIME:
            continue
        if work_date is not rules_day:  # rows come by work date: look up once a day
            rules_day, rules = work_date, rules_at.get(work_date) or rules_of(work_date)
        day = start.date()
        found = None
        if day == (end - minute).date() and day in kinds:
            found = shapes.get(
                (schedule_id, id(rules), kinds[day], start.hour, start.minute, length)
            )
        if found is None:
            found = shape(start, end, schedule, rules)
        bands, cap = found
        threshold = rules.over_60_threshold_minutes
        if running >= threshold:
            bands = _beyond_60(bands)
        elif running + cap > threshold:
            bands = bander._exact(start, end, running, schedule, rules)
        running += cap
        picked.append(bands)
    close_month()
    return sums, strays


# --- the fiscal year --------------------------------------------------------------------------


@dataclass(slots=True)
class StaffMonth:
    """One person's month. Minutes throughout; `bands` in `BANDS` order."""

    month: dt.date
    minutes: int = 0  # overtime toward the caps, as stored on the orders (休日給 excluded)
    bands: tuple[int, ...] = ZERO  # by band, before rounding
    rounded: tuple[int, ...] = ZERO  # by band, after the month's rounding (multiples of 60)
    orders: int = 0
    worst_average: float | None = None  # worst 2–6 month average of windows ending here
    worst_length: int = 0  # … over that many months

    @property
    def worst_window(self) -> tuple[dt.date, ...]:
        n = self.worst_length
        return tuple(add_months(self.month, k - n + 1) for k in range(n))

    @property
    def band_minutes(self) -> int:
        """The bands' overtime (休日給 excluded): equals `minutes` unless the calendar, the
        schedule or the rules changed after an order was counted."""
        return sum(self.bands) - self.bands[HOLIDAY]

    @property
    def holiday_pay(self) -> int:
        return self.bands[HOLIDAY]

    @property
    def over_60(self) -> int:
        return self.bands[_OVER] + self.bands[_OVER_NIGHT]


@dataclass(slots=True)
class StaffYear:
    """One person's fiscal year for the 時間外勤務集計表."""

    person: Person
    months: list[StaffMonth]
    class_: ot.DepartmentClass
    total: int = 0
    bands: tuple[int, ...] = ZERO
    rounded: tuple[int, ...] = ZERO
    worst_average: float | None = None
    worst_window: tuple[dt.date, ...] = ()
    months_over_45: int = 0
    doctor_interview: bool = False
    doctor_reasons: tuple[str, ...] = ()


@dataclass
class OvertimeYear:
    fiscal_year: int
    department: Department | None
    months: list[dt.date]
    staff: list[StaffYear]
    closed: dict[dt.date, dt.datetime]
    corrections: list[OvertimeCorrection]
    people: dict[int, Person]
    rules: ot.OvertimeRules  # in force at the end of the year: the report's headings


def _hours(minutes: float) -> str:
    return f"{minutes / 60:.1f}".rstrip("0").rstrip(".") + "時間"


def overtime_year(
    *, fiscal_year: int, department: Department | None = None, as_of_close: bool = True
) -> OvertimeYear:
    """Every person's overtime of a fiscal year by month and band, with the caps' figures.

    People: see `people` (each once, under their department at the end of the year or
    today). Without a department, people with counted orders and no assignment are listed
    last without a department. Queries: a fixed number, whatever the number of staff.
    """
    months = fiscal_months(fiscal_year)
    first, last = months[0], month_last(months[-1])
    back = add_months(first, -AVERAGE_BACK_MONTHS)
    listed = people(first, last, department)
    staff_filter = (
        None
        if department is None
        else Q(
            staff_id__in=assignments_overlapping(first, last, department)
            .filter(subtree_q(department))
            .values("staff_id")
        )
    )
    rules = RulesByDay(last)
    kinds = DayKinds(back - dt.timedelta(days=1), last + dt.timedelta(days=3))
    closes = closed_months_between(back, last, staff_filter, as_of_close=as_of_close)
    bander = Bander(kinds, rules)
    rows = counted_rows(back, last, staff_filter).order_by("staff_id", "work_date", "_s")
    with gc_paused():
        return _overtime_year(
            fiscal_year, department, months, back, listed, rules, closes, bander, rows
        )


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a summary is built.

    A city's summary makes some 200,000 small objects, none of them in a cycle; the
    collector would walk them, and the whole heap of the process, over and over (about a
    sixth of the time). Reference counting still frees what is dropped; the collector is
    resumed afterwards (unless it was already off).
    """
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


def _overtime_year(
    fiscal_year: int,
    department: Department | None,
    months: list[dt.date],
    back: dt.date,
    listed: dict[int, Person],
    rules: RulesByDay,
    closes: ClosedMonths,
    bander: Bander,
    rows: QuerySet,
) -> OvertimeYear:
    first, last = months[0], month_last(months[-1])
    sums, strays = month_sums(rows, closes, listed, bander, first)
    if strays:  # counted orders of people without an assignment (only without a department)
        for person in people_without_assignment(strays):
            listed[person.pk] = person
            for month, orders in strays[person.pk].items():
                if month < first:
                    sums.setdefault(person.pk, {})[month] = (ZERO, sum(o[3] for o in orders), 0)
                    continue
                bands, minutes, _counted = bander.month(orders, person.schedule)
                sums.setdefault(person.pk, {})[month] = (bands, minutes, len(orders))
    frame = _Frame(back, months, min(months[-1], today().replace(day=1)), rules)
    staff_years = [_staff_year(person, sums.get(person.pk), frame) for person in listed.values()]
    return OvertimeYear(
        fiscal_year=fiscal_year,
        department=department,
        months=months,
        staff=staff_years,
        closed={m: at for m, at in closes.closed.items() if first <= m <= last},
        corrections=[
            c for c in closes.corrections if first <= c.month <= last and c.staff_id in listed
        ],
        people=listed,
        rules=rules(months[-1]),
    )


def round_bands(bands: tuple[int, ...], rules: ot.OvertimeRules) -> tuple[int, ...]:
    """`overtime.round_monthly` on a tuple of bands: the same rule without the dicts
    (m // unit + (m % unit ≥ up) equals (m + unit − up) // unit for 0 < up ≤ unit)."""
    unit, up = rules.rounding_unit_minutes, rules.rounding_up_from_minutes
    if not 0 < up <= unit:
        return tuple(ot.round_monthly(bands_dict(bands), rules).values())
    k = unit - up
    a, b, c, d, e, f, g = bands
    return (
        (a + k) // unit * unit,
        (b + k) // unit * unit,
        (c + k) // unit * unit,
        (d + k) // unit * unit,
        (e + k) // unit * unit,
        (f + k) // unit * unit,
        (g + k) // unit * unit,
    )


class _Frame:
    """What every person's year shares: the months (five before the year, for the
    averages), where windows may end (not after the current month), the rules."""

    def __init__(
        self, back: dt.date, months: list[dt.date], window_end: dt.date, rules: RulesByDay
    ) -> None:
        self.all = [add_months(back, i) for i in range(AVERAGE_BACK_MONTHS + len(months))]
        self.index = {m: i for i, m in enumerate(self.all)}
        self.start = AVERAGE_BACK_MONTHS
        self.months = months
        self.year_rules = rules(months[-1])
        self.month_rules = [rules(m) for m in months]
        self.window_last = self.index.get(window_end, -1) if window_end >= back else -1
        r = self.year_rules
        self.lengths = list(range(r.outside_average_min_months, r.outside_average_max_months + 1))


def _staff_year(
    person: Person,
    by_month: dict[dt.date, tuple] | None,
    frame: _Frame,
) -> StaffYear:
    department = person.department
    class_ = ot.department_class(department.overtime_class if department else "normal")
    year = StaffYear(person=person, months=[], class_=class_)
    if not by_month:
        year.months = [StaffMonth(m) for m in frame.months]
        return year
    start = frame.start
    totals = [0] * len(frame.all)
    months: list[StaffMonth | None] = [None] * len(frame.months)
    for month, (bands, minutes, count) in by_month.items():
        i = frame.index[month]
        totals[i] = minutes
        j = i - start
        if j >= 0:
            months[j] = StaffMonth(
                month, minutes, bands, round_bands(bands, frame.month_rules[j]), count
            )
    year.months = [sm or StaffMonth(m) for sm, m in zip(months, frame.months, strict=True)]
    present = [sm for sm in months if sm is not None]
    if present:
        year.bands = tuple(map(sum, zip(*(sm.bands for sm in present), strict=True)))
        year.rounded = tuple(map(sum, zip(*(sm.rounded for sm in present), strict=True)))
    rules = frame.year_rules
    in_year = totals[start:]
    year.total = sum(in_year)
    over_45 = rules.outside_over_45_threshold_minutes
    year.months_over_45 = sum(1 for m in in_year if m > over_45)
    # Worst 2–6 month averages of windows ending in each month (prefix sums over `totals`).
    prefix = [0]
    for minutes in totals:
        prefix.append(prefix[-1] + minutes)
    lengths = frame.lengths
    worst, worst_sm = -1.0, None
    for i in range(start, frame.window_last + 1):
        end = i + 1
        best, best_len = -1.0, 0
        for length in lengths:
            average = (prefix[end] - prefix[end - length]) / length
            if average > best:
                best, best_len = average, length
        sm = year.months[i - start]
        sm.worst_average, sm.worst_length = best, best_len
        if best > worst:
            worst, worst_sm = best, sm
    if worst_sm is not None:
        year.worst_average = worst
        year.worst_window = worst_sm.worst_window
    reasons = [
        f"{sm.month:%Y年%-m月} {_hours(sm.minutes)}"
        for sm in present
        if sm.minutes >= rules.doctor_monthly_minutes
    ]
    if year.worst_average is not None and year.worst_average > rules.doctor_average_minutes:
        w = year.worst_window
        reasons.append(
            f"{w[0]:%Y年%-m月}〜{w[-1]:%Y年%-m月}の{len(w)}か月平均 {_hours(year.worst_average)}"
        )
    year.doctor_reasons = tuple(reasons)
    year.doctor_interview = bool(reasons)
    return year


# --- one person, one month (the 命令簿) --------------------------------------------------------


def month_orders(
    *, staff: Staff, month: dt.date, as_of_close: bool = True
) -> tuple[list[Counted], tuple[int, ...], ClosedMonths]:
    """One person's counted orders of a month with their bands (time order), the month's
    band sums, and the closed-month information. A fixed number of queries."""
    first = month.replace(day=1)
    last = month_last(first)
    staff_filter = Q(staff_id=staff.pk)
    closes = closed_months_between(first, last, staff_filter, as_of_close=as_of_close)
    grouped = staff_months(counted_rows(first, last, staff_filter), closes)
    orders = grouped.get(staff.pk, {}).get(first, [])
    kinds = DayKinds(first - dt.timedelta(days=1), last + dt.timedelta(days=3))
    bander = Bander(kinds, RulesByDay(last))
    ws = staff.work_schedule if staff.work_schedule_id else None
    total, _minutes, counted = bander.month(
        orders, work_schedule(ws), staff_id=staff.pk, detail=True
    )
    return counted, total, closes
