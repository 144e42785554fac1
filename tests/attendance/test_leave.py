from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db.models import ProtectedError, Sum

from attendance.calendar import calendar_fill
from attendance.leave import (
    LeaveError,
    annual_grant,
    balance_minutes,
    carry_over,
    format_minutes,
    grant_days,
    hourly_used_minutes,
    leave_days_counted,
    leave_use,
    leave_use_cancel,
    leave_year_of,
)
from attendance.loader import rules_load
from attendance.models import LeaveLedgerEntry, LeaveRules, LeaveType, LedgerImmutableError
from audit.models import AuditEvent
from audit.services import audit_verify
from common.dates import today
from tests.org.factories import StaffFactory, WorkScheduleFactory

JST = ZoneInfo("Asia/Tokyo")
DAY = 465  # 7h45m
Kind = LeaveLedgerEntry.Kind
Unit = LeaveLedgerEntry.Unit

pytestmark = pytest.mark.django_db


def at(*args: int) -> time_machine.travel:
    return time_machine.travel(dt.datetime(*args, 9, 0, tzinfo=JST), tick=False)


def staff(**kwargs):
    kwargs.setdefault("work_schedule", WorkScheduleFactory())
    kwargs.setdefault("hired_on", dt.date(2010, 4, 1))
    return StaffFactory(**kwargs)


# --- rules data ---------------------------------------------------------------------------


def test_fixtures_load_once(leave_rules) -> None:
    assert LeaveType.objects.count() == 17
    assert LeaveType.objects.get(code="summer").window_start_month == 7
    assert LeaveType.objects.get(code="marriage").counts_calendar_days
    assert not LeaveType.objects.get(code="annual").counts_calendar_days
    assert rules_load() == 0  # idempotent: nothing written, nothing audited


# --- first-year proration ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("month", "days"),
    [(1, 20), (2, 18), (3, 17), (4, 15), (5, 13), (6, 12),
     (7, 10), (8, 8), (9, 7), (10, 5), (11, 3), (12, 2)],
)  # fmt: skip
def test_first_year_grant_by_hire_month(leave_rules, month, days) -> None:
    hired = dt.date(2026, month, 1)
    person = staff(hired_on=hired)
    with at(2026, month, 1):
        entry = annual_grant(staff=person, leave_year=2026, actor=None)
    assert entry.kind == Kind.GRANT
    assert entry.minutes == days * DAY
    assert entry.created_at == dt.datetime(2026, month, 1, 9, 0, tzinfo=JST)
    assert balance_minutes(staff=person, leave_year=2026) == days * DAY
    # The year after, the full grant.
    assert grant_days(staff=person, leave_year=2027) == 20


def test_proration_comes_from_the_rules_table(regular_rules) -> None:
    regular_rules.first_year_grants.filter(hire_month=4).update(days=16)
    person = staff(hired_on=dt.date(2026, 4, 1))
    assert grant_days(staff=person, leave_year=2026) == 16


def test_grant_is_once_per_year_and_audited(leave_rules) -> None:
    person = staff()
    with at(2026, 1, 1):
        first = annual_grant(staff=person, leave_year=2026, actor=None)
        again = annual_grant(staff=person, leave_year=2026, actor=None)
    assert first.pk == again.pk and first.minutes == 20 * DAY
    assert AuditEvent.objects.filter(action="attendance.ledger.grant").count() == 1
    assert list(audit_verify()) == []


def test_no_grant_before_hire(leave_rules) -> None:
    with pytest.raises(LeaveError):
        grant_days(staff=staff(hired_on=dt.date(2027, 1, 5)), leave_year=2026)


def test_short_week_is_pro_rata(leave_rules) -> None:
    schedule = WorkScheduleFactory(code="4days", name="週4日", days_per_week=4)
    person = staff(employee_class="short_time", work_schedule=schedule)
    assert annual_grant(staff=person, leave_year=2026, actor=None).minutes == 16 * DAY


