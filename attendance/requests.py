"""Leave requests, overtime orders and corrections on the workflow engine.

Each filing locks the staff row first, so two filings for one person are serialised and
the overlap and balance checks see each other. The engine calls the `*_on_approved` /
`*_on_closed` hooks inside its transaction with the route locked; a rule that refuses
there (overdraw, a cap) raises `AttendanceError`, which rolls the decision back and
reaches the approver as a message.

Who decides: the 所属長, i.e. the most senior manager post held in the person's 課 (a 課長
asks the 部長). A correction of a closed month goes to the 所属長 and then the HR office
named in `AttendancePolicy`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Case, F, IntegerField, Q, Sum, When
from django.db.models.functions import TruncMonth
from django.utils import timezone

from audit.services import audit_record
from common.dates import fiscal_year, today
from org.models import Department, Staff
from org.roles import CLERK, HR, has_role
from org.selectors import assignments_on
from workflow.errors import InvalidRequest, NotAllowed
from workflow.models import Notification, Route, Stage
from workflow.services import StageSpec, StepSpec, route_start, step_approve

from . import leave as ledger
from . import overtime as ot
from .calendar import kinds_between
from .models import (
    AttendancePolicy,
    CalendarDay,
    Correction,
    LeaveLedgerEntry,
    LeaveRequest,
    LeaveType,
    MonthClose,
    OvertimeOrder,
    OvertimeReview,
)

Unit = LeaveLedgerEntry.Unit
TOKYO = ot.TOKYO


class AttendanceError(InvalidRequest):
    """A leave or overtime rule refused the change (Japanese, then English)."""


# --- policy, calendar, people ------------------------------------------------------------


def policy_on(day: dt.date | None = None) -> AttendancePolicy | None:
    return (
        AttendancePolicy.objects.filter(valid_from__lte=day or today())
        .order_by("-valid_from")
        .first()
    )


def rules_on(day: dt.date | None = None) -> ot.OvertimeRules:
    policy = policy_on(day)
    return policy.to_rules() if policy is not None else ot.NATIONAL_RULES


month_start = ot.month_start


def closed_months(start: dt.date, end: dt.date) -> list[dt.date]:
    return list(
        MonthClose.objects.filter(month__gte=month_start(start), month__lte=end)
        .order_by("month")
        .values_list("month", flat=True)
    )


def is_closed(day: dt.date) -> bool:
    return MonthClose.objects.filter(month=month_start(day)).exists()


def schedule_of(staff: Staff) -> ot.WorkSchedule:
    ws = staff.work_schedule
    if ws is None:
        return ot.STANDARD_SCHEDULE
    breaks = ((ws.break_start, ws.break_end),) if ws.break_start and ws.break_end else ()
    return ot.WorkSchedule(start=ws.start, end=ws.end, breaks=breaks)


def overtime_day_kind(kinds: dict[dt.date, str]):
    """A day-kind function for `overtime` from a calendar slice (rest → weekly_rest)."""
    mapping = {
        CalendarDay.Kind.WORKDAY: "workday",
        CalendarDay.Kind.REST: "weekly_rest",
        CalendarDay.Kind.HOLIDAY: "holiday",
    }

    def kind_of(day: dt.date) -> ot.DayKind:
        if day not in kinds:
            kinds.update(kinds_between(day, day + dt.timedelta(days=31)))
        return mapping[kinds[day]]

    return kind_of


def department_of(staff: Staff, day: dt.date) -> Department:
    assignment = staff.assignment_on(day)
    if assignment is None:
        raise AttendanceError(
            f"{staff.display_name} さんの {day} の所属がありません。",
            "The person has no department on that day.",
        )
    return assignment.department


def supervisor_step(staff: Staff, day: dt.date) -> StepSpec:
    """The 所属長: the most senior manager post held in the person's 課 (or above it) that
    outranks them. A 係 is passed over: leave and overtime are the 課長's to decide."""
    assignment = staff.assignment_on(day)
    if assignment is None:
        raise AttendanceError(
            f"{staff.display_name} さんの所属がありません。", "The person has no department."
        )
    chain = [assignment.department, *assignment.department.ancestors()]
    held = list(
        assignments_on(day)
        .filter(department__in=chain, post__is_manager=True, post__rank__lt=assignment.post.rank)
        .exclude(staff=staff)
        .values_list("department_id", "post_id", "post__rank")
    )
    for department in chain:
        if department.level == Department.Level.KAKARI:
            continue
        here = sorted((rank, post) for dep, post, rank in held if dep == department.pk)
        if here:
            from org.models import Post

            return StepSpec(post=Post.objects.get(pk=here[0][1]), department=department)
    raise AttendanceError(
        "承認する所属長が見つかりません。人事課に連絡してください。",
        "No supervisor holds a post above this person.",
    )


def is_supervisor_of(actor: Staff, staff: Staff, day: dt.date) -> bool:
    try:
        spec = supervisor_step(staff, day)
    except AttendanceError:
        return False
    return (
        assignments_on(day).filter(staff=actor, post=spec.post, department=spec.department).exists()
    )


def clerk_covers(actor: Staff, staff: Staff, day: dt.date) -> bool:
    """A 庶務担当 files for people of their own 課 (and its 係); HR files for anyone."""
    if has_role(actor, HR):
        return True
    if not has_role(actor, CLERK):
        return False
    mine, theirs = actor.assignment_on(day), staff.assignment_on(day)
    if mine is None or theirs is None:
        return False

    def section(d: Department) -> int:
        return d.parent_id if d.level == Department.Level.KAKARI and d.parent_id else d.pk

    return section(mine.department) == section(theirs.department)


def _may_file_for(actor: Staff, staff: Staff, day: dt.date) -> None:
    if actor.pk == staff.pk or clerk_covers(actor, staff, day):
        return
    if is_supervisor_of(actor, staff, day):
        return
    raise NotAllowed("この職員の申請をする権限がありません。", "You may not file for this person.")


