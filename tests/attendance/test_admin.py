"""The attendance admin: the pages answer; rules, types and the policy are edited with an
audit event; a calendar day set here is an HR override; what the services write (the
ledger, requests, orders, closes) is read-only."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from attendance.leave import annual_grant
from attendance.loader import rules_load
from attendance.models import (
    AttendancePolicy,
    CalendarDay,
    Correction,
    DayMark,
    LeaveLedgerEntry,
    LeaveRequest,
    LeaveRules,
    LeaveType,
    MonthClose,
    OvertimeOrder,
    OvertimeReview,
)
from audit.models import AuditEvent
from tests.org.factories import AssignmentFactory, StaffFactory

pytestmark = pytest.mark.django_db

EDITABLE = [LeaveRules, LeaveType, CalendarDay, AttendancePolicy, DayMark]
READ_ONLY = [
    LeaveLedgerEntry,
    MonthClose,
    LeaveRequest,
    OvertimeOrder,
    OvertimeReview,
    Correction,
]


@pytest.fixture
def admin_client(client):
    root = StaffFactory(username="root", is_superuser=True, is_staff=True)
    client.force_login(root)
    client.root = root
    return client


def url(model, view: str, *args) -> str:
    return reverse(f"admin:attendance_{model._meta.model_name}_{view}", args=args)


@pytest.mark.parametrize("model", EDITABLE + READ_ONLY, ids=lambda m: m.__name__)
def test_changelists_answer(admin_client, model) -> None:
    rules_load()
    assert admin_client.get(url(model, "changelist")).status_code == 200
    add = admin_client.get(url(model, "add")).status_code
    assert add == (200 if model in EDITABLE else 403)


def test_leave_rules_edit_with_first_year_inline_is_audited(admin_client) -> None:
    rules_load()
    rules = LeaveRules.objects.get(employee_class="regular")
    page = admin_client.get(url(LeaveRules, "change", rules.pk))
    assert page.status_code == 200 and "first_year_grants" in page.content.decode()
    form = page.context["adminform"].form
    data = {k: v for k, v in form.initial.items() if v is not None}
    data.update({"annual_grant_days": 21, "default_daily_minutes": 465})
    inline = page.context["inline_admin_formsets"][0].formset
    prefix = inline.prefix
    data.update(
        {
            f"{prefix}-TOTAL_FORMS": str(len(inline.forms)),
            f"{prefix}-INITIAL_FORMS": str(len(inline.initial_forms)),
            f"{prefix}-MIN_NUM_FORMS": "0",
            f"{prefix}-MAX_NUM_FORMS": "1000",
        }
    )
    for i, f in enumerate(inline.forms):
        data[f"{prefix}-{i}-id"] = f.instance.pk
        data[f"{prefix}-{i}-rules"] = rules.pk
        data[f"{prefix}-{i}-hire_month"] = f.instance.hire_month
        data[f"{prefix}-{i}-days"] = f.instance.days
    response = admin_client.post(url(LeaveRules, "change", rules.pk), data)
    assert response.status_code == 302, response.content.decode()[:2000]
    rules.refresh_from_db()
    assert rules.annual_grant_days == 21
    event = AuditEvent.objects.filter(action="attendance.leaverules.updated").get()
    assert event.data["new"] == {"annual_grant_days": 21}


def test_calendar_day_set_in_the_admin_is_an_override(admin_client) -> None:
    response = admin_client.post(
        url(CalendarDay, "add"), {"date": "2026-08-14", "kind": "holiday", "name": "市の休日"}
    )
    assert response.status_code == 302
    day = CalendarDay.objects.get(date=dt.date(2026, 8, 14))
    assert (day.kind, day.source) == ("holiday", CalendarDay.Source.OVERRIDE)
    assert AuditEvent.objects.filter(action="attendance.calendar.overridden").exists()
    assert admin_client.get(url(CalendarDay, "delete", day.pk)).status_code == 403


def test_ledger_is_read_only_in_the_admin(admin_client) -> None:
    rules_load()
    person = StaffFactory()
    AssignmentFactory(staff=person)
    entry = annual_grant(staff=person, leave_year=2026, actor=None)
    page = admin_client.get(url(LeaveLedgerEntry, "change", entry.pk))
    assert page.status_code == 200 and 'name="minutes"' not in page.content.decode()
    assert admin_client.post(url(LeaveLedgerEntry, "change", entry.pk), {}).status_code == 403
    assert admin_client.get(url(LeaveLedgerEntry, "delete", entry.pk)).status_code == 403


def test_day_mark_added_in_the_admin_records_who(admin_client) -> None:
    person = StaffFactory()
    response = admin_client.post(
        url(DayMark, "add"),
        {"staff": person.pk, "date": "2026-06-01", "code": "trip", "note": "県庁"},
    )
    assert response.status_code == 302
    mark = DayMark.objects.get()
    assert mark.created_by == admin_client.root
    assert AuditEvent.objects.filter(action="attendance.daymark.created").exists()
