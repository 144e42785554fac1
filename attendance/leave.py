"""Annual leave (年次休暇): grants, carry-over, use and the balance, all on the ledger.

The balance is never stored: it is the sum of `LeaveLedgerEntry.minutes` for the staff
member and leave year. Every number (grant days, first-year table, carry-over cap,
fraction rule, hourly cap) is read from `LeaveRules` for the staff member's class.
Writes lock the staff row, so two writers for one person are serialised, and each
write is audited in the same transaction.
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.db.models import Sum

from audit.services import audit_record
from common.dates import fiscal_year
from org.models import Staff

from .calendar import working_days_between
from .models import LeaveLedgerEntry, LeaveRules, LeaveType

Entry = LeaveLedgerEntry
Kind = LeaveLedgerEntry.Kind
Unit = LeaveLedgerEntry.Unit

FULL_WEEK_DAYS = 5


class LeaveError(Exception):
    """A leave rule refused the change; the message is for the person who asked."""


# --- rules and units -------------------------------------------------------------------


def rules_for(staff: Staff) -> LeaveRules:
    rules = LeaveRules.objects.filter(employee_class=staff.employee_class).first()
    if rules is None:
        raise LeaveError(
            f"任用区分「{staff.get_employee_class_display()}」の年次休暇の規則がありません。"
        )
    return rules


def daily_minutes(staff: Staff, rules: LeaveRules | None = None) -> int:
    """Minutes in one day of leave for this person: hours ↔ days convert at this rate."""
    if staff.work_schedule is not None:
        return staff.work_schedule.daily_minutes
    return (rules or rules_for(staff)).default_daily_minutes


def format_minutes(minutes: int, per_day: int) -> str:
    """465-minute days: 9765 → "21日" ; 1000 → "2日1時間10分"."""
    sign = "-" if minutes < 0 else ""
    days, rest = divmod(abs(minutes), per_day)
    hours, mins = divmod(rest, 60)
    parts = [f"{days}日"] if days or not rest else []
    if hours:
        parts.append(f"{hours}時間")
    if mins:
        parts.append(f"{mins}分")
    return sign + "".join(parts)


def leave_year_of(staff: Staff, day: dt.date) -> int:
    """The leave year a day falls in: the calendar year or the fiscal year, per class."""
    if rules_for(staff).year_basis == LeaveRules.YearBasis.FISCAL:
        return fiscal_year(day)
    return day.year


def leave_year_bounds(rules: LeaveRules, leave_year: int) -> tuple[dt.date, dt.date]:
    if rules.year_basis == LeaveRules.YearBasis.FISCAL:
        return dt.date(leave_year, 4, 1), dt.date(leave_year + 1, 3, 31)
    return dt.date(leave_year, 1, 1), dt.date(leave_year, 12, 31)


# --- selectors ---------------------------------------------------------------------------


def balance_minutes(*, staff: Staff, leave_year: int) -> int:
    """The balance: the sum of the ledger entries of that leave year (0 when none)."""
    total = Entry.objects.filter(staff=staff, leave_year=leave_year).aggregate(s=Sum("minutes"))
    return total["s"] or 0


def hourly_used_minutes(*, staff: Staff, leave_year: int) -> int:
    """Minutes taken in hour or 15-minute units (uses less their cancellations)."""
    total = Entry.objects.filter(
        staff=staff,
        leave_year=leave_year,
        kind__in=(Kind.USE, Kind.CANCEL),
        unit__in=Entry.HOURLY_UNITS,
    ).aggregate(s=Sum("minutes"))
    return -(total["s"] or 0)


def _days_per_week(staff: Staff) -> int:
    return staff.work_schedule.days_per_week if staff.work_schedule else FULL_WEEK_DAYS


def _service_years(hired: dt.date | None, on: dt.date) -> int:
    """Completed years of service on `on` (0 when hired on or after it, or unknown)."""
    if hired is None or hired >= on:
        return 0
    years = on.year - hired.year - ((on.month, on.day) < (hired.month, hired.day))
    return max(years, 0)


def _grant(staff: Staff, leave_year: int) -> tuple[int, bool]:
    """(days, by_service_table). See `grant_days`."""
    rules = rules_for(staff)
    start, end = leave_year_bounds(rules, leave_year)
    hired = staff.hired_on
    if hired is not None and hired > end:
        raise LeaveError(f"{staff} は {leave_year} 年の休暇年の末日より後の採用です。")
    table = list(
        rules.service_grants.filter(days_per_week=_days_per_week(staff)).order_by("service_years")
    )
    if table:
        years = _service_years(hired, start)
        row = next((r for r in reversed(table) if r.service_years <= years), table[0])
        return row.days, True
    if hired is None or hired < start:
        return rules.annual_grant_days, False
    first = rules.first_year_grants.filter(hire_month=hired.month).first()
    return (first.days if first is not None else rules.annual_grant_days), False


def grant_days(*, staff: Staff, leave_year: int) -> int:
    """Days granted at the start of `leave_year`.

    A class with a service table (会計年度任用職員: days a week × years of service) takes
    the row for the person's days a week and completed years of service at the start of
    the leave year. Otherwise a person hired during the leave year gets the first-year
    table's days for the hire month (人事院規則15-14 別表: January 20 … December 2 for
    calendar-year staff); a class without a table gets the full grant. Someone hired
    after the year gets none.
    """
    return _grant(staff, leave_year)[0]


def grant_minutes(*, staff: Staff, leave_year: int) -> int:
    """Grant days in minutes at the person's daily hours, pro rata for a short week
    (except where a service table, already per days a week, decided the days)."""
    rules = rules_for(staff)
    days, by_table = _grant(staff, leave_year)
    if by_table:
        return days * daily_minutes(staff, rules)
    # 短時間勤務: days scale with the working days a week; whole minutes, rounded down.
    return days * daily_minutes(staff, rules) * _days_per_week(staff) // FULL_WEEK_DAYS


def leave_days_counted(leave_type: LeaveType, start: dt.date, end: dt.date) -> int:
    """Days a leave from `start` to `end` (inclusive) counts against its type.

    Types defined as "N consecutive days" (結婚, 産前産後, 忌引…) count calendar days,
    weekends and holidays included; the others (年次休暇…) count 勤務日 only.
    """
    if end < start:
        raise LeaveError("終了日が開始日より前です。")
    if leave_type.counts_calendar_days:
        return (end - start).days + 1
    return working_days_between(start, end)


# --- services ----------------------------------------------------------------------------


def _lock(staff: Staff) -> None:
    Staff.objects.select_for_update().filter(pk=staff.pk).first()


def _write(
    *,
    staff: Staff,
    leave_year: int,
    kind: str,
    minutes: int,
    actor: Staff | None,
    unit: str = "",
    reference: str = "",
    note: str = "",
    reverses: LeaveLedgerEntry | None = None,
) -> LeaveLedgerEntry:
    entry = Entry.objects.create(
        staff=staff,
        leave_year=leave_year,
        kind=kind,
        unit=unit,
        minutes=minutes,
        reference=reference,
        note=note,
        reverses=reverses,
        created_by=actor,
    )
    audit_record(
        actor=actor,
        action=f"attendance.ledger.{kind}",
        target=entry,
        data={
            "staff": staff.pk,
            "leave_year": leave_year,
            "minutes": minutes,
            "unit": unit,
            "reference": reference,
        },
    )
    return entry


def annual_grant(*, staff: Staff, leave_year: int, actor: Staff | None) -> LeaveLedgerEntry:
    """Grant the year's annual leave (once per person and leave year).

    A second call returns the existing grant and writes nothing, so a yearly batch can
    be re-run after a failure.
    """
    minutes = grant_minutes(staff=staff, leave_year=leave_year)
    with transaction.atomic():
        _lock(staff)
        existing = Entry.objects.filter(staff=staff, leave_year=leave_year, kind=Kind.GRANT)
        if (found := existing.first()) is not None:
            return found
        return _write(
            staff=staff, leave_year=leave_year, kind=Kind.GRANT, minutes=minutes, actor=actor
        )


def carry_over(*, staff: Staff, from_year: int, actor: Staff | None) -> LeaveLedgerEntry | None:
    """Carry what is left of `from_year` into the next leave year, up to the cap.

    勤務時間法第17条: the unused balance carries over up to 20 days (the cap in the
    rules). Hours are carried too unless the class truncates fractions of a day. The old
    year is closed with two entries, the part moved out (carry_over) and the part that
    lapses (expire), so its balance ends at zero and the ledger still sums across years.
    Returns the entry in the new year, or None when nothing is carried.
    """
    rules = rules_for(staff)
    per_day = daily_minutes(staff, rules)
    to_year = from_year + 1
    with transaction.atomic():
        _lock(staff)
        if Entry.objects.filter(
            staff=staff, leave_year=to_year, kind=Kind.CARRY_OVER, minutes__gt=0
        ).exists():
            raise LeaveError(f"{staff} の {from_year} 年からの繰越は記録済みです。")
        left = balance_minutes(staff=staff, leave_year=from_year)
        if left <= 0:
            return None
        carried = min(left, rules.carry_over_cap_days * per_day)
        if rules.truncate_carry_over_fraction:
            carried -= carried % per_day
        lapsed = left - carried
        note = f"{from_year}→{to_year}"
        if lapsed:
            _write(
                staff=staff,
                leave_year=from_year,
                kind=Kind.EXPIRE,
                minutes=-lapsed,
                actor=actor,
                note=note,
            )
        if not carried:
            return None
        _write(
            staff=staff,
            leave_year=from_year,
            kind=Kind.CARRY_OVER,
            minutes=-carried,
            actor=actor,
            note=note,
        )
        return _write(
            staff=staff,
            leave_year=to_year,
            kind=Kind.CARRY_OVER,
            minutes=carried,
            actor=actor,
            note=note,
        )


def hourly_use_check(*, staff: Staff, leave_year: int, minutes: int) -> None:
    """Refuse hourly use beyond the class's cap (e.g. 5 days a year); no cap when null."""
    rules = rules_for(staff)
    if rules.hourly_cap_days is None:
        return
    per_day = daily_minutes(staff, rules)
    cap = rules.hourly_cap_days * per_day
    used = hourly_used_minutes(staff=staff, leave_year=leave_year)
    if used + minutes > cap:
        raise LeaveError(
            f"時間単位の年次休暇は年{rules.hourly_cap_days}日（{format_minutes(cap, per_day)}）"
            f"までです。使用済み {format_minutes(used, per_day)}、"
            f"残り {format_minutes(max(cap - used, 0), per_day)}。"
        )


