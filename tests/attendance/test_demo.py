"""The attendance part of `manage.py demo`: rules, calendar, policy, leave opened for
everyone, and 財政課's requests, so the demo logins find work; loading twice adds nothing."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from attendance.leave import balance_minutes
from attendance.models import (
    AttendancePolicy,
    CalendarDay,
    LeaveLedgerEntry,
    LeaveRequest,
    LeaveType,
    OvertimeOrder,
)
from attendance.selectors import leave_year_for
from common.dates import today
from org.models import Staff
from workflow.models import Step

pytestmark = pytest.mark.django_db


def test_demo_loads_attendance_once_with_a_request_waiting_for_kacho(client, settings) -> None:
    settings.DEMO_LOGINS_ENABLED = True
    call_command("demo", stdout=StringIO(), stderr=StringIO())
    year = today().year
    assert LeaveType.objects.filter(code="annual").exists()
    assert CalendarDay.objects.filter(date__year=year + 1).count() >= 365
    assert AttendancePolicy.objects.get().hr_department.name == "人事課"
    kacho, shokuin, jinji = (
        Staff.objects.get(username=name) for name in ("kacho", "shokuin", "jinji")
    )
    leave_year = leave_year_for(shokuin, today())
    assert balance_minutes(staff=shokuin, leave_year=leave_year) > 0
    pending = LeaveRequest.objects.filter(staff=shokuin, status=LeaveRequest.Status.PENDING)
    assert Step.objects.filter(
        route__subject_id__in=pending.values("pk"),
        route__subject_type__model="leaverequest",
        status=Step.Status.PENDING,
        assignee=kacho,
    ).exists()
    statuses = set(LeaveRequest.objects.values_list("status", flat=True))
    assert {"pending", "approved", "returned", "rejected"} <= statuses
    assert OvertimeOrder.objects.filter(staff=shokuin).exists()

    # The demo logins see their pages.
    client.force_login(shokuin)
    assert client.get("/attendance/").status_code == 200
    client.force_login(kacho)
    body = client.get("/attendance/team/").content.decode()
    assert shokuin.display_name in body
    client.force_login(jinji)
    assert client.get("/attendance/hr/months/").status_code == 200

    counts = (
        LeaveRequest.objects.count(),
        OvertimeOrder.objects.count(),
        LeaveLedgerEntry.objects.count(),
    )
    call_command("demo", stdout=StringIO(), stderr=StringIO())
    assert counts == (
        LeaveRequest.objects.count(),
        OvertimeOrder.objects.count(),
        LeaveLedgerEntry.objects.count(),
    )
