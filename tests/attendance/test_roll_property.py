"""Property: the 出勤簿 of a random month matches the ledger and the orders exactly.

Random months of leave requests (filed with `leave_request_file`, then approved, refused,
left pending, or approved and cancelled), day marks and overtime orders (ordered through
the workflow, some reported and confirmed). The roll's code for each person and day is
exactly the approved requests covering it (plus the day marks, else 週/休); its 年休 minutes
equal the month's ledger use entries less their cancellations; its overtime equals the
orders as the caps count them. Each example runs in a savepoint rolled back at its end.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from attendance import reports
from attendance import requests as svc
from attendance.calendar import kinds_between
from attendance.daymarks import day_mark_set
from attendance.models import CalendarDay, DayMark, LeaveLedgerEntry, LeaveRequest, LeaveType
from tests.attendance.office import build_office
from workflow.models import Step
from workflow.services import step_approve, step_reject

JST = ZoneInfo("Asia/Tokyo")
JUNE, LAST = dt.date(2026, 6, 1), dt.date(2026, 6, 30)
DAYS = [JUNE + dt.timedelta(days=i) for i in range(30)]
pytestmark = pytest.mark.django_db


def at(day: dt.date, h: int = 9, mi: int = 0) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, h, mi, tzinfo=JST)


@pytest.fixture
def office(db):
    with time_machine.travel(at(dt.date(2026, 4, 1)), tick=False):
        return build_office(leave_year=2026)


def pending_step(subject) -> Step:
    return Step.objects.get(
        route__subject_id=subject.pk,
        route__subject_type__model=subject._meta.model_name,
        route__status="active",
        status="pending",
    )


leave_spec = st.fixed_dictionaries(
    {
        "who": st.sampled_from(["drafter", "hosa"]),
        "type": st.sampled_from(["annual", "annual", "annual", "sick", "bereavement"]),
        "unit": st.sampled_from(["day", "day", "half_day", "hour"]),
        "day": st.sampled_from(DAYS),
        "length": st.integers(0, 3),
        "half": st.sampled_from(["am", "pm"]),
        "hour": st.integers(9, 15),
        "hours": st.integers(1, 2),
        "decision": st.sampled_from(["approve", "approve", "reject", "pending", "cancel"]),
    }
)
order_spec = st.fixed_dictionaries(
    {
        "who": st.sampled_from(["drafter", "hosa"]),
        "day": st.sampled_from(DAYS),
        "quarters": st.integers(2, 20),
        "confirm": st.booleans(),
        "longer": st.integers(-2, 4),
    }
)
mark_spec = st.fixed_dictionaries(
    {
        "who": st.sampled_from(["drafter", "hosa"]),
        "day": st.sampled_from(DAYS),
        "code": st.sampled_from(["trip", "training", "absent"]),
    }
)


def file_leave(office, spec) -> LeaveRequest | None:
    staff = getattr(office, spec["who"])
    leave_type = LeaveType.objects.get(code=spec["type"])
    unit = spec["unit"] if spec["type"] == "annual" else "day"
    kw: dict = {"unit": unit, "start_date": spec["day"]}
    if unit == "day":
        kw["end_date"] = min(spec["day"] + dt.timedelta(days=spec["length"]), LAST)
    elif unit == "half_day":
        kw["half"] = spec["half"]
    else:
        kw["start_time"] = dt.time(spec["hour"])
        kw["end_time"] = dt.time(min(spec["hour"] + spec["hours"], 17))
    try:
        request = svc.leave_request_file(
            staff=staff, filed_by=office.clerk, leave_type=leave_type, **kw
        )
    except svc.AttendanceError:
        return None  # a rest day, an overlap, a limit: refused, as it should be
    decision = spec["decision"]
    if decision == "pending":
        return request
    step = pending_step(request)
    if decision == "reject":
        step_reject(step=step, actor=office.kacho, comment="業務の都合")
    else:
        step_approve(step=step, actor=office.kacho)
        if decision == "cancel":
            svc.leave_request_cancel(request=request, actor=staff, reason="予定変更")
    request.refresh_from_db()
    return request


def order_overtime(office, spec) -> None:
    staff = getattr(office, spec["who"])
    day = spec["day"]
    start = at(day, 17, 15)
    end = start + dt.timedelta(minutes=15 * spec["quarters"])
    try:
        order = svc.overtime_request(
            staff=staff,
            actor=office.kacho,  # the 所属長 orders: decided at once
            task="窓口対応の残務",
            planned_start=start,
            planned_end=end,
        )
    except svc.AttendanceError:
        return  # regular hours only (a 休日 morning is 休日給, allowed; a clash is refused)
    if not spec["confirm"]:
        return
    with time_machine.travel(at(dt.date(2026, 7, 1)), tick=False):
        actual_end = max(
            end + dt.timedelta(minutes=15 * spec["longer"]), start + dt.timedelta(minutes=15)
        )
        svc.overtime_report(
            order=order, actor=staff, actual_start=start, actual_end=actual_end, break_minutes=0
        )
        step_approve(step=pending_step(order), actor=office.kacho)


def hour_label(code: str, minutes: int) -> str:
    h, m = divmod(minutes, 60)
    return code + (f"{h}h" if h else "") + (f"{m}m" if m else "")


def expected_roll(office, people) -> dict[tuple[int, dt.date], set[str]]:
    kinds = kinds_between(JUNE, LAST)
    cells: dict[tuple[int, dt.date], set[str]] = defaultdict(set)
    hourly: dict[tuple[int, dt.date, str], int] = defaultdict(int)
    for r in LeaveRequest.objects.filter(
        staff__in=people, status=LeaveRequest.Status.APPROVED
    ).select_related("leave_type"):
        code = r.leave_type.roll_code
        if r.unit == "day":
            day = r.start_date
            while day <= r.end_date:
                if r.leave_type.counts_calendar_days or kinds[day] == CalendarDay.Kind.WORKDAY:
                    cells[r.staff_id, day].add(code)
                day += dt.timedelta(days=1)
        elif r.unit == "half_day":
            cells[r.staff_id, r.start_date].add(f"{code}({'午前' if r.half == 'am' else '午後'})")
        else:
            hourly[r.staff_id, r.start_date, code] += r.minutes
    for (staff_id, day, code), minutes in hourly.items():
        cells[staff_id, day].add(hour_label(code, minutes))
    for mark in DayMark.objects.filter(staff__in=people):
        cells[mark.staff_id, mark.date].add(mark.get_code_display())
    return cells


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    leaves=st.lists(leave_spec, max_size=6),
    orders=st.lists(order_spec, max_size=4),
    marks=st.lists(mark_spec, max_size=3),
)
def test_roll_matches_the_ledger_and_the_orders(office, leaves, orders, marks) -> None:
    people = [office.drafter, office.hosa]
    with transaction.atomic():
        with time_machine.travel(at(dt.date(2026, 5, 25)), tick=False):
            filed = [r for spec in leaves if (r := file_leave(office, spec)) is not None]
            for spec in orders:
                order_overtime(office, spec)
            for spec in marks:
                day_mark_set(
                    staff=getattr(office, spec["who"]),
                    date=spec["day"],
                    code=spec["code"],
                    actor=office.clerk,
                )
        with time_machine.travel(at(dt.date(2026, 7, 2)), tick=False):
            report = reports.attendance_roll(office.soumu_ka, JUNE)
        headers = report.headers
        rows = {row[1]: dict(zip(headers, row, strict=True)) for row in report.rows}
        expected = expected_roll(office, people)
        kinds = kinds_between(JUNE, LAST)
        rest = {CalendarDay.Kind.REST: "週", CalendarDay.Kind.HOLIDAY: "休"}
        for person in people:
            row = rows[person.display_name]
            for day in DAYS:
                cell = row[str(day.day)]
                labels = expected.get((person.pk, day))
                if labels:
                    assert set(cell.split("・")) == labels, (person, day, cell)
                else:
                    assert cell == rest.get(kinds[day]), (person, day, cell)
            assert row["31"] is None
            # 年休 minutes: the month's ledger use entries less their cancellations.
            refs = [
                f"leave-request:{r.pk}"
                for r in filed
                if r.staff_id == person.pk and r.leave_type.from_ledger
            ]
            charged = -sum(
                LeaveLedgerEntry.objects.filter(
                    staff=person,
                    reference__in=refs,
                    kind__in=(LeaveLedgerEntry.Kind.USE, LeaveLedgerEntry.Kind.CANCEL),
                ).values_list("minutes", flat=True)
            )
            assert (row["年休（分）"] or 0) == charged
            approved = [
                r
                for r in filed
                if r.staff_id == person.pk
                and r.leave_type.code == "annual"
                and r.status == LeaveRequest.Status.APPROVED
            ]
            days = sum(r.days for r in approved if r.unit == "day")
            days += 0.5 * sum(1 for r in approved if r.unit == "half_day")
            assert (row["年休（日）"] or 0) == days
            # Overtime: what the caps count for the month.
            counted = svc.monthly_minutes(staff=person, first=JUNE, last=LAST).get(JUNE, 0)
            assert (row["時間外（分）"] or 0) == counted
        transaction.set_rollback(True)
