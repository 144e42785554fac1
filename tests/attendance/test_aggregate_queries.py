"""The 時間外勤務集計表 (and the 出勤簿 and 年休取得状況) cost the same number of queries at
10 and at 500 staff."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from attendance import aggregates as agg
from attendance import reports
from attendance.models import MonthClose, OvertimeOrder
from org.models import Assignment, Staff
from tests.attendance.office import build_office

JST = ZoneInfo("Asia/Tokyo")
BOUND = 12
pytestmark = pytest.mark.django_db

# (day, start, end, minutes) in each month: a weekday evening, a later one, a Saturday.
SHAPES = [(2, (17, 15), (19, 15), 120), (9, (17, 15), (23, 15), 360), (13, (9, 0), (13, 0), 240)]


@pytest.fixture
def office(db):
    with time_machine.travel(dt.datetime(2026, 4, 1, 9, tzinfo=JST), tick=False):
        city = build_office(leave_year=2026)
    MonthClose.objects.create(
        month=dt.date(2026, 4, 1),
        closed_at=dt.datetime(2026, 5, 3, 9, tzinfo=JST),
        closed_by=city.hr,
    )
    return city


def add_staff(office, n: int) -> None:
    """`n` more people in 総務課, each with three confirmed orders a month, April–June."""
    start = Staff.objects.count()
    people = Staff.objects.bulk_create(
        Staff(
            username=f"bulk{start + i}",
            password="!",
            last_name="一括",
            first_name=f"{start + i}",
            employee_number=f"B{start + i:06d}",
        )
        for i in range(n)
    )
    Assignment.objects.bulk_create(
        Assignment(
            staff=p,
            department=office.soumu_ka,
            post=office.posts["shuji"],
            start=dt.date(2020, 4, 1),
        )
        for p in people
    )
    orders = []
    for p in people:
        for month in (4, 5, 6):
            for day, (h1, m1), (h2, m2), minutes in SHAPES:
                begin = dt.datetime(2026, month, day, h1, m1, tzinfo=JST)
                end = dt.datetime(2026, month, day, h2, m2, tzinfo=JST)
                orders.append(
                    OvertimeOrder(
                        staff=p,
                        requested_by=p,
                        department=office.soumu_ka,
                        work_date=begin.date(),
                        task="一括",
                        planned_start=begin,
                        planned_end=end,
                        planned_minutes=minutes,
                        actual_start=begin,
                        actual_end=end,
                        actual_minutes=minutes,
                        status=OvertimeOrder.Status.CONFIRMED,
                        created_at=timezone.now(),
                    )
                )
    OvertimeOrder.objects.bulk_create(orders)


def count(fn) -> int:
    with CaptureQueriesContext(connection) as ctx:
        fn()
    return len(ctx.captured_queries)


def test_summary_queries_do_not_grow_with_staff(office, django_assert_max_num_queries) -> None:
    def aggregate():
        return agg.overtime_year(fiscal_year=2026, department=office.soumu_ka)

    def report():
        return reports.overtime_summary(office.soumu_ka, 2026).to_xlsx()

    def others():
        june = dt.date(2026, 6, 1)
        return (
            count(lambda: reports.attendance_roll(office.soumu_ka, june).to_xlsx()),
            count(lambda: reports.annual_leave_status(office.soumu_ka, 2026).to_csv()),
            count(lambda: reports.annual_leave_status(None, 2026).to_csv()),
        )

    with time_machine.travel(dt.datetime(2026, 7, 10, 9, tzinfo=JST), tick=False):
        add_staff(office, 10)
        with django_assert_max_num_queries(BOUND):
            small = aggregate()
        small_counts = (count(aggregate), count(report), *others())
        add_staff(office, 490)
        with django_assert_max_num_queries(BOUND):
            large = aggregate()
        large_counts = (count(aggregate), count(report), *others())
        everyone_small = count(lambda: agg.overtime_year(fiscal_year=2026))
        add_staff(office, 10)
        everyone_large = count(lambda: agg.overtime_year(fiscal_year=2026))
    assert len(large.staff) == len(small.staff) + 490
    assert small_counts == large_counts
    assert everyone_small == everyone_large <= BOUND
    june = dt.date(2026, 6, 1)
    bulk = next(s for s in large.staff if s.person.username.startswith("bulk"))
    assert next(m for m in bulk.months if m.month == june).minutes == 720
    assert bulk.total == 3 * 720