def test_daily_minutes_follow_the_schedule(leave_rules) -> None:
    schedule = WorkScheduleFactory(
        code="short6", name="6時間", start=dt.time(9), end=dt.time(16),
        break_start=dt.time(12), break_end=dt.time(13),
    )  # fmt: skip
    person = staff(work_schedule=schedule)
    assert annual_grant(staff=person, leave_year=2026, actor=None).minutes == 20 * 360


@pytest.mark.parametrize(
    ("employee_class", "moment", "year"),
    [
        ("regular", (2027, 2, 10), 2027),
        ("fiscal_year", (2027, 2, 10), 2026),
        ("fiscal_year", (2027, 4, 1), 2027),
        ("regular", (2026, 12, 31), 2026),
    ],
)
def test_leave_year_by_class(leave_rules, employee_class, moment, year) -> None:
    person = staff(employee_class=employee_class)
    with at(*moment):
        assert leave_year_of(person, today()) == year


# --- carry-over -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("truncate", "left", "carried", "expired"),
    [
        (False, 10 * DAY + 100, 10 * DAY + 100, 0),
        (True, 10 * DAY + 100, 10 * DAY, 100),
        (False, 25 * DAY, 20 * DAY, 5 * DAY),
        (True, 25 * DAY + 100, 20 * DAY, 5 * DAY + 100),
        (False, 20 * DAY, 20 * DAY, 0),
        (True, 100, 0, 100),
        (False, 0, 0, 0),
    ],
)
def test_carry_over(regular_rules, truncate, left, carried, expired) -> None:
    LeaveRules.objects.filter(pk=regular_rules.pk).update(truncate_carry_over_fraction=truncate)
    person = staff()
    with at(2025, 1, 1):
        annual_grant(staff=person, leave_year=2025, actor=None)
    with at(2026, 1, 1):
        carry_over(staff=person, from_year=2025, actor=None)
        annual_grant(staff=person, leave_year=2026, actor=None)
    assert balance_minutes(staff=person, leave_year=2026) == 40 * DAY  # at most 40 days
    used = 40 * DAY - left
    if used:
        with at(2026, 6, 1):
            leave_use(staff=person, leave_year=2026, minutes=used, unit=Unit.DAY, actor=None)

    with at(2027, 1, 1):
        entry = carry_over(staff=person, from_year=2026, actor=None)

    assert (entry.minutes if entry else 0) == carried
    assert balance_minutes(staff=person, leave_year=2026) == 0
    assert balance_minutes(staff=person, leave_year=2027) == carried
    lapsed = LeaveLedgerEntry.objects.filter(staff=person, leave_year=2026, kind=Kind.EXPIRE)
    assert -(lapsed.aggregate(s=Sum("minutes"))["s"] or 0) == expired


def test_carry_over_only_once(leave_rules) -> None:
    person = staff()
    annual_grant(staff=person, leave_year=2025, actor=None)
    carry_over(staff=person, from_year=2025, actor=None)
    with pytest.raises(LeaveError, match="記録済み"):
        carry_over(staff=person, from_year=2025, actor=None)


# --- hourly cap ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cap_days", "before", "request_minutes", "unit", "allowed"),
    [
        (5, [], 60, Unit.HOUR, True),
        (5, [5 * DAY - 60], 60, Unit.HOUR, True),
        (5, [5 * DAY - 60], 120, Unit.HOUR, False),
        (5, [5 * DAY], 15, Unit.QUARTER_HOUR, False),
        (5, [5 * DAY], DAY, Unit.DAY, True),  # whole days are not hourly use
        (5, [5 * DAY], DAY // 2 + 15, Unit.HALF_DAY, True),
        (None, [5 * DAY, 5 * DAY], 60, Unit.HOUR, True),  # no cap for this class
    ],
)
def test_hourly_cap(regular_rules, cap_days, before, request_minutes, unit, allowed) -> None:
    LeaveRules.objects.filter(pk=regular_rules.pk).update(hourly_cap_days=cap_days)
    person = staff()
    annual_grant(staff=person, leave_year=2026, actor=None)
    for minutes in before:
        leave_use(staff=person, leave_year=2026, minutes=minutes, unit=Unit.HOUR, actor=None)
    balance = balance_minutes(staff=person, leave_year=2026)
    if allowed:
        leave_use(staff=person, leave_year=2026, minutes=request_minutes, unit=unit, actor=None)
        assert balance_minutes(staff=person, leave_year=2026) == balance - request_minutes
    else:
        with pytest.raises(LeaveError, match="時間単位の年次休暇は年5日"):
            leave_use(staff=person, leave_year=2026, minutes=request_minutes, unit=unit, actor=None)
        assert balance_minutes(staff=person, leave_year=2026) == balance