def leave_use(
    *,
    staff: Staff,
    leave_year: int,
    minutes: int,
    unit: str,
    actor: Staff | None,
    reference: str = "",
) -> LeaveLedgerEntry:
    """Take annual leave: refused when it would overdraw or cross the hourly cap.

    Whether the unit is allowed, and the size of a half day, is the request's business
    (the leave type and the schedule); here `unit` only decides what the hourly cap counts.
    A last fraction of a day may be taken in hours (e.g. 45 minutes), so no step is forced.
    """
    if minutes <= 0:
        raise LeaveError("使用する時間は正の値にしてください。")
    if unit not in Unit.values:
        raise LeaveError(f"不明な単位です: {unit}")
    per_day = daily_minutes(staff)
    with transaction.atomic():
        _lock(staff)
        balance = balance_minutes(staff=staff, leave_year=leave_year)
        if minutes > balance:
            raise LeaveError(
                f"残日数が足りません。残り {format_minutes(balance, per_day)}、"
                f"申請 {format_minutes(minutes, per_day)}。"
            )
        if unit in Entry.HOURLY_UNITS:
            hourly_use_check(staff=staff, leave_year=leave_year, minutes=minutes)
        return _write(
            staff=staff,
            leave_year=leave_year,
            kind=Kind.USE,
            minutes=-minutes,
            unit=unit,
            actor=actor,
            reference=reference,
        )


