from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import call_command

from attendance.calendar import (
    calendar_day_set,
    calendar_fill,
    day_kind,
    kinds_between,
    working_days_between,
)
from attendance.models import CalendarDay
from audit.models import AuditEvent
from audit.services import audit_verify

JST = ZoneInfo("Asia/Tokyo")
Kind = CalendarDay.Kind
Source = CalendarDay.Source

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("day", "kind", "name", "source"),
    [
        (dt.date(2026, 1, 1), Kind.HOLIDAY, "元日", Source.PACKAGE),
        (dt.date(2026, 1, 2), Kind.HOLIDAY, "年末年始", Source.YEAR_END),
        (dt.date(2026, 1, 3), Kind.REST, "", Source.WEEKDAY),  # Saturday in 年末年始
        (dt.date(2026, 1, 5), Kind.WORKDAY, "", Source.WEEKDAY),
        (dt.date(2026, 5, 3), Kind.REST, "憲法記念日", Source.WEEKDAY),  # holiday on Sunday
        (dt.date(2026, 5, 6), Kind.HOLIDAY, "憲法記念日 振替休日", Source.PACKAGE),
        (dt.date(2026, 9, 22), Kind.HOLIDAY, "国民の休日", Source.PACKAGE),
        (dt.date(2026, 12, 29), Kind.HOLIDAY, "年末年始", Source.YEAR_END),
        (dt.date(2026, 12, 31), Kind.HOLIDAY, "年末年始", Source.YEAR_END),
        (dt.date(2026, 11, 26), Kind.WORKDAY, "", Source.WEEKDAY),
        (dt.date(2026, 11, 28), Kind.REST, "", Source.WEEKDAY),
    ],
)
def test_fill_sets_each_kind(day, kind, name, source) -> None:
    calendar_fill(2026)
    row = CalendarDay.objects.get(date=day)
    assert (row.kind, row.name, row.source) == (kind, name, source)
    assert day_kind(day) == kind


def test_fill_covers_the_year_and_is_idempotent() -> None:
    first = calendar_fill(2026)
    assert first == {"created": 365, "updated": 0, "kept": 0}
    events = AuditEvent.objects.count()
    assert calendar_fill(2026) == {"created": 0, "updated": 0, "kept": 0}
    assert AuditEvent.objects.count() == events  # nothing changed, nothing audited
    assert CalendarDay.objects.filter(date__year=2026).count() == 365
    assert list(audit_verify()) == []


def test_fill_keeps_hr_overrides_and_corrects_the_rest() -> None:
    calendar_fill(2026)
    calendar_day_set(day=dt.date(2026, 6, 15), kind=Kind.HOLIDAY, name="市民の日", actor=None)
    calendar_day_set(day=dt.date(2026, 5, 6), kind=Kind.WORKDAY, actor=None)
    CalendarDay.objects.filter(date=dt.date(2026, 7, 1)).update(kind=Kind.HOLIDAY)  # stray edit

    result = calendar_fill(2026)

    assert result == {"created": 0, "updated": 1, "kept": 2}
    assert day_kind(dt.date(2026, 6, 15)) == Kind.HOLIDAY
    assert day_kind(dt.date(2026, 5, 6)) == Kind.WORKDAY
    assert day_kind(dt.date(2026, 7, 1)) == Kind.WORKDAY
    overridden = AuditEvent.objects.filter(action="attendance.calendar.overridden")
    assert overridden.count() == 2


def test_unfilled_days_follow_the_same_rule() -> None:
    span = (dt.date(2027, 12, 25), dt.date(2028, 1, 10))
    before = kinds_between(*span)
    calendar_fill(2027)
    calendar_fill(2028)
    assert kinds_between(*span) == before


@pytest.mark.parametrize("filled", [False, True])
@pytest.mark.parametrize(
    ("start", "end", "working"),
    [
        # Golden Week: 4/29 holiday, 5/2–3 weekend, 5/4–6 holidays.
        (dt.date(2026, 4, 29), dt.date(2026, 5, 6), 2),
        # 年末年始 across the year end and a weekend.
        (dt.date(2026, 12, 28), dt.date(2027, 1, 5), 3),
        (dt.date(2026, 11, 23), dt.date(2026, 11, 29), 4),
        (dt.date(2026, 11, 26), dt.date(2026, 11, 26), 1),
        (dt.date(2026, 11, 28), dt.date(2026, 11, 29), 0),
    ],
)
def test_working_days_between(filled, start, end, working) -> None:
    if filled:
        calendar_fill(2026)
        calendar_fill(2027)
    assert working_days_between(start, end) == working


def test_working_days_between_honours_overrides() -> None:
    calendar_fill(2026)
    calendar_day_set(day=dt.date(2026, 11, 26), kind=Kind.HOLIDAY, name="市制記念日", actor=None)
    assert working_days_between(dt.date(2026, 11, 23), dt.date(2026, 11, 29)) == 3


def test_fill_calendar_command_defaults_to_next_year(capsys) -> None:
    with time_machine.travel(dt.datetime(2026, 11, 26, 9, 0, tzinfo=JST), tick=False):
        call_command("fill_calendar")
    assert CalendarDay.objects.filter(date__year=2027).count() == 365
    assert "2027: created 365" in capsys.readouterr().out
    call_command("fill_calendar", "--year", "2028")
    assert CalendarDay.objects.filter(date__year=2028).count() == 366