def test_cancelled_hours_count_again(regular_rules) -> None:
    LeaveRules.objects.filter(pk=regular_rules.pk).update(hourly_cap_days=5)
    person = staff()
    annual_grant(staff=person, leave_year=2026, actor=None)
    used = leave_use(staff=person, leave_year=2026, minutes=5 * DAY, unit=Unit.HOUR, actor=None)
    assert hourly_used_minutes(staff=person, leave_year=2026) == 5 * DAY
    leave_use_cancel(entry=used, actor=None)
    assert hourly_used_minutes(staff=person, leave_year=2026) == 0
    leave_use(staff=person, leave_year=2026, minutes=60, unit=Unit.HOUR, actor=None)


# --- counting days ---------------------------------------------------------------------


@pytest.mark.parametrize("filled", [False, True])
@pytest.mark.parametrize(
    ("code", "start", "end", "days"),
    [
        # 4/29 holiday, 5/2–3 weekend, 5/4–6 holidays.
        ("annual", dt.date(2026, 4, 29), dt.date(2026, 5, 6), 2),
        ("marriage", dt.date(2026, 4, 29), dt.date(2026, 5, 6), 8),
        # Thursday to Tuesday over a Monday holiday (2026-09-21) and a weekend.
        ("annual", dt.date(2026, 9, 17), dt.date(2026, 9, 22), 2),
        ("bereavement", dt.date(2026, 9, 17), dt.date(2026, 9, 22), 6),
        ("summer", dt.date(2026, 9, 17), dt.date(2026, 9, 22), 2),
        ("postnatal", dt.date(2026, 12, 28), dt.date(2027, 1, 5), 9),
        ("annual", dt.date(2026, 12, 28), dt.date(2027, 1, 5), 3),
    ],
)
def test_leave_days_counted(leave_rules, filled, code, start, end, days) -> None:
    if filled:
        calendar_fill(2026)
        calendar_fill(2027)
    assert leave_days_counted(LeaveType.objects.get(code=code), start, end) == days


# --- the ledger ---------------------------------------------------------------------------


def test_ledger_is_append_only(leave_rules) -> None:
    person = staff()
    entry = annual_grant(staff=person, leave_year=2026, actor=None)
    entry.minutes = 99999
    with pytest.raises(LedgerImmutableError):
        entry.save()
    with pytest.raises(LedgerImmutableError):
        entry.delete()
    with pytest.raises(LedgerImmutableError):
        LeaveLedgerEntry.objects.filter(pk=entry.pk).update(minutes=1)
    with pytest.raises(LedgerImmutableError):
        LeaveLedgerEntry.objects.all().delete()
    with pytest.raises(ProtectedError):
        person.delete()
    assert LeaveLedgerEntry.objects.get(pk=entry.pk).minutes == 20 * DAY