def leave_use_cancel(*, entry: LeaveLedgerEntry, actor: Staff | None) -> LeaveLedgerEntry:
    """Reverse a use with a cancel entry of the opposite sign (once per use)."""
    with transaction.atomic():
        _lock(entry.staff)
        if entry.kind != Kind.USE:
            raise LeaveError("取り消せるのは使用の記録だけです。")
        if Entry.objects.filter(reverses=entry).exists():
            raise LeaveError("この使用は取消済みです。")
        return _write(
            staff=entry.staff,
            leave_year=entry.leave_year,
            kind=Kind.CANCEL,
            minutes=-entry.minutes,
            unit=entry.unit,
            actor=actor,
            reference=entry.reference,
            note=f"#{entry.pk} の取消",
            reverses=entry,
        )


def leave_year_open(*, leave_year: int, year_basis: str, actor: Staff | None) -> dict[str, int]:
    """The yearly batch at the start of a leave year: for every active member of a class
    whose leave year is `leave_year`, carry over what is left of the year before, then
    grant the new year. Safe to re-run: a person already granted is skipped, so a run
    cut short can be finished.

    Calendar-year classes (`year_basis` = calendar) open on January 1, fiscal-year classes
    (`year_basis` = fiscal) on April 1; only the classes of that basis are touched.
    """
    done = {"granted": 0, "carried": 0, "skipped": 0}
    classes = list(
        LeaveRules.objects.filter(year_basis=year_basis).values_list("employee_class", flat=True)
    )
    people = Staff.objects.filter(is_active=True, employee_class__in=classes).select_related(
        "work_schedule"
    )
    already = set(
        Entry.objects.filter(leave_year=leave_year, kind=Kind.GRANT).values_list(
            "staff_id", flat=True
        )
    )
    for person in people.iterator():
        if person.pk in already:
            done["skipped"] += 1
            continue
        _start, end = leave_year_bounds(rules_for(person), leave_year)
        if person.hired_on is not None and person.hired_on > end:
            done["skipped"] += 1
            continue
        with transaction.atomic():
            has_previous = Entry.objects.filter(staff=person, leave_year=leave_year - 1).exists()
            carried_in = Entry.objects.filter(
                staff=person, leave_year=leave_year, kind=Kind.CARRY_OVER, minutes__gt=0
            ).exists()
            if (
                has_previous
                and not carried_in
                and carry_over(staff=person, from_year=leave_year - 1, actor=actor) is not None
            ):
                done["carried"] += 1
            annual_grant(staff=person, leave_year=leave_year, actor=actor)
            done["granted"] += 1
    return done
