"""Day marks on the 出勤簿: 出張, 研修, 職専免, 育休, 休職, 停職, 欠勤, 代休 (`DayMark.Code`).

Leave comes from approved requests and overtime from orders; what is neither is marked
here by HR or by the 庶務担当 of the person's 課. A closed month (月次締め) is changed only
by HR, as a correction (`correction=True`), so the roll of that month keeps reading as of
its closing and lists the change under 「訂正」 (attendance/reports.py). Each change locks
the person's row and is audited in the same transaction with the old and new code, which
is also what the roll reads to show a closed month as it was.
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction

from audit.services import audit_record
from org.models import Staff
from org.roles import HR, has_role
from workflow.errors import NotAllowed

from .models import DayMark
from .requests import AttendanceError, clerk_covers, is_closed

SET_ACTION = "attendance.day_mark.set"
CLEARED_ACTION = "attendance.day_mark.cleared"
ACTIONS = (SET_ACTION, CLEARED_ACTION)


def _check(*, staff: Staff, day: dt.date, actor: Staff, correction: bool) -> None:
    if not clerk_covers(actor, staff, day):
        raise NotAllowed(
            "出勤簿を記録できるのは人事課と、その職員の課の庶務担当です。",
            "Only HR or the clerk of the person's section marks the attendance roll.",
        )
    if is_closed(day):
        if not correction:
            raise AttendanceError(
                f"{day:%Y年%-m月}は締め済みです。訂正として人事課が記録してください。",
                "That month is closed: HR records the change as a correction.",
            )
        if not has_role(actor, HR):
            raise NotAllowed(
                "締めた月の訂正は人事課が行います。", "Only HR corrects a closed month."
            )


def _lock(staff: Staff) -> Staff:
    return Staff.objects.select_for_update().get(pk=staff.pk)


def day_mark_set(
    *,
    staff: Staff,
    date: dt.date,
    code: str,
    actor: Staff,
    note: str = "",
    correction: bool = False,
) -> DayMark:
    """Mark a day (replacing the day's mark, if any). HR or the clerk of the person's
    section; in a closed month only HR, with `correction=True`."""
    if code not in DayMark.Code.values:
        raise AttendanceError(f"不明な区分です: {code}", f"Unknown code: {code}")
    _check(staff=staff, day=date, actor=actor, correction=correction)
    with transaction.atomic():
        staff = _lock(staff)
        mark = DayMark.objects.filter(staff=staff, date=date).first()
        old = None if mark is None else {"code": mark.code, "note": mark.note}
        if mark is None:
            mark = DayMark(staff=staff, date=date, created_by=actor)
        mark.code, mark.note = code, note.strip()[:200]
        mark.correction = mark.correction or bool(correction and is_closed(date))
        if mark.pk is not None:
            mark.created_by = actor
        mark.save()
        audit_record(
            actor=actor,
            action=SET_ACTION,
            target=mark,
            data={
                "staff": staff.pk,
                "date": date.isoformat(),
                "old": old["code"] if old else None,
                "new": code,
                "note": mark.note,
                "correction": mark.correction,
            },
        )
    return mark


def day_mark_clear(
    *, staff: Staff, date: dt.date, actor: Staff, correction: bool = False, reason: str = ""
) -> None:
    """Remove a day's mark; the same rules as `day_mark_set`. Nothing to remove: an error."""
    _check(staff=staff, day=date, actor=actor, correction=correction)
    with transaction.atomic():
        staff = _lock(staff)
        mark = DayMark.objects.filter(staff=staff, date=date).first()
        if mark is None:
            raise AttendanceError(
                f"{date:%-m月%-d日}の記録はありません。", "There is no mark on that day."
            )
        data = {
            "staff": staff.pk,
            "date": date.isoformat(),
            "old": mark.code,
            "new": None,
            "note": reason.strip()[:200],
            "correction": bool(correction and is_closed(date)),
        }
        mark.delete()
        audit_record(actor=actor, action=CLEARED_ACTION, target=staff, data=data)