def _stages(staff: Staff, day: dt.date, *, correction: bool) -> list[StageSpec]:
    supervisor = supervisor_step(staff, day)
    if not correction:
        return [StageSpec(Stage.Kind.DECISION, [supervisor])]
    policy = policy_on(day)
    if policy is None or policy.hr_department_id is None:
        raise AttendanceError(
            "締め後の訂正を受け付ける人事担当課が設定されていません（勤怠の設定）。",
            "No HR office is set for corrections (attendance policy).",
        )
    hr = _head_post(policy.hr_department, day)
    return [
        StageSpec(Stage.Kind.CIRCULATION, [supervisor]),
        StageSpec(Stage.Kind.DECISION, [StepSpec(post=hr, department=policy.hr_department)]),
    ]


def _head_post(department: Department, day: dt.date):
    a = (
        assignments_on(day)
        .filter(department=department, post__is_manager=True)
        .order_by("post__rank")
        .first()
    )
    if a is None:
        raise AttendanceError(
            f"{department.name}の長がいません。", "The HR office has no head today."
        )
    return a.post


def _lock_staff(staff: Staff) -> Staff:
    return Staff.objects.select_for_update().get(pk=staff.pk)


def _notify_hr(message: str, url: str) -> None:
    now = timezone.now()
    recipients = Staff.objects.filter(groups__name=HR, is_active=True).values_list("pk", flat=True)
    Notification.objects.bulk_create(
        Notification(
            recipient_id=pk,
            kind=Notification.Kind.ALERT,
            message=message[:300],
            url=url,
            created_at=now,
        )
        for pk in recipients
    )


# --- leave requests ----------------------------------------------------------------------


@dataclass(frozen=True)
class LeaveSpan:
    starts_at: dt.datetime
    ends_at: dt.datetime
    days: int
    minutes: int


def _aware(day: dt.date, at: dt.time) -> dt.datetime:
    return dt.datetime.combine(day, at, tzinfo=TOKYO)


def _regular_minutes(schedule: ot.WorkSchedule, start: dt.time, end: dt.time) -> int:
    day = dt.date(2000, 1, 1)
    total = 0
    cursor = dt.datetime.combine(day, start)
    stop = dt.datetime.combine(day, end)
    while cursor < stop:
        if schedule.is_regular(cursor.time()):
            total += 1
        cursor += dt.timedelta(minutes=1)
    return total


def leave_span(
    *,
    staff: Staff,
    leave_type: LeaveType,
    unit: str,
    start_date: dt.date,
    end_date: dt.date | None,
    half: str = "",
    start_time: dt.time | None = None,
    end_time: dt.time | None = None,
) -> LeaveSpan:
    """Where the leave sits in time and what it counts, checked against the type's units."""
    allowed = {
        Unit.DAY: leave_type.allow_day,
        Unit.HALF_DAY: leave_type.allow_half_day,
        Unit.HOUR: leave_type.allow_hour,
        Unit.QUARTER_HOUR: leave_type.allow_quarter_hour,
    }
    if not allowed.get(unit, False):
        label = dict(Unit.choices).get(unit, unit)
        raise AttendanceError(
            f"{leave_type.name}は「{label}」単位では取得できません。",
            f"{leave_type.name} cannot be taken in this unit.",
        )
    schedule = schedule_of(staff)
    per_day = ledger.daily_minutes(staff)
    if unit == Unit.DAY:
        end_date = end_date or start_date
        if end_date < start_date:
            raise AttendanceError("終了日が開始日より前です。", "The end date is before the start.")
        days = ledger.leave_days_counted(leave_type, start_date, end_date)
        if days == 0:
            raise AttendanceError(
                "指定の期間に勤務日がありません（週休日・休日は数えません）。",
                "No working day in that period (rest days and holidays do not count).",
            )
        return LeaveSpan(
            _aware(start_date, dt.time(0, 0)),
            _aware(end_date + dt.timedelta(days=1), dt.time(0, 0)),
            days,
            days * per_day,
        )
    if end_date not in (None, start_date):
        raise AttendanceError(
            "半日・時間単位の休暇は1日ごとに申請してください。",
            "Half-day and hourly leave is filed one day at a time.",
        )
    if kinds_between(start_date, start_date)[start_date] != CalendarDay.Kind.WORKDAY and (
        not leave_type.counts_calendar_days
    ):
        raise AttendanceError(
            f"{start_date:%-m月%-d日}は勤務日ではありません。", "That day is not a working day."
        )
    if unit == Unit.HALF_DAY:
        if half not in LeaveRequest.Half.values:
            raise AttendanceError("午前か午後を選んでください。", "Choose morning or afternoon.")
        brk = schedule.breaks[0] if schedule.breaks else None
        if brk is None:
            raise AttendanceError(
                "休憩のない勤務形態では半日単位を使えません。",
                "Half days need a schedule with a break.",
            )
        start, end = (schedule.start, brk[0]) if half == "am" else (brk[1], schedule.end)
        minutes = _regular_minutes(schedule, start, end)
        return LeaveSpan(_aware(start_date, start), _aware(start_date, end), 0, minutes)
    if start_time is None or end_time is None or end_time <= start_time:
        raise AttendanceError(
            "開始時刻と終了時刻を正しく入力してください。", "Enter a start and an end time."
        )
    if start_time < schedule.start or end_time > schedule.end:
        raise AttendanceError(
            f"勤務時間（{schedule.start:%H:%M}〜{schedule.end:%H:%M}）の中で指定してください。",
            "Hourly leave must fall within working hours.",
        )
    minutes = _regular_minutes(schedule, start_time, end_time)
    step = 60 if unit == Unit.HOUR else 15
    if minutes <= 0 or (minutes % step and minutes != per_day % 60):
        raise AttendanceError(
            f"{step}分単位で指定してください（休憩を除いて{minutes}分）。",
            f"Use whole {step}-minute units (break excluded: {minutes} min).",
        )
    return LeaveSpan(_aware(start_date, start_time), _aware(start_date, end_time), 0, minutes)


