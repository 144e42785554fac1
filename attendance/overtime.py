"""Overtime (時間外勤務) rules as pure functions: pay bands, monthly rounding, caps.

Source: ../shared/domain/attendance.md ("Overtime caps" and "Order process and pay bands"),
which follows 人事院規則15-14 第16条の2の2 (caps) and 給与法第16条 (超過勤務手当 rates).
Every number is a field of :class:`OvertimeRules` with the national default, so a city can
keep its own values as data. Nothing here imports models: callers pass dataclasses, dates
and callables, and the functions return plain values. Durations are minutes.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

TOKYO = ZoneInfo("Asia/Tokyo")

DayKind = Literal["workday", "weekly_rest", "holiday"]
DayKindOf = Callable[[date], DayKind]
YearMonth = tuple[int, int]


class Band(enum.StrEnum):
    """超過勤務手当 bands; the rate of each is a field of :class:`OvertimeRules`."""

    WORKDAY = "workday"  # 勤務日の正規の勤務時間外 (125)
    WORKDAY_NIGHT = "workday_night"  # 同、22:00–5:00 (150)
    REST_DAY = "rest_day"  # 週休日 (135)
    REST_DAY_NIGHT = "rest_day_night"  # 週休日、22:00–5:00 (160)
    OVER_60 = "over_60"  # 月60時間超 (150)
    OVER_60_NIGHT = "over_60_night"  # 月60時間超、22:00–5:00 (175)
    HOLIDAY_PAY = "holiday_pay"  # 休日給: 休日の正規の勤務時間中 (135)


class DepartmentClass(enum.StrEnum):
    """人事院規則15-14 第16条の2の2: 自律部署 (normal) or 他律部署 (outside demand)."""

    NORMAL = "normal"
    OUTSIDE_DEMAND = "outside_demand"


def department_class(overtime_class: str) -> DepartmentClass:
    """The cap class of a department's `overtime_class` (org.Department.OvertimeClass).

    他律部署 ("taritsu") has the outside-demand caps. A 36協定 workplace ("art36") keeps
    the normal caps here; the agreement's own limits are not data yet.
    """
    if overtime_class in ("taritsu", DepartmentClass.OUTSIDE_DEMAND):
        return DepartmentClass.OUTSIDE_DEMAND
    return DepartmentClass.NORMAL


@dataclass(frozen=True, slots=True)
class WorkSchedule:
    """Regular hours (正規の勤務時間) of a schedule on a working day or a 休日.

    The standard schedule is 8:30–17:15 with a 12:00–13:00 break (465 min, attendance.md).
    """

    start: time = time(8, 30)
    end: time = time(17, 15)
    breaks: tuple[tuple[time, time], ...] = ((time(12, 0), time(13, 0)),)

    def is_regular(self, at: time) -> bool:
        """True when the minute starting at ``at`` is inside regular hours (not a break)."""
        return self.start <= at < self.end and not self.in_break(at)

    def in_break(self, at: time) -> bool:
        return any(b_start <= at < b_end for b_start, b_end in self.breaks)

    def boundaries(self) -> tuple[time, ...]:
        return (self.start, self.end, *(t for pair in self.breaks for t in pair))


STANDARD_SCHEDULE = WorkSchedule()


@dataclass(frozen=True, slots=True)
class OvertimeRules:
    """Every overtime number, with the national default (attendance.md; 人事院規則15-14).

    Rates are percent of the hourly wage (給与法第16条). Caps are minutes.
    """

    # Pay bands (給与法第16条, 人事院規則9-97).
    rate_workday: int = 125
    rate_workday_night: int = 150
    rate_rest_day: int = 135
    rate_rest_day_night: int = 160
    rate_over_60: int = 150
    rate_over_60_night: int = 175
    rate_holiday_pay: int = 135
    night_start: time = time(22, 0)
    night_end: time = time(5, 0)
    # 月60時間超: counted over the month's overtime in time order; 休日給 does not count.
    over_60_threshold_minutes: int = 60 * 60
    # Minutes inside the schedule's break on a working day or 休日 are taken as rest, since
    # reported intervals usually span the whole day; set True where the break is ordered work.
    break_counts_as_overtime: bool = False
    # Monthly rounding per band: remainder ≥ 30 min rounds up to the hour, < 30 is dropped.
    rounding_unit_minutes: int = 60
    rounding_up_from_minutes: int = 30
    # Caps (人事院規則15-14 第16条の2の2), fiscal year April–March.
    fiscal_year_start_month: int = 4
    normal_monthly_cap_minutes: int = 45 * 60  # ≤ 45 h
    normal_yearly_cap_minutes: int = 360 * 60  # ≤ 360 h
    outside_monthly_limit_minutes: int = 100 * 60  # < 100 h (strict)
    outside_yearly_cap_minutes: int = 720 * 60  # ≤ 720 h
    outside_average_cap_minutes: int = 80 * 60  # ≤ 80 h average
    outside_average_min_months: int = 2
    outside_average_max_months: int = 6
    outside_over_45_threshold_minutes: int = 45 * 60  # "> 45 h" months …
    outside_over_45_max_months: int = 6  # … at most 6 in a fiscal year
    warning_ratio_percent: int = 80
    # Doctor interview (面接指導): ≥ 100 h in a month or an average > 80 h.
    doctor_monthly_minutes: int = 100 * 60
    doctor_average_minutes: int = 80 * 60
    # 勤務間インターバル (since 2024-04, a duty to try): warn only.
    rest_interval_minutes: int = 11 * 60

    def rate(self, band: Band) -> int:
        """Percent paid for ``band``."""
        return {
            Band.WORKDAY: self.rate_workday,
            Band.WORKDAY_NIGHT: self.rate_workday_night,
            Band.REST_DAY: self.rate_rest_day,
            Band.REST_DAY_NIGHT: self.rate_rest_day_night,
            Band.OVER_60: self.rate_over_60,
            Band.OVER_60_NIGHT: self.rate_over_60_night,
            Band.HOLIDAY_PAY: self.rate_holiday_pay,
        }[band]

    def is_night(self, at: time) -> bool:
        if self.night_start <= self.night_end:
            return self.night_start <= at < self.night_end
        return at >= self.night_start or at < self.night_end


NATIONAL_RULES = OvertimeRules()

# Bands that count toward the 60-hour mark: all overtime except 休日給, which is pay for
# regular hours on a 休日, not work beyond them (給与法第16条第2項).
COUNTS_TOWARD_60H = frozenset(Band) - {Band.HOLIDAY_PAY}


def _empty_bands() -> dict[Band, int]:
    return dict.fromkeys(Band, 0)


def _tokyo(value: datetime, name: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware")
    local = value.astimezone(TOKYO)
    if local.second or local.microsecond:
        raise ValueError(f"{name} must fall on a whole minute")
    return local


def _base_band(
    local: datetime, kind: DayKind, schedule: WorkSchedule, rules: OvertimeRules
) -> Band | None:
    """Band of the minute starting at ``local`` before the 60-hour mark; None if not overtime."""
    at = local.time()
    night = rules.is_night(at)
    if kind == "weekly_rest":
        return Band.REST_DAY_NIGHT if night else Band.REST_DAY
    if kind not in ("workday", "holiday"):
        raise ValueError(f"unknown day kind {kind!r}")
    if schedule.is_regular(at):
        return Band.HOLIDAY_PAY if kind == "holiday" else None
    if schedule.in_break(at) and not rules.break_counts_as_overtime:
        return None
    return Band.WORKDAY_NIGHT if night else Band.WORKDAY


def _walk(
    start: datetime,
    end: datetime,
    *,
    day_kind: DayKindOf,
    schedule: WorkSchedule,
    rules: OvertimeRules,
    counters: dict[YearMonth, int],
    into: dict[Band, int],
) -> None:
    """Classify [start, end) minute by minute, in constant-band segments for speed."""
    cuts = {time(0, 0), rules.night_start, rules.night_end, *schedule.boundaries()}
    cursor = start
    while cursor < end:
        day = cursor.date()
        next_midnight = datetime.combine(day + timedelta(days=1), time(0, 0), tzinfo=TOKYO)
        later = [datetime.combine(day, t, tzinfo=TOKYO) for t in cuts]
        seg_end = min([end, next_midnight, *(c for c in later if c > cursor)])
        minutes = int((seg_end - cursor).total_seconds()) // 60
        band = _base_band(cursor, day_kind(day), schedule, rules)
        if band is None:
            pass
        elif band not in COUNTS_TOWARD_60H:
            into[band] += minutes
        else:
            month = (day.year, day.month)
            before = counters.get(month, 0)
            below = max(0, min(minutes, rules.over_60_threshold_minutes - before))
            into[band] += below
            night = band in (Band.WORKDAY_NIGHT, Band.REST_DAY_NIGHT)
            into[Band.OVER_60_NIGHT if night else Band.OVER_60] += minutes - below
            counters[month] = before + minutes
        cursor = seg_end


def month_bands(
    intervals: Iterable[tuple[datetime, datetime]],
    *,
    day_kind: DayKindOf,
    schedule: WorkSchedule = STANDARD_SCHEDULE,
    rules: OvertimeRules = NATIONAL_RULES,
    overtime_before: Mapping[YearMonth, int] | None = None,
) -> dict[Band, int]:
    """Minutes per band of worked intervals (attendance.md "Order process and pay bands").

    Each minute takes the kind of its own calendar day in Asia/Tokyo, so an interval across
    midnight into a 週休日 changes band at 0:00. Working day: regular hours are not overtime,
    outside them 125, 22:00–5:00 150. 週休日: 135, night 160. 休日: regular hours 135 (休日給),
    outside them as on a working day. Once the month's overtime (in time order, 休日給 excluded)
    passes 60 h, further minutes are 150, night 175 (給与法第16条第2項). ``overtime_before``
    gives overtime minutes already worked in a month before these intervals. Intervals must
    be aware datetimes on whole minutes and must not overlap.
    """
    counters = dict(overtime_before or {})
    result = _empty_bands()
    previous_end: datetime | None = None
    local = sorted((_tokyo(s, "start"), _tokyo(e, "end")) for s, e in intervals)
    for start, end in local:
        if end < start:
            raise ValueError("an interval ends before it starts")
        if previous_end is not None and start < previous_end:
            raise ValueError("intervals overlap")
        _walk(
            start,
            end,
            day_kind=day_kind,
            schedule=schedule,
            rules=rules,
            counters=counters,
            into=result,
        )
        previous_end = end
    return result


def interval_bands(
    start: datetime,
    end: datetime,
    *,
    day_kind: DayKindOf,
    schedule: WorkSchedule = STANDARD_SCHEDULE,
    rules: OvertimeRules = NATIONAL_RULES,
    overtime_before_in_month: int = 0,
) -> dict[Band, int]:
    """Minutes per band of one interval; see :func:`month_bands` for the rules.

    ``overtime_before_in_month`` is the overtime already counted in the start's month.
    """
    local_start = _tokyo(start, "start")
    return month_bands(
        [(start, end)],
        day_kind=day_kind,
        schedule=schedule,
        rules=rules,
        overtime_before={(local_start.year, local_start.month): overtime_before_in_month},
    )


def round_monthly(
    minutes_by_band: Mapping[Band, int], rules: OvertimeRules = NATIONAL_RULES
) -> dict[Band, int]:
    """Round the month's minutes of each band separately (attendance.md: "per band").

    The remainder of each band's monthly sum below the hour is rounded up to the hour when
    ≥ 30 min and dropped when < 30 min; remainders of different bands are never combined.
    Returns minutes (a multiple of 60) per band.
    """
    unit = rules.rounding_unit_minutes
    rounded: dict[Band, int] = {}
    for band, minutes in minutes_by_band.items():
        whole, remainder = divmod(minutes, unit)
        rounded[band] = (whole + (remainder >= rules.rounding_up_from_minutes)) * unit
    return rounded


# --- Caps -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CapFinding:
    """One breached (or nearly breached) cap, with the numbers behind it.

    ``value`` and ``limit`` are minutes, except for ``months_over_45h`` where they count
    months. ``months`` are the first days of the months involved.
    """

    rule: str
    value: int | float
    limit: int | float
    months: tuple[date, ...]
    message: str


@dataclass(frozen=True, slots=True)
class CapCheck:
    violations: tuple[CapFinding, ...] = ()
    warnings: tuple[CapFinding, ...] = ()
    doctor_interview: bool = False
    doctor_reasons: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return not self.violations


def month_start(value: date) -> date:
    return value.replace(day=1)


def add_months(value: date, months: int) -> date:
    """The first day of the month `months` after the month of `value` (negative: before)."""
    index = value.year * 12 + value.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def month_end(value: date) -> date:
    """The last day of the month of `value`."""
    return add_months(value, 1) - timedelta(days=1)


def fiscal_year_months(month: date, rules: OvertimeRules = NATIONAL_RULES) -> tuple[date, ...]:
    """The twelve months of the fiscal year (April–March by default) containing ``month``."""
    first = rules.fiscal_year_start_month
    year = month.year if month.month >= first else month.year - 1
    start = date(year, first, 1)
    return tuple(add_months(start, i) for i in range(12))


def _hours(minutes: float) -> str:
    return f"{minutes / 60:g} h"


def cap_check(
    history_minutes_by_month: Mapping[date, int],
    proposed_minutes: int,
    month: date,
    department_class: DepartmentClass,
    rules: OvertimeRules = NATIONAL_RULES,
) -> CapCheck:
    """Check the caps of 人事院規則15-14 第16条の2の2 after adding ``proposed_minutes`` to
    ``month`` (attendance.md "Overtime caps").

    ``history_minutes_by_month`` maps any day of a month to that month's overtime minutes
    (previous fiscal years may be included: the 2–6 month averages run across the fiscal
    year boundary, as the 人事院 guidance has it). Normal departments: ≤ 45 h a month and
    ≤ 360 h a fiscal year. 他律部署: < 100 h a month, ≤ 720 h a fiscal year, ≤ 80 h average
    over every 2–6 month window that contains ``month``, and > 45 h in at most 6 months of
    the fiscal year. A warning is given at 80 % of each cap that is not breached. The doctor
    interview is flagged at ≥ 100 h in the month or an average > 80 h, whatever the class.
    Overtime for 特例業務 may exceed the caps; that decision belongs to the caller.
    """
    totals: dict[date, int] = {}
    for key, minutes in history_minutes_by_month.items():
        totals[month_start(key)] = totals.get(month_start(key), 0) + minutes
    target = month_start(month)
    totals[target] = totals.get(target, 0) + proposed_minutes
    fiscal_year = fiscal_year_months(target, rules)
    month_total = totals[target]
    year_total = sum(totals.get(m, 0) for m in fiscal_year)
    ratio = rules.warning_ratio_percent / 100

    violations: list[CapFinding] = []
    warnings: list[CapFinding] = []

    def check(
        rule: str,
        value: float,
        limit: int,
        months: tuple[date, ...],
        message: str,
        *,
        strict: bool = False,
    ) -> None:
        breached = value >= limit if strict else value > limit
        if breached:
            violations.append(CapFinding(rule, value, limit, months, message))
        elif value >= limit * ratio:
            note = f"{message} (at {rules.warning_ratio_percent} % of the cap)"
            warnings.append(CapFinding(rule, value, limit, months, note))

    if department_class == DepartmentClass.NORMAL:
        check(
            "monthly_cap",
            month_total,
            rules.normal_monthly_cap_minutes,
            (target,),
            f"{_hours(month_total)} in the month; cap {_hours(rules.normal_monthly_cap_minutes)}",
        )
        check(
            "yearly_cap",
            year_total,
            rules.normal_yearly_cap_minutes,
            fiscal_year,
            f"{_hours(year_total)} in the fiscal year; "
            f"cap {_hours(rules.normal_yearly_cap_minutes)}",
        )
    elif department_class == DepartmentClass.OUTSIDE_DEMAND:
        limit = rules.outside_monthly_limit_minutes
        check(
            "monthly_cap",
            month_total,
            limit,
            (target,),
            f"{_hours(month_total)} in the month; must stay under {_hours(limit)}",
            strict=True,
        )
        check(
            "yearly_cap",
            year_total,
            rules.outside_yearly_cap_minutes,
            fiscal_year,
            f"{_hours(year_total)} in the fiscal year; "
            f"cap {_hours(rules.outside_yearly_cap_minutes)}",
        )
        for average, window in worst_averages(totals, target, rules):
            check(
                "average_cap",
                average,
                rules.outside_average_cap_minutes,
                window,
                f"{_hours(average)} average over {len(window)} months from {window[0]:%Y-%m}; "
                f"cap {_hours(rules.outside_average_cap_minutes)}",
            )
        over = tuple(
            m for m in fiscal_year if totals.get(m, 0) > rules.outside_over_45_threshold_minutes
        )
        # Only a month that is itself over 45 h can be the one that breaks the count.
        if month_total > rules.outside_over_45_threshold_minutes or len(over) <= (
            rules.outside_over_45_max_months
        ):
            check(
                "months_over_45h",
                len(over),
                rules.outside_over_45_max_months,
                over,
                f"{len(over)} months over {_hours(rules.outside_over_45_threshold_minutes)} in "
                f"the fiscal year; at most {rules.outside_over_45_max_months}",
            )
    else:
        raise ValueError(f"unknown department class {department_class!r}")

    reasons: list[str] = []
    if month_total >= rules.doctor_monthly_minutes:
        reasons.append(f"{_hours(month_total)} in {target:%Y-%m}")
    averages = worst_averages(totals, target, rules)
    worst = max(averages, key=lambda pair: pair[0], default=None)
    if worst is not None and worst[0] > rules.doctor_average_minutes:
        average, window = worst
        reasons.append(
            f"{_hours(average)} average over {len(window)} months from {window[0]:%Y-%m}"
        )
    return CapCheck(tuple(violations), tuple(warnings), bool(reasons), tuple(reasons))


def worst_averages(
    totals: Mapping[date, int], target: date, rules: OvertimeRules = NATIONAL_RULES
) -> list[tuple[float, tuple[date, ...]]]:
    """For each window length of 2–6 months, the highest average over a window containing
    ``target``, with the window.

    Only windows containing ``target`` are judged: a proposal for one month cannot be refused
    for a breach that happened without it. Months without a record count as zero; windows
    reaching past the last known month are left out, since those months have not happened.
    """
    last = max(totals)
    result: list[tuple[float, tuple[date, ...]]] = []
    for length in range(rules.outside_average_min_months, rules.outside_average_max_months + 1):
        best: tuple[float, tuple[date, ...]] | None = None
        for offset in range(length):
            window = tuple(add_months(target, i - offset) for i in range(length))
            if window[-1] > last:
                continue
            average = sum(totals.get(m, 0) for m in window) / length
            if best is None or average > best[0]:
                best = (average, window)
        if best is not None:
            result.append(best)
    return result


@dataclass(frozen=True, slots=True)
class RestIntervalWarning:
    rest_minutes: int
    required_minutes: int
    message: str


def rest_interval_warning(
    previous_end: datetime,
    next_start: datetime,
    rules: OvertimeRules = NATIONAL_RULES,
) -> RestIntervalWarning | None:
    """Warn when the rest between two duties is shorter than 11 hours.

    勤務間インターバル (人事院規則15-14, since 2024-04; attendance.md) is a duty to try, so this
    warns and never refuses. Both datetimes must be aware.
    """
    end = _tokyo(previous_end.replace(second=0, microsecond=0), "previous_end")
    start = _tokyo(next_start.replace(second=0, microsecond=0), "next_start")
    rest = int((start - end).total_seconds()) // 60
    if rest >= rules.rest_interval_minutes:
        return None
    return RestIntervalWarning(
        rest,
        rules.rest_interval_minutes,
        f"only {rest // 60} h {rest % 60:02d} min rest before {start:%Y-%m-%d %H:%M}; "
        f"{_hours(rules.rest_interval_minutes)} is the target",
    )
