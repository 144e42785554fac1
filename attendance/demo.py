"""Demo data for 勤怠: the national rules, the calendar, a policy with 人事課 as the HR
office, annual leave opened for everyone, and leave requests and overtime orders of 財政課
in every state, so `kacho` finds items in the inbox and on the team page, `shokuin` a
balance and requests, and `jinji` the HR pages.

Everything goes through the real services (filing, the engine's decisions, reports), so
the ledger, routes and audit trail are the genuine article. Dates are counted from today
in working days. Idempotent: the rules and calendar are upserts, the leave years are
opened once per person, and the requests are added only while the demo staff have none.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import transaction

from common.dates import fiscal_year, today
from org.models import Department, Staff
from org.selectors import assignments_on
from workflow.errors import WorkflowError
from workflow.models import Step
from workflow.services import step_approve, step_reject, step_return

from . import requests as svc
from .calendar import calendar_fill, kinds_between
from .leave import leave_year_open
from .loader import rules_load
from .models import AttendancePolicy, CalendarDay, LeaveRequest, LeaveType, OvertimeOrder
from .overtime import TOKYO

HR_DEPARTMENT = "130"  # 人事課 (fixtures/demo/org.json)
SECTION = "220"  # 財政課: kacho and shokuin sit here
POLICY_FROM = dt.date(2024, 4, 1)  # the demo organisation's first day
DEMO_NOTE = "デモデータ（過去の日付で登録）"


@dataclass
class DemoResult:
    rules_written: int = 0
    days_created: int = 0
    granted: int = 0
    leave_created: int = 0
    overtime_created: int = 0
    skipped: list[str] = field(default_factory=list)


def _workdays(start: dt.date, step: int, count: int) -> list[dt.date]:
    """`count` working days from `start` (exclusive), forwards (step 1) or back (-1)."""
    span = dt.timedelta(days=60)
    kinds = kinds_between(start, start + span) if step > 0 else kinds_between(start - span, start)
    days = sorted((d for d, k in kinds.items() if k == CalendarDay.Kind.WORKDAY), reverse=step < 0)
    return [d for d in days if (d > start if step > 0 else d < start)][:count]


def _pending(subject) -> Step | None:
    return (
        Step.objects.filter(
            route__subject_id=subject.pk,
            route__subject_type__model=subject._meta.model_name,
            route__status="active",
            status=Step.Status.PENDING,
        )
        .select_related("assignee", "route", "stage")
        .first()
    )


def _at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=TOKYO)


def load_policy() -> bool:
    if AttendancePolicy.objects.exists():
        return False
    AttendancePolicy.objects.create(
        valid_from=POLICY_FROM, hr_department=Department.objects.filter(code=HR_DEPARTMENT).first()
    )
    return True


def open_leave_years(day: dt.date) -> int:
    """Last year's leave and this year's for everyone, so the carry-over shows too."""
    granted = 0
    for basis, year in (("calendar", day.year), ("fiscal", fiscal_year(day))):
        for leave_year in (year - 1, year):
            granted += leave_year_open(leave_year=leave_year, year_basis=basis, actor=None)[
                "granted"
            ]
    return granted


def _section_people() -> dict[str, Staff]:
    """財政課 by post, demo logins first: kacho, shokuin, the 主任 and the others."""
    seats = list(
        assignments_on(today())
        .filter(department__code=SECTION, is_primary=True, staff__is_active=True)
        .order_by("post__rank", "staff__employee_number")
    )
    people: dict[str, Staff] = {}
    for a in seats:
        key = a.staff.username if a.staff.username in ("kacho", "shokuin") else a.post.code
        while key in people:
            key += "+"
        people[key] = a.staff
    return people


def _try(result: DemoResult, label: str, make: Callable[[], object]) -> None:
    """One demo item in its own savepoint: a day that turned out to be a holiday, or a rule
    the city changed, skips the item instead of the demo."""
    try:
        with transaction.atomic():
            make()
    except (WorkflowError, ValueError) as err:
        # ValueError: see the report on requests.cap_status and 他律部署 ("taritsu").
        result.skipped.append(f"{label}: {err}")


def load_requests(result: DemoResult) -> None:
    if LeaveRequest.objects.filter(staff__is_demo=True).exists():
        return
    people = _section_people()
    kacho, shokuin = people.get("kacho"), people.get("shokuin")
    if kacho is None or shokuin is None:
        result.skipped.append("財政課の kacho / shokuin がいません (run demo_org first)")
        return
    shunin = people.get("shunin", shokuin)
    other = people.get("shuji", shokuin)
    hosa = people.get("hosa", shunin)
    annual = LeaveType.objects.get(code="annual")
    sick = LeaveType.objects.get(code="sick")
    day = today()
    ahead = _workdays(day, 1, 8)
    back = _workdays(day, -1, 6)

    def leave(staff: Staff, when: dt.date, **kw) -> LeaveRequest:
        values = {"leave_type": annual, "unit": "day", "start_date": when} | kw
        return svc.leave_request_file(staff=staff, filed_by=staff, **values)

    def decide(subject, how: str = "approve", comment: str = "") -> None:
        step = _pending(subject)
        if step is None or step.assignee is None:
            return
        if how == "approve":
            step_approve(step=step, actor=step.assignee, comment=comment)
        elif how == "return":
            step_return(step=step, actor=step.assignee, comment=comment)
        else:
            step_reject(step=step, actor=step.assignee, comment=comment)

    # Waiting for kacho in the inbox: shokuin's day off next week.
    _try(result, "shokuin pending", lambda: leave(shokuin, ahead[3], reason="私用のため"))
    _try(
        result,
        "shokuin approved half day",
        lambda: decide(leave(shokuin, back[2], unit="half_day", half="am", reason="通院")),
    )
    _try(
        result,
        "shunin approved hours",
        lambda: decide(
            leave(
                shunin,
                ahead[1],
                unit="hour",
                start_time=dt.time(15, 15),
                end_time=dt.time(17, 15),
                reason="子の学校行事",
            )
        ),
    )
    _try(
        result,
        "shunin returned",
        lambda: decide(leave(shunin, ahead[5], reason="私用"), "return", "日付の確認を。"),
    )
    _try(
        result,
        "other sick leave",
        lambda: decide(leave(other, back[0], leave_type=sick, reason="発熱のため")),
    )
    _try(
        result,
        "hosa rejected",
        lambda: decide(leave(hosa, ahead[2]), "reject", "議会対応の日のため別の日に。"),
    )
    # kacho's own leave waits for his 部長 (`bucho`).
    _try(result, "kacho pending", lambda: leave(kacho, ahead[6], reason="私用"))

    def order(staff: Staff, when: dt.date, start: int, end: int, *, by: Staff, task: str):
        return svc.overtime_request(
            staff=staff,
            actor=by,
            task=task,
            planned_start=_at(when, start),
            planned_end=_at(when, end),
            after_the_fact_reason=DEMO_NOTE if when <= day else "",
        )

    def report(made: OvertimeOrder, extra: int = 0) -> OvertimeOrder:
        return svc.overtime_report(
            order=made,
            actor=made.staff,
            actual_start=made.planned_start,
            actual_end=made.planned_end + dt.timedelta(minutes=extra),
        )

    # Waiting for kacho: shokuin asks for tomorrow evening.
    _try(
        result,
        "shokuin overtime requested",
        lambda: order(shokuin, ahead[0], 17, 19, by=shokuin, task="補正予算の資料作成"),
    )
    # Ordered by kacho, worked, reported: the 実績 waits for kacho.
    _try(
        result,
        "shokuin overtime reported",
        lambda: report(order(shokuin, back[1], 17, 20, by=kacho, task="決算資料の照合"), 30),
    )
    # The 主任's confirmed evenings this month, for the team page and the caps.
    for i, when in enumerate(back[:4]):
        _try(
            result,
            f"shunin overtime {when}",
            lambda when=when, i=i: decide(
                report(order(shunin, when, 17, 21 + i % 2, by=kacho, task="予算査定の準備"))
            ),
        )


def load() -> DemoResult:
    result = DemoResult()
    day = today()
    with transaction.atomic():
        result.rules_written = rules_load()
        for year in (day.year, day.year + 1):
            result.days_created += calendar_fill(year)["created"]
        load_policy()
        result.granted = open_leave_years(day)
        load_requests(result)
    result.leave_created = LeaveRequest.objects.filter(staff__is_demo=True).count()
    result.overtime_created = OvertimeOrder.objects.filter(staff__is_demo=True).count()
    return result