def _check_type_rules(
    staff: Staff, leave_type: LeaveType, span: LeaveSpan, start: dt.date, end: dt.date
) -> None:
    if leave_type.window_start_month and leave_type.window_end_month:
        first, last = leave_type.window_start_month, leave_type.window_end_month

        def inside(month: int) -> bool:
            return first <= month <= last if first <= last else month >= first or month <= last

        if not (inside(start.month) and inside(end.month)):
            raise AttendanceError(
                f"{leave_type.name}は{first}月から{last}月までに取得してください。",
                f"{leave_type.name} is taken between months {first} and {last}.",
            )
    if leave_type.occasion_limit_days and span.days > leave_type.occasion_limit_days:
        raise AttendanceError(
            f"{leave_type.name}は1回{leave_type.occasion_limit_days}日までです"
            f"（申請 {span.days}日）。",
            f"At most {leave_type.occasion_limit_days} days at a time.",
        )
    if leave_type.annual_limit_days:
        year = start.year
        per_day = ledger.daily_minutes(staff)
        taken = (
            LeaveRequest.objects.filter(
                staff=staff,
                leave_type=leave_type,
                status__in=LeaveRequest.ACTIVE,
                start_date__year=year,
            ).aggregate(m=Sum("minutes"))["m"]
            or 0
        )
        limit = leave_type.annual_limit_days * per_day
        if taken + span.minutes > limit:
            raise AttendanceError(
                f"{leave_type.name}は年{leave_type.annual_limit_days}日までです。"
                f"取得・申請済み {ledger.format_minutes(taken, per_day)}、"
                f"残り {ledger.format_minutes(max(limit - taken, 0), per_day)}。",
                f"Annual limit of {leave_type.annual_limit_days} days reached.",
            )


def _refuse_overlap(staff: Staff, span: LeaveSpan, exclude: int | None = None) -> None:
    clash = (
        LeaveRequest.objects.filter(
            staff=staff,
            status__in=LeaveRequest.ACTIVE,
            starts_at__lt=span.ends_at,
            ends_at__gt=span.starts_at,
        )
        .exclude(pk=exclude)
        .select_related("leave_type")
        .first()
    )
    if clash is not None:
        raise AttendanceError(
            f"既に申請している休暇と重なります: {clash.leave_type.name} {clash.period_label()}"
            f"（{clash.get_status_display()}）。",
            "This overlaps a leave already requested.",
        )


def pending_minutes(*, staff: Staff, leave_year: int, exclude: int | None = None) -> int:
    """Annual leave asked for and not yet charged to the ledger."""
    return (
        LeaveRequest.objects.filter(
            staff=staff,
            leave_year=leave_year,
            leave_type__from_ledger=True,
            status__in=(LeaveRequest.Status.PENDING, LeaveRequest.Status.RETURNED),
        )
        .exclude(pk=exclude)
        .aggregate(m=Sum("minutes"))["m"]
        or 0
    )


def _refuse_overdraw(staff: Staff, leave_year: int, minutes: int, unit: str, exclude=None) -> None:
    per_day = ledger.daily_minutes(staff)
    balance = ledger.balance_minutes(staff=staff, leave_year=leave_year)
    pending = pending_minutes(staff=staff, leave_year=leave_year, exclude=exclude)
    available = balance - pending
    if minutes > available:
        fmt = ledger.format_minutes
        raise AttendanceError(
            f"年次休暇の残りが足りません。残り {fmt(balance, per_day)}"
            + (f"（うち申請中 {fmt(pending, per_day)}）" if pending else "")
            + f"、申請 {fmt(minutes, per_day)}。",
            f"Not enough annual leave: {balance} min left, {pending} min pending, "
            f"{minutes} min asked.",
        )
    if unit in LeaveLedgerEntry.HOURLY_UNITS:
        try:
            ledger.hourly_use_check(staff=staff, leave_year=leave_year, minutes=minutes)
        except ledger.LeaveError as err:
            raise AttendanceError(str(err), "Beyond the hourly-use cap.") from err


def leave_request_file(
    *,
    staff: Staff,
    filed_by: Staff,
    leave_type: LeaveType,
    unit: str,
    start_date: dt.date,
    end_date: dt.date | None = None,
    half: str = "",
    start_time: dt.time | None = None,
    end_time: dt.time | None = None,
    reason: str = "",
    correction_reason: str = "",
    client_request_id: str = "",
) -> LeaveRequest:
    """File a leave request and send it to the 所属長 (a clerk may file for someone)."""
    day = today()
    _may_file_for(filed_by, staff, day)
    if not leave_type.is_active:
        raise AttendanceError("この休暇の種類は使えません。", "This leave type is not in use.")
    span = leave_span(
        staff=staff,
        leave_type=leave_type,
        unit=unit,
        start_date=start_date,
        end_date=end_date,
        half=half,
        start_time=start_time,
        end_time=end_time,
    )
    end_date = end_date or start_date
    correction = bool(closed_months(start_date, end_date))
    if correction and not correction_reason.strip():
        raise AttendanceError(
            "締めた月の休暇です。訂正の理由を入力してください（人事課まで回ります）。",
            "That month is closed: give a reason for the correction (it goes to HR).",
        )
    leave_year = ledger.leave_year_of(staff, start_date)
    if leave_type.from_ledger and ledger.leave_year_of(staff, end_date) != leave_year:
        raise AttendanceError(
            "休暇年をまたぐ年次休暇は年ごとに分けて申請してください。",
            "Split annual leave that spans two leave years.",
        )
    with transaction.atomic():
        staff = _lock_staff(staff)
        _refuse_overlap(staff, span)
        _check_type_rules(staff, leave_type, span, start_date, end_date)
        if leave_type.from_ledger:
            _refuse_overdraw(staff, leave_year, span.minutes, unit)
        request = LeaveRequest.objects.create(
            staff=staff,
            filed_by=filed_by,
            department=department_of(staff, start_date if start_date <= day else day),
            leave_type=leave_type,
            unit=unit,
            start_date=start_date,
            end_date=end_date,
            half=half if unit == Unit.HALF_DAY else "",
            start_time=start_time if unit in LeaveLedgerEntry.HOURLY_UNITS else None,
            end_time=end_time if unit in LeaveLedgerEntry.HOURLY_UNITS else None,
            starts_at=span.starts_at,
            ends_at=span.ends_at,
            days=span.days,
            minutes=span.minutes,
            leave_year=leave_year,
            reason=reason.strip()[:500],
            correction=correction,
            correction_reason=correction_reason.strip()[:500],
        )
        audit_record(
            actor=filed_by,
            action="attendance.leave.filed",
            target=request,
            data={
                "staff": staff.pk,
                "type": leave_type.code,
                "unit": unit,
                "from": str(span.starts_at),
                "to": str(span.ends_at),
                "minutes": span.minutes,
                "correction": correction,
            },
        )
        _submit(request, filed_by, correction, client_request_id)
    return request