def test_balance_is_the_sum_of_entries(leave_rules, admin_user) -> None:
    person = staff()
    with at(2026, 1, 1):
        annual_grant(staff=person, leave_year=2026, actor=admin_user)
    with at(2026, 3, 2):
        a = leave_use(
            staff=person, leave_year=2026, minutes=DAY, unit=Unit.DAY, actor=person,
            reference="leave_request:1",
        )  # fmt: skip
    with at(2026, 3, 3):
        leave_use(staff=person, leave_year=2026, minutes=120, unit=Unit.HOUR, actor=person)
        leave_use_cancel(entry=a, actor=admin_user)
    with pytest.raises(LeaveError, match="取消済み"):
        leave_use_cancel(entry=a, actor=admin_user)

    entries = LeaveLedgerEntry.objects.filter(staff=person, leave_year=2026)
    assert [e.kind for e in entries] == [Kind.GRANT, Kind.USE, Kind.USE, Kind.CANCEL]
    assert balance_minutes(staff=person, leave_year=2026) == sum(e.minutes for e in entries)
    assert balance_minutes(staff=person, leave_year=2026) == 20 * DAY - 120
    assert balance_minutes(staff=person, leave_year=2030) == 0
    assert AuditEvent.objects.filter(action__startswith="attendance.ledger.").count() == 4
    assert list(audit_verify()) == []


def test_overdraw_is_refused_with_the_balance(leave_rules) -> None:
    person = staff(hired_on=dt.date(2026, 12, 1))
    annual_grant(staff=person, leave_year=2026, actor=None)  # 2 days
    with pytest.raises(LeaveError, match="残り 2日、申請 2日1時間"):
        leave_use(staff=person, leave_year=2026, minutes=2 * DAY + 60, unit=Unit.HOUR, actor=None)
    assert balance_minutes(staff=person, leave_year=2026) == 2 * DAY


@pytest.mark.parametrize(
    ("minutes", "text"),
    [(0, "0日"), (DAY, "1日"), (2 * DAY + 70, "2日1時間10分"), (45, "45分"), (-60, "-1時間")],
)
def test_format_minutes(minutes, text) -> None:
    assert format_minutes(minutes, DAY) == text


# --- 会計年度任用職員: days a week × years of service --------------------------------------------


@pytest.mark.parametrize(
    ("per_week", "hired", "leave_year", "days"),
    [
        (5, dt.date(2026, 4, 1), 2026, 10),  # appointed on the first day: granted at once
        (5, dt.date(2024, 4, 1), 2026, 12),  # two completed years
        (5, dt.date(2024, 4, 2), 2026, 11),  # one day short of two years
        (5, dt.date(2010, 4, 1), 2026, 20),  # beyond the table: its last row
        (3, dt.date(2026, 4, 1), 2026, 5),
        (1, dt.date(2023, 4, 1), 2026, 2),
    ],
)
def test_fiscal_year_staff_grant_by_days_a_week_and_service(
    leave_rules, per_week, hired, leave_year, days
) -> None:
    person = staff(
        employee_class="fiscal_year",
        hired_on=hired,
        work_schedule=WorkScheduleFactory(days_per_week=per_week),
    )
    assert grant_days(staff=person, leave_year=leave_year) == days
    with at(2026, 4, 1):
        entry = annual_grant(staff=person, leave_year=leave_year, actor=None)
    # The table is per days a week already: no second pro rata.
    assert entry.minutes == days * person.work_schedule.daily_minutes


def test_open_leave_year_carries_then_grants_and_can_be_rerun(leave_rules) -> None:
    from django.core.management import call_command

    person = staff()
    with at(2026, 1, 5):
        annual_grant(staff=person, leave_year=2026, actor=None)
        leave_use(staff=person, leave_year=2026, minutes=5 * DAY, unit="day", actor=None)
    with at(2027, 1, 1):
        call_command("open_leave_year", year=2027, basis="fiscal")  # not this person's basis
        assert not person.leave_ledger.filter(leave_year=2027).exists()
        call_command("open_leave_year", year=2027, basis="calendar")
        call_command("open_leave_year", year=2027, basis="calendar")  # changes nothing
    assert balance_minutes(staff=person, leave_year=2026) == 0
    assert balance_minutes(staff=person, leave_year=2027) == 35 * DAY  # 15 carried + 20
    kinds = list(
        person.leave_ledger.filter(leave_year=2027).order_by("pk").values_list("kind", flat=True)
    )
    assert kinds == ["carry_over", "grant"]
