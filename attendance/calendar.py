"""The city calendar: which days are 勤務日, 週休日 and 休日.

Filled per year from `jpholiday` (祝日法 holidays, 振替休日, 国民の休日), 年末年始 (12/29–1/3,
which no package has) and Saturdays/Sundays. Rows HR set by hand (source = override:
a city's own holiday, or a removed one) survive a refill. Readers use the table; a day
not filled yet is computed by the same rule, so the answer does not change after a fill.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import jpholiday
from django.db import transaction

from audit.services import audit_record
from org.models import Staff

from .models import CalendarDay

Kind = CalendarDay.Kind
Source = CalendarDay.Source

SATURDAY = 5


@dataclass(frozen=True)
class DayRule:
    kind: str
    name: str
    source: str


def is_year_end(day: dt.date) -> bool:
    """年末年始 (勤務時間法第14条): December 29 to January 3."""
    return (day.month == 12 and day.day >= 29) or (day.month == 1 and day.day <= 3)


def rule_for(day: dt.date) -> DayRule:
    """The day by rule alone (no overrides).

    A holiday on a Saturday or Sunday stays a 週休日: it has no regular hours to be
    excused from, and overtime on it is paid at the 週休日 rate.
    """
    holiday_name = jpholiday.is_holiday_name(day) or ""
    if day.weekday() >= SATURDAY:
        return DayRule(Kind.REST, holiday_name, Source.WEEKDAY)
    if holiday_name:
        return DayRule(Kind.HOLIDAY, holiday_name, Source.PACKAGE)
    if is_year_end(day):
        return DayRule(Kind.HOLIDAY, "年末年始", Source.YEAR_END)
    return DayRule(Kind.WORKDAY, "", Source.WEEKDAY)


def _days(start: dt.date, end: dt.date) -> list[dt.date]:
    return [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]


def calendar_fill(year: int, *, actor: Staff | None = None) -> dict[str, int]:
    """Create or correct every day of `year` by rule; HR overrides are left as they are.

    Idempotent: a second run changes nothing and reports zero created and updated.
    """
    days = _days(dt.date(year, 1, 1), dt.date(year, 12, 31))
    created = updated = kept = 0
    with transaction.atomic():
        existing = {
            d.date: d for d in CalendarDay.objects.select_for_update().filter(date__year=year)
        }
        new_rows: list[CalendarDay] = []
        changed: list[CalendarDay] = []
        for day in days:
            rule = rule_for(day)
            row = existing.get(day)
            if row is None:
                new_rows.append(
                    CalendarDay(date=day, kind=rule.kind, name=rule.name, source=rule.source)
                )
            elif row.source == Source.OVERRIDE:
                kept += 1
            elif (row.kind, row.name, row.source) != (rule.kind, rule.name, rule.source):
                row.kind, row.name, row.source = rule.kind, rule.name, rule.source
                changed.append(row)
        CalendarDay.objects.bulk_create(new_rows)
        CalendarDay.objects.bulk_update(changed, ["kind", "name", "source"])
        created, updated = len(new_rows), len(changed)
        if created or updated:
            audit_record(
                actor=actor,
                action="attendance.calendar.filled",
                data={"year": year, "created": created, "updated": updated, "kept": kept},
            )
    return {"created": created, "updated": updated, "kept": kept}


def calendar_day_set(
    *, day: dt.date, kind: str, name: str = "", actor: Staff | None
) -> CalendarDay:
    """HR sets a day by hand (a city holiday, or a working day): kept across refills."""
    if kind not in Kind.values:
        raise ValueError(f"unknown day kind: {kind}")
    with transaction.atomic():
        row = CalendarDay.objects.select_for_update().filter(date=day).first()
        old = {"kind": row.kind, "name": row.name, "source": row.source} if row else None
        if row is None:
            row = CalendarDay(date=day)
        row.kind, row.name, row.source = kind, name, Source.OVERRIDE
        row.save()
        audit_record(
            actor=actor,
            action="attendance.calendar.overridden",
            target=row,
            data={"old": old, "new": {"kind": kind, "name": name, "source": Source.OVERRIDE}},
        )
    return row


def kinds_between(start: dt.date, end: dt.date) -> dict[dt.date, str]:
    """The kind of every day from `start` to `end` inclusive, in one query."""
    if end < start:
        return {}
    stored = dict(CalendarDay.objects.filter(date__range=(start, end)).values_list("date", "kind"))
    return {day: stored.get(day) or rule_for(day).kind for day in _days(start, end)}


def day_kind(day: dt.date) -> str:
    """勤務日, 週休日 or 休日 (a `CalendarDay.Kind` value) for one day."""
    return kinds_between(day, day)[day]


def working_days_between(start: dt.date, end: dt.date) -> int:
    """勤務日 from `start` to `end` inclusive: 週休日 and 休日 are not counted."""
    return sum(1 for kind in kinds_between(start, end).values() if kind == Kind.WORKDAY)