def _submit(subject, actor: Staff, correction: bool, client_request_id: str = "") -> Route:
    return route_start(
        subject=subject,
        actor=actor,
        title=subject.workflow_title(),
        department=subject.department,
        stages=_stages(subject.staff, today(), correction=correction),
        client_request_id=client_request_id,
    )


def leave_request_resubmit(*, request: LeaveRequest, actor: Staff) -> LeaveRequest:
    """Send a returned request again, unchanged (the checks run again)."""
    with transaction.atomic():
        _lock_staff(request.staff)
        request = LeaveRequest.objects.select_for_update().get(pk=request.pk)
        if request.status != LeaveRequest.Status.RETURNED:
            raise AttendanceError(
                "差し戻された申請だけを再提出できます。", "Only a returned request can be resent."
            )
        _may_file_for(actor, request.staff, today())
        span = LeaveSpan(request.starts_at, request.ends_at, request.days, request.minutes)
        _refuse_overlap(request.staff, span, exclude=request.pk)
        if request.leave_type.from_ledger:
            _refuse_overdraw(
                request.staff, request.leave_year, request.minutes, request.unit, exclude=request.pk
            )
        request.status = LeaveRequest.Status.PENDING
        request.save(update_fields=["status"])
        audit_record(actor=actor, action="attendance.leave.resubmitted", target=request, data={})
        _submit(request, actor, request.correction)
    return request


def leave_on_approved(*, request: LeaveRequest, actor: Staff) -> None:
    """The 所属長 approved: charge annual leave to the ledger (refused if it would overdraw)."""
    request = (
        LeaveRequest.objects.select_for_update().select_related("leave_type").get(pk=request.pk)
    )
    if request.status != LeaveRequest.Status.PENDING:
        raise AttendanceError("この申請は処理済みです。", "This request was already decided.")
    if request.leave_type.from_ledger:
        try:
            entry = ledger.leave_use(
                staff=request.staff,
                leave_year=request.leave_year,
                minutes=request.minutes,
                unit=request.unit,
                actor=actor,
                reference=f"leave-request:{request.pk}",
            )
        except ledger.LeaveError as err:
            raise AttendanceError(str(err), "Approving would overdraw the leave.") from err
        request.ledger_entry = entry
    request.status = LeaveRequest.Status.APPROVED
    request.decided_at = timezone.now()
    request.decided_by = actor
    request.save(update_fields=["status", "decided_at", "decided_by", "ledger_entry"])
    audit_record(
        actor=actor,
        action="attendance.leave.approved",
        target=request,
        data={"minutes": request.minutes, "ledger": request.ledger_entry_id},
    )


def leave_on_closed(*, request: LeaveRequest, status: str, actor: Staff) -> None:
    request = LeaveRequest.objects.select_for_update().get(pk=request.pk)
    request.status = status
    if status == LeaveRequest.Status.REJECTED:
        request.decided_at, request.decided_by = timezone.now(), actor
    request.save(update_fields=["status", "decided_at", "decided_by"])
    audit_record(actor=actor, action=f"attendance.leave.{status}", target=request, data={})


def _cancel_leave(request: LeaveRequest, actor: Staff, reason: str) -> None:
    if request.ledger_entry_id is not None:
        ledger.leave_use_cancel(entry=request.ledger_entry, actor=actor)
    request.status = LeaveRequest.Status.CANCELLED
    request.cancelled_at = timezone.now()
    request.cancelled_by = actor
    request.cancel_reason = reason.strip()[:500]
    request.save(update_fields=["status", "cancelled_at", "cancelled_by", "cancel_reason"])
    audit_record(
        actor=actor,
        action="attendance.leave.cancelled",
        target=request,
        data={"reason": request.cancel_reason, "restored_minutes": request.minutes},
    )


def leave_request_cancel(*, request: LeaveRequest, actor: Staff, reason: str = "") -> LeaveRequest:
    """Cancel an approved leave: a reversing ledger entry restores the balance.

    The person, their clerk or their 所属長 may cancel while the month is open; for a
    closed month use `correction_file` (the change then goes through HR).
    """
    with transaction.atomic():
        _lock_staff(request.staff)
        request = LeaveRequest.objects.select_for_update().get(pk=request.pk)
        _may_file_for(actor, request.staff, today())
        if request.status != LeaveRequest.Status.APPROVED:
            raise AttendanceError(
                "取り消せるのは承認済みの休暇だけです（申請中なら取下げてください）。",
                "Only approved leave can be cancelled; withdraw a pending request instead.",
            )
        if closed_months(request.start_date, request.end_date):
            raise AttendanceError(
                "締めた月の休暇です。訂正の申請をしてください。",
                "That month is closed: file a correction.",
            )
        _cancel_leave(request, actor, reason)
    return request


# --- overtime ------------------------------------------------------------------------------


def _overtime_minutes(
    staff: Staff, start: dt.datetime, end: dt.datetime, rules: ot.OvertimeRules
) -> dict[ot.Band, int]:
    local = start.astimezone(TOKYO)
    kinds = kinds_between(local.date() - dt.timedelta(days=1), local.date() + dt.timedelta(days=2))
    return ot.interval_bands(
        start,
        end,
        day_kind=overtime_day_kind(kinds),
        schedule=schedule_of(staff),
        rules=rules,
    )


def cap_minutes(bands: dict[ot.Band, int]) -> int:
    """Overtime in the cap sense: every band but 休日給 (regular hours on a 休日)."""
    return sum(m for b, m in bands.items() if b in ot.COUNTS_TOWARD_60H)


def _minute(value: dt.datetime, name: str) -> dt.datetime:
    if timezone.is_naive(value):
        value = timezone.make_aware(value, TOKYO)
    return value.replace(second=0, microsecond=0)


