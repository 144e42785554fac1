"""The bulk aggregation against the pure rules: whatever the orders, a person's month in the
集計表 (one pass over the city, bands kept per shape) and in the 命令簿 (per order) has the
bands `overtime.month_bands` gives for the month's intervals, and rounding is
`overtime.round_monthly`."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from attendance import aggregates as agg
from attendance import overtime as ot
from attendance.calendar import calendar_day_set
from attendance.models import OvertimeOrder
from tests.attendance.office import build_office

JST = ZoneInfo("Asia/Tokyo")
JUNE = dt.date(2026, 6, 1)
pytestmark = pytest.mark.django_db


@pytest.fixture
def office(db):
    with time_machine.travel(dt.datetime(2026, 4, 1, 9, tzinfo=JST), tick=False):
        city = build_office(leave_year=2026)
    calendar_day_set(day=dt.date(2026, 6, 17), kind="holiday", name="市の休日", actor=city.hr)
    return city


interval = st.tuples(
    st.integers(1, 30),  # day
    st.integers(0, 23 * 4),  # start, in quarters of an hour
    st.integers(1, 16 * 4),  # length, in quarters
    st.sampled_from([0, 0, 30, 60]),  # break
    st.booleans(),  # confirmed (else only ordered: the plan counts)
)


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(st.lists(interval, max_size=14))
def test_summary_and_book_follow_month_bands(office, specs) -> None:
    kinds = agg.DayKinds(JUNE - dt.timedelta(days=1), dt.date(2026, 7, 3))
    intervals: list[tuple[dt.datetime, dt.datetime]] = []
    orders = []
    taken: list[tuple[dt.datetime, dt.datetime]] = []
    for day, quarter, length, brk, confirmed in specs:
        start = dt.datetime(2026, 6, day, tzinfo=JST) + dt.timedelta(minutes=15 * quarter)
        end = min(start + dt.timedelta(minutes=15 * length), dt.datetime(2026, 7, 1, tzinfo=JST))
        if end <= start or any(s < end and start < e for s, e in taken):
            continue
        taken.append((start, end))
        counted_start = start + dt.timedelta(minutes=brk) if confirmed else start
        bands = ot.interval_bands(counted_start, end, day_kind=kinds) if counted_start < end else {}
        minutes = sum(m for b, m in bands.items() if b in ot.COUNTS_TOWARD_60H)
        if counted_start < end:
            intervals.append((counted_start, end))
        orders.append(
            OvertimeOrder(
                staff=office.drafter,
                requested_by=office.drafter,
                department=office.soumu_ka,
                work_date=start.date(),
                task="検算",
                planned_start=start,
                planned_end=end,
                planned_minutes=minutes,
                actual_start=start if confirmed else None,
                actual_end=end if confirmed else None,
                break_minutes=brk if confirmed else 0,
                actual_minutes=minutes if confirmed else None,
                status="confirmed" if confirmed else "ordered",
            )
        )
    expected = ot.month_bands(intervals, day_kind=kinds)
    with transaction.atomic():
        OvertimeOrder.objects.bulk_create(orders)
        with time_machine.travel(dt.datetime(2026, 7, 10, 9, tzinfo=JST), tick=False):
            year = agg.overtime_year(fiscal_year=2026, department=office.soumu_ka)
            counted, total, _closes = agg.month_orders(staff=office.drafter, month=JUNE)
        transaction.set_rollback(True)
    june = next(s for s in year.staff if s.person.pk == office.drafter.pk).months[2]
    assert agg.bands_dict(june.bands) == expected
    assert agg.bands_dict(total) == expected
    assert june.rounded == tuple(ot.round_monthly(expected).values())
    assert june.minutes == june.band_minutes == sum(c.minutes for c in counted)
    # Per order, in time order, the bands add up to the month.
    assert [c.start for c in counted] == sorted(c.start for c in counted)
    assert tuple(map(sum, zip(*(c.bands for c in counted), strict=True))) == (
        total if counted else ()
    )


@given(st.lists(st.integers(0, 10_000), min_size=7, max_size=7), st.integers(1, 60))
def test_round_bands_is_round_monthly(minutes, up) -> None:
    rules = ot.OvertimeRules(rounding_up_from_minutes=up)
    bands = tuple(minutes)
    assert agg.round_bands(bands, rules) == tuple(
        ot.round_monthly(agg.bands_dict(bands), rules).values()
    )
