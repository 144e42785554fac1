"""The team month (selector and page) costs the same number of queries for a team of 10
and a team of 500, each person with leave and overtime in the month and around it."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from attendance.models import Correction, LeaveRequest, LeaveType, OvertimeOrder, OvertimeReview
from attendance.selectors import team_month
from org.models import Assignment, Department, Staff
from tests.attendance.office import build_office

TOKYO = ZoneInfo("Asia/Tokyo")
DAY = 465
pytestmark = pytest.mark.django_db


def at(y: int, m: int, d: int, h: int = 9, mi: int = 0) -> dt.datetime:
    return dt.datetime(y, m, d, h, mi, tzinfo=TOKYO)


@pytest.fixture(autouse=True)
def _june_2026():
    with time_machine.travel(at(2026, 6, 25, 10), tick=True):
        yield


@pytest.fixture
def office(db):
    with time_machine.travel(at(2026, 4, 1), tick=False):
        city = build_office(leave_year=2026)
    # A 係 under 総務課: its people are the 課長's team too.
    city.kakari = Department.objects.create(
        code="111", name="庶務係", level="kakari", parent=city.soumu_ka
    )
    return city


def add_members(office, n: int, start: int = 0) -> list[Staff]:
    """`n` people in 総務課 and its 係, each with approved and pending leave and overtime
    in the month, and overtime in earlier months (the caps look back), in bulk."""
    schedule = office.drafter.work_schedule
    people = Staff.objects.bulk_create(
        Staff(
            username=f"m{start + i:04d}",
            password="!",
            last_name="職員",
            first_name=f"{start + i}",
            employee_number=f"M{start + i:05d}",
            work_schedule=schedule,
        )
        for i in range(n)
    )
    Assignment.objects.bulk_create(
        Assignment(
            staff=p,
            department=office.kakari if i % 3 == 0 else office.soumu_ka,
            post=office.posts["shuji"],
            start=dt.date(2020, 4, 1),
        )
        for i, p in enumerate(people)
    )
    annual = LeaveType.objects.get(code="annual")
    sick = LeaveType.objects.get(code="sick")
    leave = []
    for i, p in enumerate(people):
        # A three-day leave across the month's end (5/29–6/2: 6/1–6/2 count in June) …
        leave.append(
            LeaveRequest(
                staff=p,
                filed_by=p,
                department=office.soumu_ka,
                leave_type=annual if i % 2 else sick,
                unit="day",
                start_date=dt.date(2026, 5, 29),
                end_date=dt.date(2026, 6, 2),
                starts_at=at(2026, 5, 29, 0),
                ends_at=at(2026, 6, 3, 0),
                days=3,
                minutes=3 * DAY,
                leave_year=2026,
                status=LeaveRequest.Status.APPROVED,
            )
        )
        # … and an hour pending next week.
        leave.append(
            LeaveRequest(
                staff=p,
                filed_by=p,
                department=office.soumu_ka,
                leave_type=annual,
                unit="hour",
                start_date=dt.date(2026, 6, 29),
                end_date=dt.date(2026, 6, 29),
                start_time=dt.time(9),
                end_time=dt.time(10),
                starts_at=at(2026, 6, 29, 9),
                ends_at=at(2026, 6, 29, 10),
                minutes=60,
                leave_year=2026,
                status=LeaveRequest.Status.PENDING,
            )
        )
    LeaveRequest.objects.bulk_create(leave)
    orders = []
    for i, p in enumerate(people):
        for day, status, actual in (
            (dt.date(2026, 4, 10), OvertimeOrder.Status.CONFIRMED, 600 + i),
            (dt.date(2026, 5, 12), OvertimeOrder.Status.CONFIRMED, 1200),
            (dt.date(2026, 6, 3), OvertimeOrder.Status.CONFIRMED, 150),
            (dt.date(2026, 6, 24), OvertimeOrder.Status.REPORTED, 120),
            (dt.date(2026, 6, 26), OvertimeOrder.Status.REQUESTED, None),
        ):
            orders.append(
                OvertimeOrder(
                    staff=p,
                    requested_by=p,
                    department=office.soumu_ka,
                    work_date=day,
                    task="資料作成",
                    planned_start=at(day.year, day.month, day.day, 17, 15),
                    planned_end=at(day.year, day.month, day.day, 19, 15),
                    planned_minutes=120,
                    actual_minutes=actual,
                    status=status,
                )
            )
    OvertimeOrder.objects.bulk_create(orders)
    return people


def queries_of(call) -> int:
    with CaptureQueriesContext(connection) as ctx:
        call()
    return len(ctx.captured_queries)


def test_team_selector_costs_the_same_for_10_and_500(office) -> None:
    add_members(office, 10)

    def run():
        return team_month(
            departments=[office.soumu_ka], month=dt.date(2026, 6, 1), exclude=office.kacho
        )

    small = queries_of(run)
    data = run()
    # The 係's people are in the 課長's team; 企画課 is not.
    names = {m.staff.username for m in data.members}
    assert {"m0000", "m0003", "drafter"} <= names and "outsider" not in names
    member = next(m for m in data.members if m.staff.username == "m0001")
    assert member.annual_minutes == 2 * DAY  # 6/1 and 6/2 of the 5/29–6/2 leave
    assert member.ordered_minutes == 240 and member.confirmed_minutes == 150
    assert member.cap.month_minutes == 150 + 120  # confirmed actual + the reported plan
    assert member.cap.year_minutes == 601 + 1200 + 270
    assert len(data.pending_leave) == 10 and len(data.pending_overtime) == 20

    add_members(office, 490, start=10)
    large = queries_of(run)
    assert large == small, (small, large)
    assert len(run().members) == 500 + 5  # the bulk people and the 課 staff but the 課長
    assert small <= 12, small


def test_team_page_costs_the_same_for_10_and_500(client, office, django_assert_max_num_queries):
    client.force_login(office.kacho)
    url = reverse("attendance:team") + "?month=2026-06"
    add_members(office, 10)
    with django_assert_max_num_queries(20) as small:
        response = client.get(url)
    assert response.status_code == 200 and "職員 1" in response.content.decode()
    add_members(office, 490, start=10)
    with django_assert_max_num_queries(len(small.captured_queries)):
        response = client.get(url)
    assert response.status_code == 200
    assert "職員 499" in response.content.decode()


def test_team_page_for_hr_choosing_a_department(client, office, django_assert_max_num_queries):
    client.force_login(office.hr)
    url = reverse("attendance:team") + f"?month=2026-06&department={office.soumu_ka.pk}"
    add_members(office, 10)
    with django_assert_max_num_queries(20) as small:
        assert client.get(url).status_code == 200
    add_members(office, 490, start=10)
    with django_assert_max_num_queries(len(small.captured_queries)):
        assert client.get(url).status_code == 200


def add_own_rows(office, n: int, start: int = 0) -> None:
    """`n` leave requests, overtime orders, reviews and corrections of the employee."""
    annual = LeaveType.objects.get(code="annual")
    person = office.drafter
    base = dt.date(2026, 1, 5)
    leave = LeaveRequest.objects.bulk_create(
        LeaveRequest(
            staff=person,
            filed_by=office.clerk if i % 2 else person,
            department=office.soumu_ka,
            leave_type=annual,
            unit="hour",
            start_date=base + dt.timedelta(days=start + i),
            end_date=base + dt.timedelta(days=start + i),
            start_time=dt.time(9),
            end_time=dt.time(10),
            starts_at=at(2026, 1, 5, 9) + dt.timedelta(days=start + i),
            ends_at=at(2026, 1, 5, 10) + dt.timedelta(days=start + i),
            minutes=60,
            leave_year=2026,
            status=LeaveRequest.Status.APPROVED,
        )
        for i in range(n)
    )
    orders = OvertimeOrder.objects.bulk_create(
        OvertimeOrder(
            staff=person,
            requested_by=office.kacho,
            department=office.soumu_ka,
            work_date=dt.date(2026, 4, 1) + dt.timedelta(days=(start + i) % 80),
            task="資料作成",
            planned_start=at(2026, 4, 1, 17, 15) + dt.timedelta(days=(start + i) % 80),
            planned_end=at(2026, 4, 1, 18, 15) + dt.timedelta(days=(start + i) % 80),
            planned_minutes=60,
            status=OvertimeOrder.Status.ORDERED,
            special=True,
            special_reason="災害",
        )
        for i in range(n)
    )
    OvertimeReview.objects.bulk_create(
        OvertimeReview(order=o, fiscal_year=2026, due_on=dt.date(2027, 9, 30)) for o in orders
    )
    Correction.objects.bulk_create(
        Correction(
            kind=Correction.Kind.LEAVE_CANCEL,
            staff=person,
            department=office.soumu_ka,
            month=dt.date(2026, 1, 1),
            leave_request=r,
            reason="訂正",
            filed_by=person,
        )
        for r in leave
    )


@pytest.mark.parametrize(
    ("who", "path"),
    [
        ("drafter", "/attendance/"),
        ("hr", "/attendance/hr/corrections/"),
        ("hr", "/attendance/hr/reviews/"),
        ("hr", "/attendance/hr/months/"),
    ],
)
def test_list_pages_cost_the_same_at_10_and_100_rows(
    client, office, django_assert_max_num_queries, who: str, path: str
) -> None:
    client.force_login(getattr(office, who))
    add_own_rows(office, 10)
    with django_assert_max_num_queries(25) as small:
        assert client.get(path).status_code == 200
    add_own_rows(office, 90, start=10)
    with django_assert_max_num_queries(len(small.captured_queries)):
        response = client.get(path)
    assert response.status_code == 200