COUNTED_MINUTES = Case(
    When(
        status=OvertimeOrder.Status.CONFIRMED,
        actual_minutes__isnull=False,
        then=F("actual_minutes"),
    ),
    default=F("planned_minutes"),
    output_field=IntegerField(),
)


def monthly_minutes(
    *, staff: Staff, first: dt.date, last: dt.date, exclude: int | None = None
) -> dict[dt.date, int]:
    """Overtime minutes per month (first day) for the caps: confirmed actuals, else plans."""
    rows = (
        OvertimeOrder.objects.filter(
            staff=staff,
            status__in=OvertimeOrder.COUNTED,
            work_date__gte=first,
            work_date__lte=last,
        )
        .exclude(pk=exclude)
        .annotate(month=TruncMonth("work_date"))
        .values("month")
        .annotate(m=Sum(COUNTED_MINUTES))
    )
    return {r["month"]: r["m"] or 0 for r in rows}


def cap_status(
    *, staff: Staff, month: dt.date, proposed: int = 0, exclude: int | None = None
) -> ot.CapCheck:
    """The caps for one person and month, with `proposed` minutes added."""
    month = month_start(month)
    rules = rules_on(month)
    first = ot.add_months(month, -11)
    last = ot.add_months(month, 12) - dt.timedelta(days=1)
    history = monthly_minutes(staff=staff, first=first, last=last, exclude=exclude)
    department = department_of(staff, month if month <= today() else today())
    return ot.cap_check(
        history, proposed, month, ot.department_class(department.overtime_class), rules
    )


def _refuse_overtime_overlap(staff: Staff, start, end, exclude=None) -> None:
    clash = (
        OvertimeOrder.objects.filter(
            staff=staff,
            status__in=OvertimeOrder.ACTIVE,
            planned_start__lt=end,
            planned_end__gt=start,
        )
        .exclude(pk=exclude)
        .first()
    )
    if clash is not None:
        raise AttendanceError(
            f"既にある超過勤務命令と時間が重なります: {clash.work_date:%-m/%-d} "
            f"{clash.planned_start.astimezone(TOKYO):%H:%M}–{clash.planned_end.astimezone(TOKYO):%H:%M}。",
            "This overlaps another overtime order.",
        )


def overtime_request(
    *,
    staff: Staff,
    actor: Staff,
    task: str,
    planned_start: dt.datetime,
    planned_end: dt.datetime,
    special: bool = False,
    special_reason: str = "",
    after_the_fact_reason: str = "",
    moved_rest_day: dt.date | None = None,
    correction_reason: str = "",
    client_request_id: str = "",
) -> OvertimeOrder:
    """事前命令: the employee asks, or the 所属長 orders (then it is decided at once).

    An order whose planned start has passed is allowed but flagged 事後 and needs a reason.
    """
    planned_start = _minute(planned_start, "planned_start")
    planned_end = _minute(planned_end, "planned_end")
    if planned_end <= planned_start:
        raise AttendanceError(
            "終了は開始より後にしてください。", "The end must be after the start."
        )
    if planned_end - planned_start > dt.timedelta(hours=24):
        raise AttendanceError("1件の命令は24時間までです。", "One order covers at most 24 hours.")
    if not task.strip():
        raise AttendanceError("業務内容を入力してください。", "Describe the task.")
    if special and not special_reason.strip():
        raise AttendanceError("特例業務の理由を入力してください。", "Give the reason for 特例業務.")
    day = today()
    work_date = planned_start.astimezone(TOKYO).date()
    ordering = is_supervisor_of(actor, staff, day) and actor.pk != staff.pk
    _may_file_for(actor, staff, day)
    after = planned_start < timezone.now()
    if after and not after_the_fact_reason.strip():
        raise AttendanceError(
            "開始時刻を過ぎた命令（事後命令）です。事前に命令できなかった理由を入力してください。",
            "The start has passed: give the reason for an after-the-fact order.",
        )
    correction = is_closed(work_date)
    if correction and not correction_reason.strip():
        raise AttendanceError(
            "締めた月の超過勤務です。訂正の理由を入力してください（人事課まで回ります）。",
            "That month is closed: give a reason for the correction (it goes to HR).",
        )
    rules = rules_on(work_date)
    bands = _overtime_minutes(staff, planned_start, planned_end, rules)
    if not any(bands.values()):
        raise AttendanceError(
            "指定の時間はすべて正規の勤務時間内です。超過勤務になりません。",
            "That span is all regular hours: no overtime.",
        )
    with transaction.atomic():
        staff = _lock_staff(staff)
        _refuse_overtime_overlap(staff, planned_start, planned_end)
        order = OvertimeOrder.objects.create(
            staff=staff,
            requested_by=actor,
            department=department_of(staff, work_date if work_date <= day else day),
            work_date=work_date,
            task=task.strip()[:300],
            planned_start=planned_start,
            planned_end=planned_end,
            planned_minutes=cap_minutes(bands),
            after_the_fact=after,
            after_the_fact_reason=after_the_fact_reason.strip()[:500] if after else "",
            special=special,
            special_reason=special_reason.strip()[:500] if special else "",
            moved_rest_day=moved_rest_day,
            correction=correction,
            correction_reason=correction_reason.strip()[:500],
        )
        audit_record(
            actor=actor,
            action="attendance.overtime.requested",
            target=order,
            data={
                "staff": staff.pk,
                "start": str(planned_start),
                "end": str(planned_end),
                "minutes": order.planned_minutes,
                "after_the_fact": after,
                "special": special,
                "ordered_by_supervisor": ordering,
            },
        )
        route = _submit(order, actor, correction, client_request_id)
        if ordering and not correction:
            step = route.steps.filter(status="pending").first()
            if step is not None:
                step_approve(step=step, actor=actor, comment="命令")
        order.refresh_from_db()
    return order


