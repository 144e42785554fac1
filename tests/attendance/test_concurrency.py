"""Two people, one person's leave or overtime, the same instant (PostgreSQL, real threads)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from attendance import requests as svc
from attendance.calendar import working_days_between
from attendance.leave import balance_minutes
from attendance.models import LeaveRequest, LeaveType, OvertimeOrder
from common.dates import today
from tests.attendance.office import build_office
from tests.workflow.test_concurrency import race
from workflow.errors import AlreadyDecided, WorkflowError
from workflow.models import Step
from workflow.services import step_approve, step_return

JST = ZoneInfo("Asia/Tokyo")
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def office(need_postgres):
    return build_office(leave_year=today().year + 1)


def next_year_day(month: int, day: int) -> dt.date:
    return dt.date(today().year + 1, month, day)


def file(office, staff, start: dt.date, end: dt.date | None = None, filed_by=None):
    return svc.leave_request_file(
        staff=staff,
        filed_by=filed_by or staff,
        leave_type=LeaveType.objects.get(code="annual"),
        unit="day",
        start_date=start,
        end_date=end,
    )


def pending_step(subject) -> Step:
    return Step.objects.get(
        route__subject_id=subject.pk,
        route__subject_type__model=subject._meta.model_name,
        route__status="active",
        status="pending",
    )


def test_the_person_and_the_clerk_file_the_same_day_at_once_one_wins(office) -> None:
    day = next_year_day(2, 3)
    results = race(
        lambda: file(office, office.drafter, day),
        lambda: file(office, office.drafter, day, filed_by=office.clerk),
    )
    wins = [r for r in results if isinstance(r, LeaveRequest)]
    losses = [r for r in results if isinstance(r, svc.AttendanceError)]
    assert len(wins) == 1 and len(losses) == 1, results
    assert "重なります" in losses[0].message
    assert LeaveRequest.objects.filter(staff=office.drafter).count() == 1


def test_two_requests_that_together_overdraw_one_is_refused(office) -> None:
    """20 days granted: two 12-day requests at once cannot both pass the balance check."""
    year = today().year + 1
    first = (next_year_day(6, 1), next_year_day(6, 16))
    second = (next_year_day(10, 1), next_year_day(10, 19))
    for span in (first, second):  # each fits alone
        assert 10 < working_days_between(*span) <= 20
    results = race(
        lambda: file(office, office.drafter, *first),
        lambda: file(office, office.drafter, *second),
    )
    wins = [r for r in results if isinstance(r, LeaveRequest)]
    losses = [r for r in results if isinstance(r, svc.AttendanceError)]
    assert len(wins) == 1 and len(losses) == 1, results
    assert "残りが足りません" in losses[0].message
    assert balance_minutes(staff=office.drafter, leave_year=year) == 20 * 465


def test_kacho_and_deputy_approve_the_same_leave_at_once_one_wins(office) -> None:
    req = file(office, office.drafter, next_year_day(2, 4))
    office.absent(office.kacho)
    step = pending_step(req)
    results = race(
        lambda: step_approve(step=step.pk, actor=office.kacho),
        lambda: step_approve(step=step.pk, actor=office.hosa),
    )
    assert sum(isinstance(r, Step) for r in results) == 1, results
    assert sum(isinstance(r, AlreadyDecided) for r in results) == 1, results
    req.refresh_from_db()
    assert req.status == LeaveRequest.Status.APPROVED
    year = today().year + 1
    # Charged once, not twice.
    assert balance_minutes(staff=office.drafter, leave_year=year) == 19 * 465


def test_approve_and_return_the_same_order_at_once_one_wins(office) -> None:
    start = dt.datetime.combine(next_year_day(2, 4), dt.time(17, 15), tzinfo=JST)
    order = svc.overtime_request(
        staff=office.drafter,
        actor=office.drafter,
        task="議会資料",
        planned_start=start,
        planned_end=start + dt.timedelta(hours=2),
    )
    step = pending_step(order)
    results = race(
        lambda: step_approve(step=step.pk, actor=office.kacho),
        lambda: step_return(step=step.pk, actor=office.kacho, comment="時間を確認"),
    )
    assert sum(isinstance(r, Step) for r in results) == 1, results
    assert sum(isinstance(r, WorkflowError) for r in results) == 1, results
    order.refresh_from_db()
    assert order.status in (OvertimeOrder.Status.ORDERED, OvertimeOrder.Status.RETURNED)
