"""Overtime bands, monthly rounding and caps (attendance.md; 人事院規則15-14)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from attendance.overtime import (
    COUNTS_TOWARD_60H,
    NATIONAL_RULES,
    STANDARD_SCHEDULE,
    TOKYO,
    Band,
    DayKind,
    DepartmentClass,
    OvertimeRules,
    cap_check,
    fiscal_year_months,
    interval_bands,
    month_bands,
    rest_interval_warning,
    round_monthly,
)

# 12/29–1/3 年末年始, 年末年始, 2026-01-12 成人の日 (a Monday).
HOLIDAYS = {
    date(2025, 12, 29),
    date(2025, 12, 30),
    date(2025, 12, 31),
    date(2026, 1, 1),
    date(2026, 1, 2),
    date(2026, 1, 3),
    date(2026, 1, 12),
    date(2026, 12, 29),
    date(2026, 12, 30),
    date(2026, 12, 31),
}


def day_kind(day: date) -> DayKind:
    if day in HOLIDAYS:
        return "holiday"
    if day.weekday() >= 5:
        return "weekly_rest"
    return "workday"


def at(day: int, hour: int, minute: int = 0, month: int = 1) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=TOKYO)


def h(hours: float) -> int:
    return round(hours * 60)


def nonzero(bands: dict[Band, int]) -> dict[Band, int]:
    return {band: minutes for band, minutes in bands.items() if minutes}


W, WN, R, RN = Band.WORKDAY, Band.WORKDAY_NIGHT, Band.REST_DAY, Band.REST_DAY_NIGHT
O60, O60N, HP = Band.OVER_60, Band.OVER_60_NIGHT, Band.HOLIDAY_PAY


@pytest.mark.parametrize(
    ("start", "end", "before", "expected"),
    [
        pytest.param(at(13, 8, 30), at(13, 17, 15), 0, {}, id="workday-regular-hours"),
        pytest.param(at(13, 17, 15), at(13, 20), 0, {W: 165}, id="workday-evening"),
        pytest.param(at(13, 20), at(13, 23), 0, {W: 120, WN: 60}, id="workday-into-night"),
        pytest.param(at(13, 4), at(13, 8, 30), 0, {WN: 60, W: 210}, id="workday-early-morning"),
        pytest.param(
            at(13, 21), at(14, 6), 0, {W: 120, WN: 420}, id="across-midnight-workday-to-workday"
        ),
        pytest.param(
            at(9, 21), at(10, 2), 0, {W: 60, WN: 120, RN: 120}, id="midnight-into-weekly-rest"
        ),
        pytest.param(
            at(18, 23), at(19, 10), 0, {RN: 60, WN: 300, W: 210}, id="weekly-rest-into-workday"
        ),
        pytest.param(at(10, 9), at(10, 17), 0, {R: 480}, id="weekly-rest-day"),
        pytest.param(at(10, 20), at(11, 1), 0, {R: 120, RN: 180}, id="weekly-rest-night"),
        pytest.param(at(12, 8, 30), at(12, 17, 15), 0, {HP: 465}, id="holiday-regular-hours"),
        pytest.param(at(12, 8, 30), at(12, 19), 0, {HP: 465, W: 105}, id="holiday-and-beyond"),
        pytest.param(at(12, 7), at(12, 8, 30), 0, {W: 90}, id="holiday-before-hours"),
        pytest.param(at(12, 21), at(12, 23), 0, {W: 60, WN: 60}, id="holiday-night"),
        pytest.param(at(13, 17, 15), at(13, 20, 15), h(59), {W: 60, O60: 120}, id="crossing-60h"),
        pytest.param(
            at(13, 21), at(13, 23), h(59.5), {W: 30, O60: 30, O60N: 60}, id="crossing-60h-at-night"
        ),
        pytest.param(at(10, 9), at(10, 12), 3500, {R: 100, O60: 80}, id="crossing-60h-rest-day"),
        pytest.param(at(10, 21), at(10, 23), h(61), {O60: 60, O60N: 60}, id="over-60h-rest-night"),
        pytest.param(
            at(12, 8, 30), at(12, 18, 15), 3590, {HP: 465, W: 10, O60: 50}, id="holiday-pay-not-60h"
        ),
        pytest.param(
            at(31, 22),
            at(1, 2, month=2),
            h(60),
            {O60N: 120, RN: 120},
            id="60h-counter-resets-at-month-end",
        ),
    ],
)
def test_interval_bands(
    start: datetime, end: datetime, before: int, expected: dict[Band, int]
) -> None:
    bands = interval_bands(start, end, day_kind=day_kind, overtime_before_in_month=before)
    assert nonzero(bands) == expected


def test_sixty_hour_mark_counted_in_time_order_over_the_month() -> None:
    # 15 evenings of 4 h reach 60 h; the 16th evening is all beyond it. Given out of order.
    workdays = [d for d in range(1, 32) if day_kind(date(2026, 1, d)) == "workday"]
    intervals = [(at(d, 17, 15), at(d, 21, 15)) for d in workdays[:16]]
    bands = month_bands(reversed(intervals), day_kind=day_kind)
    assert nonzero(bands) == {W: h(60), O60: h(4)}
    # The first evening would be 125 if taken on its own; only time order decides.
    assert nonzero(month_bands(intervals[:1], day_kind=day_kind)) == {W: h(4)}


def test_break_minutes_follow_the_rule() -> None:
    day = (at(13, 12), at(13, 13))
    assert nonzero(month_bands([day], day_kind=day_kind)) == {}
    rules = OvertimeRules(break_counts_as_overtime=True)
    assert nonzero(month_bands([day], day_kind=day_kind, rules=rules)) == {W: 60}


def test_city_rules_change_the_numbers() -> None:
    rules = OvertimeRules(night_start=time(21, 0), over_60_threshold_minutes=h(45))
    bands = interval_bands(
        at(13, 20), at(13, 22), day_kind=day_kind, rules=rules, overtime_before_in_month=h(45)
    )
    assert nonzero(bands) == {O60: 60, O60N: 60}
    assert rules.rate(O60N) == 175
    assert NATIONAL_RULES.rate(R) == 135


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        (datetime(2026, 1, 13, 18), datetime(2026, 1, 13, 19), "timezone-aware"),  # noqa: DTZ001
        (at(13, 18), at(13, 17), "ends before"),
        (at(13, 18).replace(second=30), at(13, 19), "whole minute"),
    ],
)
def test_bad_intervals_are_refused(start: datetime, end: datetime, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        month_bands([(start, end)], day_kind=day_kind)


def test_overlapping_intervals_are_refused() -> None:
    with pytest.raises(ValueError, match="overlap"):
        month_bands([(at(13, 18), at(13, 20)), (at(13, 19), at(13, 21))], day_kind=day_kind)


def test_utc_input_is_read_in_tokyo() -> None:
    # 12:00 UTC is 21:00 in Tokyo.
    start = datetime(2026, 1, 13, 12, tzinfo=UTC)
    bands = interval_bands(start, start + timedelta(hours=2), day_kind=day_kind)
    assert nonzero(bands) == {W: 60, WN: 60}


# --- Monthly rounding -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("minutes", "rounded"),
    [(0, 0), (29, 0), (30, 60), (59, 60), (60, 60), (89, 60), (90, 120), (h(61) + 29, h(61))],
)
def test_round_monthly(minutes: int, rounded: int) -> None:
    assert round_monthly({W: minutes}) == {W: rounded}


def test_rounding_remainders_stay_in_their_band() -> None:
    # 29 + 29 would be 58 minutes together; per band each 29 is dropped.
    assert round_monthly({W: 29, WN: 29, R: 30}) == {W: 0, WN: 0, R: 60}


# --- Caps -------------------------------------------------------------------------------


def months(*hours: float, first: date = date(2026, 4, 1)) -> dict[date, int]:
    result = {}
    for i, value in enumerate(hours):
        index = first.month - 1 + i
        result[date(first.year + index // 12, index % 12 + 1, 1)] = h(value)
    return result


NORMAL, OUTSIDE = DepartmentClass.NORMAL, DepartmentClass.OUTSIDE_DEMAND


def rules_of(findings) -> set[str]:
    return {finding.rule for finding in findings}


@pytest.mark.parametrize(
    ("history", "proposed", "month", "department", "violations", "warnings"),
    [
        pytest.param({}, h(35), date(2026, 5, 1), NORMAL, set(), set(), id="normal-35h-quiet"),
        pytest.param(
            {}, h(36), date(2026, 5, 1), NORMAL, set(), {"monthly_cap"}, id="normal-36h-warns"
        ),
        pytest.param(
            months(20), h(25), date(2026, 4, 15), NORMAL, set(), {"monthly_cap"}, id="normal-45h"
        ),
        pytest.param(
            {}, h(45) + 1, date(2026, 5, 1), NORMAL, {"monthly_cap"}, set(), id="normal-over-45h"
        ),
        pytest.param(
            months(*[32] * 11),
            h(8),
            date(2027, 3, 1),
            NORMAL,
            set(),
            {"yearly_cap"},
            id="normal-360h",
        ),
        pytest.param(
            months(*[32] * 11),
            h(9),
            date(2027, 3, 1),
            NORMAL,
            {"yearly_cap"},
            set(),
            id="normal-over-360h",
        ),
        pytest.param(
            months(*[24] * 12),
            h(0),
            date(2026, 5, 1),
            NORMAL,
            set(),
            {"yearly_cap"},
            id="normal-288h-warns",
        ),
        pytest.param(
            months(40, first=date(2026, 3, 1)),
            h(10),
            date(2026, 4, 1),
            NORMAL,
            set(),
            set(),
            id="march-is-the-previous-fiscal-year",
        ),
        pytest.param({}, h(79), date(2026, 5, 1), OUTSIDE, set(), set(), id="outside-79h"),
        pytest.param(
            {}, h(80), date(2026, 5, 1), OUTSIDE, set(), {"monthly_cap"}, id="outside-80h-warns"
        ),
        pytest.param(
            {}, h(100) - 1, date(2026, 5, 1), OUTSIDE, set(), {"monthly_cap"}, id="outside-99h59"
        ),
        pytest.param(
            {}, h(100), date(2026, 5, 1), OUTSIDE, {"monthly_cap"}, set(), id="outside-100h"
        ),
        pytest.param(
            months(*[80] * 5, *[45] * 6),
            h(45),
            date(2027, 3, 1),
            OUTSIDE,
            set(),
            {"yearly_cap", "months_over_45h"},
            id="outside-715h-warns",
        ),
        pytest.param(
            months(*[80] * 5, *[45] * 6),
            h(79),
            date(2027, 3, 1),
            OUTSIDE,
            {"yearly_cap"},
            {"months_over_45h"},
            id="outside-over-720h",
        ),
    ],
)
def test_cap_table(
    history: dict[date, int],
    proposed: int,
    month: date,
    department: DepartmentClass,
    violations: set[str],
    warnings: set[str],
) -> None:
    result = cap_check(history, proposed, month, department)
    assert rules_of(result.violations) == violations
    assert rules_of(result.warnings) - {"average_cap"} == warnings - {"average_cap"}
    assert result.ok is not violations


def test_monthly_violation_carries_its_numbers() -> None:
    result = cap_check(months(40), h(6), date(2026, 4, 1), NORMAL)
    (finding,) = result.violations
    assert (finding.rule, finding.value, finding.limit) == ("monthly_cap", h(46), h(45))
    assert finding.months == (date(2026, 4, 1),)
    assert "46 h" in finding.message


@pytest.mark.parametrize(
    ("history", "proposed", "month", "length", "average"),
    [
        pytest.param(months(90), h(85), date(2026, 5, 1), 2, h(87.5), id="2-month-87.5h"),
        pytest.param(
            months(90, 85), h(70), date(2026, 6, 1), 3, (h(90) + h(85) + h(70)) / 3, id="3-month"
        ),
        pytest.param(months(99, 99, 99), h(30), date(2026, 7, 1), 4, h(81.75), id="4-month"),
        pytest.param(months(99, 99, 99, 99), h(10), date(2026, 8, 1), 5, h(81.2), id="5-month"),
        pytest.param(
            months(99, 99, 99, 99, 99), h(1), date(2026, 9, 1), 6, h(496 / 6), id="6-month"
        ),
        pytest.param(
            months(90, first=date(2026, 3, 1)),
            h(85),
            date(2026, 4, 1),
            2,
            h(87.5),
            id="across-the-fiscal-year",
        ),
        pytest.param(
            {date(2026, 5, 1): h(90), date(2026, 6, 1): h(20)},
            h(85),
            date(2026, 4, 1),
            2,
            h(87.5),
            id="window-after-a-corrected-month",
        ),
    ],
)
def test_average_cap(
    history: dict[date, int], proposed: int, month: date, length: int, average: float
) -> None:
    result = cap_check(history, proposed, month, OUTSIDE)
    breaches = [f for f in result.violations if f.rule == "average_cap"]
    (finding,) = [f for f in breaches if len(f.months) == length]
    assert finding.value == pytest.approx(average)
    assert finding.limit == h(80)
    assert month in finding.months
    # Shorter windows with the month stay within the cap in these cases.
    assert all(len(f.months) >= length for f in breaches)
    assert result.doctor_interview


def test_average_of_exactly_80h_is_allowed_but_warned() -> None:
    result = cap_check(months(80), h(80), date(2026, 5, 1), OUTSIDE)
    assert "average_cap" not in rules_of(result.violations)
    assert "average_cap" in rules_of(result.warnings)
    assert not result.doctor_interview


def test_past_breach_does_not_refuse_a_later_small_month() -> None:
    # April + May averaged 87.5 h; June's windows with 10 h stay under 80 h.
    result = cap_check(months(90, 85), h(10), date(2026, 6, 1), OUTSIDE)
    assert "average_cap" not in rules_of(result.violations)


@pytest.mark.parametrize(
    ("proposed", "violation", "warning"),
    [
        pytest.param(h(46), True, False, id="7th-month-over-45h-refused"),
        pytest.param(h(45), False, True, id="exactly-45h-is-not-over"),
    ],
)
def test_six_month_rule(proposed: int, violation: bool, warning: bool) -> None:
    history = months(*[50] * 6)  # April–September over 45 h
    result = cap_check(history, proposed, date(2026, 10, 1), OUTSIDE)
    assert ("months_over_45h" in rules_of(result.violations)) is violation
    assert ("months_over_45h" in rules_of(result.warnings)) is warning
    if violation:
        (finding,) = [f for f in result.violations if f.rule == "months_over_45h"]
        assert (finding.value, finding.limit) == (7, 6)
        assert finding.months[-1] == date(2026, 10, 1)


def test_six_month_rule_warns_at_five_months() -> None:
    result = cap_check(months(*[50] * 4), h(50), date(2026, 8, 1), OUTSIDE)
    assert "months_over_45h" in rules_of(result.warnings)
    assert cap_check(months(*[50] * 3), h(50), date(2026, 7, 1), OUTSIDE).warnings == ()


def test_six_month_rule_counts_the_fiscal_year_only() -> None:
    history = months(*[50] * 6, first=date(2025, 10, 1))  # Oct 2025 – Mar 2026
    result = cap_check(history, h(46), date(2026, 4, 1), OUTSIDE)
    assert "months_over_45h" not in rules_of(result.violations)


@pytest.mark.parametrize(
    ("history", "proposed", "department", "flag"),
    [
        pytest.param({}, h(100), OUTSIDE, True, id="100h-outside"),
        pytest.param({}, h(100), NORMAL, True, id="100h-normal-special-duty"),
        pytest.param({}, h(100) - 1, OUTSIDE, False, id="99h59"),
        pytest.param(months(90), h(85), OUTSIDE, True, id="average-87.5h"),
        pytest.param(months(80), h(80), OUTSIDE, False, id="average-exactly-80h"),
    ],
)
def test_doctor_interview_flag(
    history: dict[date, int], proposed: int, department: DepartmentClass, flag: bool
) -> None:
    result = cap_check(history, proposed, date(2026, 5, 1), department)
    assert result.doctor_interview is flag
    assert bool(result.doctor_reasons) is flag


def test_fiscal_year_months() -> None:
    fy = fiscal_year_months(date(2027, 2, 14))
    assert (fy[0], fy[-1], len(fy)) == (date(2026, 4, 1), date(2027, 3, 1), 12)


@pytest.mark.parametrize(
    ("previous_end", "next_start", "rest"),
    [
        pytest.param(at(13, 22), at(14, 8, 30), 630, id="10h30-warns"),
        pytest.param(at(13, 21, 30), at(14, 8, 30), None, id="11h-is-enough"),
        pytest.param(at(14, 1), at(14, 8, 30), 450, id="after-midnight"),
        pytest.param(
            datetime(2026, 1, 13, 14, tzinfo=UTC), at(14, 8, 30), 570, id="utc-previous-end"
        ),
    ],
)
def test_rest_interval_warning(
    previous_end: datetime, next_start: datetime, rest: int | None
) -> None:
    warning = rest_interval_warning(previous_end, next_start)
    if rest is None:
        assert warning is None
    else:
        assert warning is not None
        assert (warning.rest_minutes, warning.required_minutes) == (rest, 660)


# --- Properties -------------------------------------------------------------------------

BASE = datetime(2025, 12, 20, tzinfo=TOKYO)
minute_offsets = st.integers(min_value=0, max_value=60 * 24 * 60)
lengths = st.integers(min_value=0, max_value=60 * 24 * 3)


@settings(max_examples=300)
@given(
    offset=minute_offsets,
    length=lengths,
    cut=st.floats(min_value=0, max_value=1),
    before=st.integers(min_value=0, max_value=h(62)),
)
def test_splitting_an_interval_keeps_the_band_totals(
    offset: int, length: int, cut: float, before: int
) -> None:
    start = BASE + timedelta(minutes=offset)
    end = start + timedelta(minutes=length)
    middle = start + timedelta(minutes=round(length * cut))
    prior = {(start.year, start.month): before}
    whole = month_bands([(start, end)], day_kind=day_kind, overtime_before=prior)
    split = month_bands([(start, middle), (middle, end)], day_kind=day_kind, overtime_before=prior)
    assert whole == split
    assert sum(whole.values()) <= length


def minute_by_minute(start: datetime, end: datetime, before: int) -> dict[Band, int]:
    """Reference: the rules applied to each minute on its own, plainly."""
    result = dict.fromkeys(Band, 0)
    counters = {(start.year, start.month): before}
    t = start
    while t < end:
        kind, clock = day_kind(t.date()), t.time()
        night = clock >= time(22) or clock < time(5)
        regular = STANDARD_SCHEDULE.is_regular(clock)
        lunch = STANDARD_SCHEDULE.in_break(clock)
        band: Band | None
        if kind == "weekly_rest":
            band = RN if night else R
        elif regular:
            band = HP if kind == "holiday" else None
        elif lunch:
            band = None
        else:
            band = WN if night else W
        if band in COUNTS_TOWARD_60H:
            key = (t.year, t.month)
            if counters.get(key, 0) >= h(60):
                band = O60N if night else O60
            counters[key] = counters.get(key, 0) + 1
        if band is not None:
            result[band] += 1
        t += timedelta(minutes=1)
    return result


@settings(max_examples=100)
@given(
    offset=minute_offsets,
    length=st.integers(min_value=0, max_value=60 * 30),
    before=st.integers(min_value=0, max_value=h(62)),
)
def test_segments_agree_with_a_minute_by_minute_reference(
    offset: int, length: int, before: int
) -> None:
    start = BASE + timedelta(minutes=offset)
    end = start + timedelta(minutes=length)
    got = interval_bands(start, end, day_kind=day_kind, overtime_before_in_month=before)
    assert got == minute_by_minute(start, end, before)