def overtime_resubmit(*, order: OvertimeOrder, actor: Staff) -> OvertimeOrder:
    with transaction.atomic():
        _lock_staff(order.staff)
        order = OvertimeOrder.objects.select_for_update().get(pk=order.pk)
        if order.status != OvertimeOrder.Status.RETURNED:
            raise AttendanceError(
                "差し戻された申請だけを再提出できます。", "Only a returned request can be resent."
            )
        _may_file_for(actor, order.staff, today())
        _refuse_overtime_overlap(order.staff, order.planned_start, order.planned_end, order.pk)
        order.status = OvertimeOrder.Status.REQUESTED
        order.save(update_fields=["status"])
        audit_record(actor=actor, action="attendance.overtime.resubmitted", target=order, data={})
        _submit(order, actor, order.correction)
    return order


def _actual_bands(order: OvertimeOrder, rules: ot.OvertimeRules) -> dict[ot.Band, int]:
    """Bands of the actual interval; the break is taken from its start (documented)."""
    start = order.actual_start + dt.timedelta(minutes=order.break_minutes)
    if start >= order.actual_end:
        return dict.fromkeys(ot.Band, 0)
    return _overtime_minutes(order.staff, start, order.actual_end, rules)


def _rest_warning(order: OvertimeOrder) -> str:
    """勤務間インターバル: rest from the end of the work to the next working day's start."""
    rules = rules_on(order.work_date)
    end = order.actual_end.astimezone(TOKYO)
    kinds = kinds_between(end.date(), end.date() + dt.timedelta(days=10))
    schedule = schedule_of(order.staff)
    for day in sorted(kinds):
        start = _aware(day, schedule.start)
        if kinds[day] == CalendarDay.Kind.WORKDAY and start > end:
            warning = ot.rest_interval_warning(end, start, rules)
            if warning is None:
                return ""
            return (
                f"勤務間インターバル: {start:%-m/%-d %H:%M} の始業まで休息 "
                f"{warning.rest_minutes // 60}時間{warning.rest_minutes % 60:02d}分"
                f"（目安 {warning.required_minutes // 60}時間）。"
            )
    return ""


def overtime_report(
    *,
    order: OvertimeOrder,
    actor: Staff,
    actual_start: dt.datetime,
    actual_end: dt.datetime,
    break_minutes: int = 0,
) -> OvertimeOrder:
    """The employee reports the actual times; the 所属長 confirms them (second round)."""
    actual_start = _minute(actual_start, "actual_start")
    actual_end = _minute(actual_end, "actual_end")
    if actual_end <= actual_start:
        raise AttendanceError(
            "終了は開始より後にしてください。", "The end must be after the start."
        )
    if break_minutes < 0 or dt.timedelta(minutes=break_minutes) >= actual_end - actual_start:
        raise AttendanceError("休憩の時間が正しくありません。", "The break is not valid.")
    if actual_end > timezone.now():
        raise AttendanceError(
            "終わっていない勤務の実績は報告できません。", "Report the actual times after the work."
        )
    with transaction.atomic():
        _lock_staff(order.staff)
        order = OvertimeOrder.objects.select_for_update().get(pk=order.pk)
        _may_file_for(actor, order.staff, today())
        if order.status != OvertimeOrder.Status.ORDERED:
            raise AttendanceError(
                "命令済みの超過勤務だけ実績を報告できます。",
                "Only an ordered overtime is reported.",
            )
        if is_closed(order.work_date):
            raise AttendanceError(
                "締めた月の実績です。訂正の申請をしてください。",
                "That month is closed: file a correction.",
            )
        order.actual_start, order.actual_end = actual_start, actual_end
        order.break_minutes = break_minutes
        order.actual_minutes = cap_minutes(_actual_bands(order, rules_on(order.work_date)))
        order.status = OvertimeOrder.Status.REPORTED
        order.reported_at = timezone.now()
        order.save(
            update_fields=[
                "actual_start",
                "actual_end",
                "break_minutes",
                "actual_minutes",
                "status",
                "reported_at",
            ]
        )
        audit_record(
            actor=actor,
            action="attendance.overtime.reported",
            target=order,
            data={
                "start": str(actual_start),
                "end": str(actual_end),
                "break": break_minutes,
                "minutes": order.actual_minutes,
            },
        )
        _submit(order, actor, False)
    return order


def _finding_text(f: ot.CapFinding) -> str:
    labels = {
        "monthly_cap": "月の上限",
        "yearly_cap": "年度の上限",
        "average_cap": "2〜6か月平均の上限",
        "months_over_45h": "月45時間超の月数",
    }
    if f.rule == "months_over_45h":
        return f"{labels[f.rule]}: {int(f.value)}か月（上限 {int(f.limit)}か月）"
    value = f"{f.value / 60:.1f}".rstrip("0").rstrip(".")
    return f"{labels.get(f.rule, f.rule)}: {value}時間（上限 {int(f.limit) // 60}時間）"


def findings_json(check: ot.CapCheck) -> list[dict]:
    items = [
        {
            "level": "violation",
            "rule": f.rule,
            "value": f.value,
            "limit": f.limit,
            "text": _finding_text(f),
            "en": f.message,
        }
        for f in check.violations
    ]
    items += [
        {
            "level": "warning",
            "rule": f.rule,
            "value": f.value,
            "limit": f.limit,
            "text": _finding_text(f) + "（80%に達しています）",
            "en": f.message,
        }
        for f in check.warnings
    ]
    items += [
        {
            "level": "doctor",
            "rule": "doctor_interview",
            "text": "医師による面接指導の対象: " + r,
            "en": r,
        }
        for r in check.doctor_reasons
    ]
    return items


def _open_review(order: OvertimeOrder, check: ot.CapCheck) -> OvertimeReview:
    policy = policy_on(order.work_date)
    months = policy.review_months_after_year if policy else 6
    fy = fiscal_year(order.work_date)
    due = ot.add_months(dt.date(fy + 1, 4, 1), months) - dt.timedelta(days=1)
    review, created = OvertimeReview.objects.get_or_create(
        order=order,
        defaults={
            "fiscal_year": fy,
            "due_on": due,
            "findings": [x for x in findings_json(check) if x["level"] == "violation"],
        },
    )
    if created:
        audit_record(
            actor=None,
            action="attendance.overtime_review.opened",
            target=review,
            data={"order": order.pk, "due_on": str(due)},
        )
        _notify_hr(
            f"特例業務の上限超過: {order.staff.display_name} {order.work_date:%Y-%m}。"
            f"要因の整理・分析・検証を {due:%Y-%m-%d} までに。",
            order.get_absolute_url(),
        )
    return review


def overtime_on_approved(*, order: OvertimeOrder, actor: Staff) -> None:
    order = OvertimeOrder.objects.select_for_update().select_related("staff").get(pk=order.pk)
    if order.status == OvertimeOrder.Status.REQUESTED:
        check = cap_status(
            staff=order.staff,
            month=order.work_date,
            proposed=order.planned_minutes,
            exclude=order.pk,
        )
        if check.violations and not order.special:
            worst = "、".join(_finding_text(f) for f in check.violations)
            raise AttendanceError(
                f"上限を超えるため命令できません（{worst}）。"
                "災害対応などの特例業務なら、理由を付けて特例業務として申請し直してください。",
                "Ordering this would cross a cap: "
                + "; ".join(f.message for f in check.violations),
            )
        order.status = OvertimeOrder.Status.ORDERED
        order.ordered_at, order.ordered_by = timezone.now(), actor
        order.warnings = findings_json(check)
        order.doctor_interview = check.doctor_interview
        order.save(
            update_fields=["status", "ordered_at", "ordered_by", "warnings", "doctor_interview"]
        )
        if check.violations:
            _open_review(order, check)
        audit_record(
            actor=actor,
            action="attendance.overtime.ordered",
            target=order,
            data={"minutes": order.planned_minutes, "findings": len(order.warnings)},
        )
        return
    if order.status != OvertimeOrder.Status.REPORTED:
        raise AttendanceError("この申請は処理済みです。", "This item was already decided.")
    # Work that happened is confirmed whatever the caps say; what it crossed is flagged.
    check = cap_status(
        staff=order.staff,
        month=order.work_date,
        proposed=order.actual_minutes or 0,
        exclude=order.pk,
    )
    order.status = OvertimeOrder.Status.CONFIRMED
    order.confirmed_at, order.confirmed_by = timezone.now(), actor
    order.warnings = findings_json(check)
    if rest := _rest_warning(order):
        order.warnings.append(
            {"level": "warning", "rule": "rest_interval", "text": rest, "en": rest}
        )
    order.doctor_interview = check.doctor_interview
    order.save(
        update_fields=["status", "confirmed_at", "confirmed_by", "warnings", "doctor_interview"]
    )
    if check.violations:
        _open_review(order, check)
    audit_record(
        actor=actor,
        action="attendance.overtime.confirmed",
        target=order,
        data={"minutes": order.actual_minutes, "findings": len(order.warnings)},
    )


def overtime_on_closed(*, order: OvertimeOrder, outcome: str, actor: Staff) -> None:
    order = OvertimeOrder.objects.select_for_update().get(pk=order.pk)
    if order.status == OvertimeOrder.Status.REPORTED:
        # A report sent back, refused or taken back: the order stands, report again.
        order.status = OvertimeOrder.Status.ORDERED
        order.reported_at = None
        order.save(update_fields=["status", "reported_at"])
    else:
        order.status = {
            "returned": OvertimeOrder.Status.RETURNED,
            "rejected": OvertimeOrder.Status.REJECTED,
            "withdrawn": OvertimeOrder.Status.WITHDRAWN,
        }[outcome]
        order.save(update_fields=["status"])
    audit_record(
        actor=actor,
        action=f"attendance.overtime.{outcome}",
        target=order,
        data={"status": order.status},
    )


def overtime_review_complete(
    *, review: OvertimeReview, actor: Staff, causes: str, analysis: str, verification: str
) -> OvertimeReview:
    if not has_role(actor, HR):
        raise NotAllowed("人事課だけが検証を完了できます。", "Only HR completes a review.")
    if not (causes.strip() and analysis.strip() and verification.strip()):
        raise AttendanceError(
            "要因の整理・分析・検証をすべて記入してください。",
            "Fill in causes, analysis and verification.",
        )
    with transaction.atomic():
        review = OvertimeReview.objects.select_for_update().get(pk=review.pk)
        if review.status == OvertimeReview.Status.DONE:
            raise AttendanceError("この検証は完了済みです。", "This review is already done.")
        review.causes, review.analysis = causes.strip(), analysis.strip()
        review.verification = verification.strip()
        review.status = OvertimeReview.Status.DONE
        review.completed_at, review.completed_by = timezone.now(), actor
        review.save()
        audit_record(actor=actor, action="attendance.overtime_review.done", target=review, data={})
    return review


# --- month close and corrections ---------------------------------------------------------------


def month_close(*, month: dt.date, actor: Staff) -> MonthClose:
    """Close a month (月次締め): its reports are fixed and changes go by correction.

    Refused while a request touching the month is still undecided, so nothing is caught
    half-way.
    """
    if not has_role(actor, HR):
        raise NotAllowed("月次締めは人事課が行います。", "Only HR closes a month.")
    first = month_start(month)
    last = ot.month_end(first)
    if last >= today():
        raise AttendanceError("終わっていない月は締められません。", "The month has not ended.")
    with transaction.atomic():
        MonthClose.objects.select_for_update().filter(month=first).first()
        if MonthClose.objects.filter(month=first).exists():
            raise AttendanceError(f"{first:%Y年%-m月}は締め済みです。", "Already closed.")
        open_leave = LeaveRequest.objects.filter(
            status__in=(LeaveRequest.Status.PENDING, LeaveRequest.Status.RETURNED),
            start_date__lte=last,
            end_date__gte=first,
        ).count()
        open_ot = OvertimeOrder.objects.filter(
            status__in=(
                OvertimeOrder.Status.REQUESTED,
                OvertimeOrder.Status.RETURNED,
                OvertimeOrder.Status.ORDERED,
                OvertimeOrder.Status.REPORTED,
            ),
            work_date__range=(first, last),
        ).count()
        if open_leave or open_ot:
            raise AttendanceError(
                f"未処理の申請があります（休暇 {open_leave}件、超過勤務 {open_ot}件）。"
                "承認・実績確認が済んでから締めてください。",
                f"Undecided requests remain ({open_leave} leave, {open_ot} overtime).",
            )
        closed = MonthClose.objects.create(month=first, closed_at=timezone.now(), closed_by=actor)
        audit_record(actor=actor, action="attendance.month.closed", target=closed, data={})
    return closed


def _order_values(order: OvertimeOrder) -> dict:
    return {
        "actual_start": order.actual_start.isoformat() if order.actual_start else None,
        "actual_end": order.actual_end.isoformat() if order.actual_end else None,
        "break_minutes": order.break_minutes,
        "actual_minutes": order.actual_minutes,
    }


def correction_file(
    *,
    actor: Staff,
    reason: str,
    leave_request: LeaveRequest | None = None,
    overtime_order: OvertimeOrder | None = None,
    actual_start: dt.datetime | None = None,
    actual_end: dt.datetime | None = None,
    break_minutes: int = 0,
) -> Correction:
    """Ask to change a closed month: cancel an approved leave, or correct an overtime's
    actual times. Goes to the 所属長 and then HR; applied when HR decides."""
    if not reason.strip():
        raise AttendanceError("訂正の理由を入力してください。", "Give the reason.")
    if (leave_request is None) == (overtime_order is None):
        raise AttendanceError("訂正する対象を1つ選んでください。", "Choose one item to correct.")
    subject = leave_request or overtime_order
    with transaction.atomic():
        _lock_staff(subject.staff)
        _may_file_for(actor, subject.staff, today())
        if leave_request is not None:
            leave_request = LeaveRequest.objects.select_for_update().get(pk=leave_request.pk)
            if leave_request.status != LeaveRequest.Status.APPROVED:
                raise AttendanceError(
                    "訂正で取り消せるのは承認済みの休暇です。", "Only approved leave is corrected."
                )
            month = month_start(leave_request.start_date)
            kind = Correction.Kind.LEAVE_CANCEL
            before = {"status": leave_request.status, "minutes": leave_request.minutes}
            after = {"status": LeaveRequest.Status.CANCELLED}
        else:
            overtime_order = OvertimeOrder.objects.select_for_update().get(pk=overtime_order.pk)
            if overtime_order.status != OvertimeOrder.Status.CONFIRMED:
                raise AttendanceError(
                    "訂正できるのは実績確認済みの超過勤務です。",
                    "Only confirmed overtime is corrected.",
                )
            if actual_start is None or actual_end is None:
                raise AttendanceError("正しい実績の時刻を入力してください。", "Give the times.")
            actual_start = _minute(actual_start, "actual_start")
            actual_end = _minute(actual_end, "actual_end")
            if actual_end <= actual_start or break_minutes < 0:
                raise AttendanceError("時刻が正しくありません。", "The times are not valid.")
            month = month_start(overtime_order.work_date)
            kind = Correction.Kind.OVERTIME_ACTUAL
            before = _order_values(overtime_order)
            after = {
                "actual_start": actual_start.isoformat(),
                "actual_end": actual_end.isoformat(),
                "break_minutes": break_minutes,
            }
        if not is_closed(month):
            raise AttendanceError(
                "この月は締めていません。訂正でなく通常の取消・報告をしてください。",
                "The month is open: change it directly.",
            )
        if Correction.objects.filter(
            Q(leave_request=leave_request) if leave_request else Q(overtime_order=overtime_order),
            status__in=(Correction.Status.PENDING, Correction.Status.RETURNED),
        ).exists():
            raise AttendanceError(
                "この対象の訂正は申請中です。", "A correction is already pending."
            )
        correction = Correction.objects.create(
            kind=kind,
            staff=subject.staff,
            department=subject.department,
            month=month,
            leave_request=leave_request,
            overtime_order=overtime_order,
            reason=reason.strip()[:500],
            before=before,
            after=after,
            filed_by=actor,
        )
        audit_record(
            actor=actor,
            action="attendance.correction.filed",
            target=correction,
            data={"kind": kind, "before": before, "after": after},
        )
        _submit(correction, actor, True)
    return correction


def correction_apply(*, correction: Correction, actor: Staff) -> None:
    correction = Correction.objects.select_for_update().get(pk=correction.pk)
    if correction.status != Correction.Status.PENDING:
        raise AttendanceError("この訂正は処理済みです。", "This correction was already decided.")
    if correction.kind == Correction.Kind.LEAVE_CANCEL:
        request = LeaveRequest.objects.select_for_update().get(pk=correction.leave_request_id)
        if request.status != LeaveRequest.Status.APPROVED:
            raise AttendanceError("休暇は既に取り消されています。", "Already cancelled.")
        _cancel_leave(request, actor, f"訂正 #{correction.pk}: {correction.reason}")
    else:
        order = OvertimeOrder.objects.select_for_update().get(pk=correction.overtime_order_id)
        order.actual_start = dt.datetime.fromisoformat(correction.after["actual_start"])
        order.actual_end = dt.datetime.fromisoformat(correction.after["actual_end"])
        order.break_minutes = correction.after["break_minutes"]
        order.actual_minutes = cap_minutes(_actual_bands(order, rules_on(order.work_date)))
        order.correction = True
        order.correction_reason = correction.reason
        order.save(
            update_fields=[
                "actual_start",
                "actual_end",
                "break_minutes",
                "actual_minutes",
                "correction",
                "correction_reason",
            ]
        )
        correction.after = {**correction.after, "actual_minutes": order.actual_minutes}
    correction.status = Correction.Status.APPLIED
    correction.applied_at = timezone.now()
    correction.save(update_fields=["status", "applied_at", "after"])
    audit_record(
        actor=actor,
        action="attendance.correction.applied",
        target=correction,
        data={"before": correction.before, "after": correction.after},
    )


def correction_closed(*, correction: Correction, status: str, actor: Staff) -> None:
    correction = Correction.objects.select_for_update().get(pk=correction.pk)
    correction.status = status
    correction.save(update_fields=["status"])
    audit_record(actor=actor, action=f"attendance.correction.{status}", target=correction, data={})


def staff_ids_in(departments: Iterable[Department], day: dt.date) -> list[int]:
    return list(
        assignments_on(day)
        .filter(department__in=list(departments))
        .values_list("staff_id", flat=True)
    )
