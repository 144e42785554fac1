"""Reads for the attendance pages: who may see a request, my leave, and the team month.

One rule decides who sees a leave request, an overtime order or a correction (see
`subject_visible_to`); the pages answer 404 to everybody else. The team month view is
built from a fixed number of bulk queries whatever the size of the team, and the caps
are judged by the same pure function the ordering uses (`overtime.cap_check`).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from django.contrib.contenttypes.models import ContentType
from django.db.models import Case, Count, F, IntegerField, Q, QuerySet, Sum, When
from django.db.models.functions import TruncMonth

from common.dates import fiscal_year, today
from org.models import Assignment, Department, Deputy, Staff
from org.roles import CLERK, HR, has_role
from org.selectors import assignments_on, staff_in_post
from workflow.models import RouteUserObjectPermission

from . import overtime as ot
from .calendar import kinds_between
from .leave import LeaveError, rules_for
from .models import (
    CalendarDay,
    Correction,
    LeaveLedgerEntry,
    LeaveRequest,
    LeaveRules,
    MonthClose,
    OvertimeOrder,
    OvertimeReview,
)
from .requests import (
    COUNTED_MINUTES,
    AttendanceError,
    clerk_covers,
    findings_json,
    is_supervisor_of,
    rules_on,
    supervisor_step,
)

Subject = LeaveRequest | OvertimeOrder | Correction
STANDARD_DAY = 465
PENDING_LEAVE = (LeaveRequest.Status.PENDING,)
PENDING_OVERTIME = (OvertimeOrder.Status.REQUESTED, OvertimeOrder.Status.REPORTED)


# --- months ------------------------------------------------------------------------------


month_start = ot.month_start
month_end = ot.month_end
add_months = ot.add_months


def parse_month(text: str | None, default: dt.date | None = None) -> dt.date:
    """ "2026-05" → 2026-05-01; anything else → the month of `default` (today)."""
    try:
        year, month = (int(part) for part in (text or "").split("-"))
        return dt.date(year, month, 1)
    except (TypeError, ValueError):
        return month_start(default or today())


# --- caps: the department's class --------------------------------------------------------


department_class = ot.department_class


# --- visibility ----------------------------------------------------------------------------


def _filer_id(subject: Subject) -> int | None:
    if isinstance(subject, OvertimeOrder):
        return subject.requested_by_id
    return subject.filed_by_id


def _route_granted(subject: Subject, staff: Staff) -> bool:
    """Everyone a route of the subject went to, and their deputies (guardian grants)."""
    return RouteUserObjectPermission.objects.filter(
        user=staff,
        permission__codename="view_route",
        content_object__subject_type=ContentType.objects.get_for_model(subject),
        content_object__subject_id=subject.pk,
    ).exists()


def deputises_for_supervisor(actor: Staff, staff: Staff, day: dt.date) -> bool:
    """Whether `actor` is a registered 代理者 of today's 所属長 of `staff`."""
    try:
        spec = supervisor_step(staff, day)
    except AttendanceError:
        return False
    holders = staff_in_post(department=spec.department, post=spec.post, on=day)
    return (
        Deputy.objects.filter(principal__in=holders, deputy=actor, start__lte=day)
        .filter(Q(end__isnull=True) | Q(end__gte=day))
        .exists()
    )


def subject_visible_to(*, subject: Subject, staff: Staff) -> bool:
    """The person, whoever filed it, the route's participants (and their deputies), the
    所属長 today and that person's deputies, the 庶務担当 of the person's section, and HR.
    Nobody else: not other managers, not other sections' clerks."""
    if not getattr(staff, "is_authenticated", False):
        return False
    if staff.pk in (subject.staff_id, _filer_id(subject)):
        return True
    if has_role(staff, HR) or _route_granted(subject, staff):
        return True
    day = today()
    person = subject.staff
    return (
        clerk_covers(staff, person, day)
        or is_supervisor_of(staff, person, day)
        or deputises_for_supervisor(staff, person, day)
    )


# --- the departments a manager heads ---------------------------------------------------------


def headed_departments(*, staff: Staff, day: dt.date | None = None) -> list[Department]:
    """The 課 and 部 where `staff` holds the most senior manager post on `day`.

    A 課長 heads the 課 (and with it its 係); a 部長 the 部. A 係長 heads no team here:
    leave and overtime are the 課長's to decide (`requests.supervisor_step`).
    """
    day = day or today()
    mine = list(
        assignments_on(day).filter(
            staff=staff,
            post__is_manager=True,
            department__level__in=(Department.Level.KA, Department.Level.BU),
        )
    )
    if not mine:
        return []
    ranks: dict[int, int] = {}
    for department_id, rank in (
        Assignment.objects.effective_on(day)
        .filter(department__in=[a.department_id for a in mine], post__is_manager=True)
        .values_list("department_id", "post__rank")
    ):
        ranks[department_id] = min(rank, ranks.get(department_id, rank))
    return [a.department for a in mine if a.post.rank <= ranks.get(a.department_id, a.post.rank)]


def team_departments(roots: list[Department]) -> QuerySet[Department]:
    """The roots with everything below them (the tree is 部 → 課 → 係), in one query."""
    ids = [d.pk for d in roots]
    return Department.objects.filter(
        Q(pk__in=ids) | Q(parent__in=ids) | Q(parent__parent__in=ids)
    ).order_by("sort_order", "code")


def manages(*, staff: Staff, person: Staff, day: dt.date | None = None) -> bool:
    """Whether `person` sits in a team `staff` heads (for the team's reports)."""
    day = day or today()
    heads = headed_departments(staff=staff, day=day)
    if not heads:
        return False
    return (
        assignments_on(day)
        .filter(staff=person, is_primary=True, department__in=team_departments(heads))
        .exists()
    )


def team_people(*, heads: list[Department], day: dt.date | None = None) -> list[Staff]:
    """Everyone sitting (primary seat) in the teams of `heads` on a day, with a label."""
    people: dict[int, Staff] = {}
    for a in (
        assignments_on(day or today())
        .filter(is_primary=True, staff__is_active=True, department__in=team_departments(heads))
        .order_by("department__sort_order", "department__code", "post__rank")
    ):
        a.staff.seat_label = f"{a.staff.display_name}（{a.department.name} {a.post.name}）"
        people.setdefault(a.staff_id, a.staff)
    return list(people.values())


def heads_department(*, staff: Staff, department: Department, day: dt.date | None = None) -> bool:
    heads = headed_departments(staff=staff, day=day)
    return bool(heads) and team_departments(heads).filter(pk=department.pk).exists()


def section_of(department: Department) -> int:
    """The 課 a department belongs to: a 係 counts as its 課."""
    if department.level == Department.Level.KAKARI and department.parent_id:
        return department.parent_id
    return department.pk


def fileable_people(*, staff: Staff, day: dt.date | None = None) -> list[Staff]:
    """Whom `staff` may file leave and overtime for, besides themselves: HR anyone; a
    庶務担当 the people of their 課 (and its 係); a 所属長 their 課 and its 係, or for a 部長
    the 部's own staff and the head of each 課 below it. In two queries; the service checks
    again (`requests._may_file_for`)."""
    day = day or today()
    seats = assignments_on(day).filter(is_primary=True, staff__is_active=True)
    bus: list[int] = []
    if has_role(staff, HR):
        chosen = list(seats)
    else:
        sections: set[int] = set()
        if has_role(staff, CLERK) and (mine := staff.assignment_on(day)) is not None:
            sections.add(section_of(mine.department))
        heads = headed_departments(staff=staff, day=day)
        sections |= {d.pk for d in heads if d.level == Department.Level.KA}
        bus = [d.pk for d in heads if d.level == Department.Level.BU]
        if not sections and not bus:
            return []
        wanted = Q(department__in=sections) | Q(department__parent__in=sections)
        wanted |= Q(department__in=bus) | Q(department__parent__in=bus, post__is_manager=True)
        chosen = list(seats.filter(wanted))
    # Below a 部, only the most senior manager of each 課 is the 部長's to decide for.
    senior: dict[int, int] = {}
    for a in chosen:
        if a.department.parent_id in bus and a.post.is_manager:
            senior[a.department_id] = min(a.post.rank, senior.get(a.department_id, a.post.rank))
    people: dict[int, Staff] = {}
    chosen.sort(key=lambda a: (a.department.sort_order, a.department.code, a.post.rank))
    for a in chosen:
        if a.staff_id == staff.pk or a.staff_id in people:
            continue
        if a.department_id in senior and a.post.rank != senior[a.department_id]:
            continue
        a.staff.seat_label = f"{a.staff.display_name}（{a.department.name} {a.post.name}）"
        people[a.staff_id] = a.staff
    return list(people.values())


# --- per day minutes -------------------------------------------------------------------------


def _daily_minutes(staff: Staff, rules: dict[str, LeaveRules]) -> int:
    if staff.work_schedule is not None:
        return staff.work_schedule.daily_minutes
    found = rules.get(staff.employee_class)
    return found.default_daily_minutes if found is not None else STANDARD_DAY


def _leave_rules() -> dict[str, LeaveRules]:
    return {r.employee_class: r for r in LeaveRules.objects.all()}


# --- caps for many people at once -----------------------------------------------------------


@dataclass
class CapRow:
    """One person's overtime against the caps for a month, with the numbers behind it."""

    department_class: ot.DepartmentClass
    month_minutes: int
    year_minutes: int
    monthly_limit: int
    yearly_limit: int
    check: ot.CapCheck
    # 他律部署 only: the worst 2–6 month average containing the month, and the months of
    # the fiscal year over 45 h.
    worst_average: float | None = None
    worst_window: tuple[dt.date, ...] = ()
    average_limit: int = 0
    months_over_45: tuple[dt.date, ...] = ()
    over_45_limit: int = 0
    history: dict[dt.date, int] = field(default_factory=dict)

    @property
    def findings(self) -> list[dict]:
        """What the check found, worded as on the order itself (Japanese, with the numbers)."""
        return findings_json(self.check)

    @property
    def outside_demand(self) -> bool:
        return self.department_class == ot.DepartmentClass.OUTSIDE_DEMAND

    @property
    def level(self) -> str:
        """ "violation", "warning", "doctor" or "ok": the worst thing to say about it."""
        if self.check.violations:
            return "violation"
        if self.check.doctor_interview:
            return "doctor"
        if self.check.warnings:
            return "warning"
        return "ok"


def cap_rows(
    *, people: dict[int, Department], month: dt.date, rules: ot.OvertimeRules | None = None
) -> dict[int, CapRow]:
    """Caps for every person (staff id → their department) in one query: the minutes per
    month from 11 months before to 12 after, judged as `requests.cap_status` judges them."""
    month = month_start(month)
    rules = rules or rules_on(month)
    first = add_months(month, -11)
    last = add_months(month, 12) - dt.timedelta(days=1)
    history: dict[int, dict[dt.date, int]] = defaultdict(dict)
    if people:
        for row in (
            OvertimeOrder.objects.filter(
                staff_id__in=list(people),
                status__in=OvertimeOrder.COUNTED,
                work_date__gte=first,
                work_date__lte=last,
            )
            .annotate(month=TruncMonth("work_date"))
            .values("staff_id", "month")
            .annotate(m=Sum(COUNTED_MINUTES))
        ):
            history[row["staff_id"]][row["month"]] = row["m"] or 0
    fy_months = ot.fiscal_year_months(month, rules)
    result: dict[int, CapRow] = {}
    for staff_id, department in people.items():
        klass = department_class(department.overtime_class)
        minutes = history.get(staff_id, {})
        totals = {**minutes, month: minutes.get(month, 0)}
        outside = klass == ot.DepartmentClass.OUTSIDE_DEMAND
        row = CapRow(
            department_class=klass,
            month_minutes=totals[month],
            year_minutes=sum(totals.get(m, 0) for m in fy_months),
            monthly_limit=rules.outside_monthly_limit_minutes
            if outside
            else rules.normal_monthly_cap_minutes,
            yearly_limit=rules.outside_yearly_cap_minutes
            if outside
            else rules.normal_yearly_cap_minutes,
            check=ot.cap_check(minutes, 0, month, klass, rules),
            history=totals,
        )
        if outside:
            averages = ot.worst_averages(totals, month, rules)
            if averages:
                row.worst_average, row.worst_window = max(averages, key=lambda pair: pair[0])
            row.average_limit = rules.outside_average_cap_minutes
            row.months_over_45 = tuple(
                m for m in fy_months if totals.get(m, 0) > rules.outside_over_45_threshold_minutes
            )
            row.over_45_limit = rules.outside_over_45_max_months
        result[staff_id] = row
    return result


# --- my leave --------------------------------------------------------------------------------


@dataclass
class LeaveBalance:
    leave_year: int
    per_day: int
    balance: int
    pending: int
    by_kind: dict[str, int]
    hourly_used: int
    hourly_cap: int | None

    @property
    def available(self) -> int:
        return self.balance - self.pending


@dataclass
class MyAttendance:
    staff: Staff
    leave_year: int
    balance: LeaveBalance | None
    rules_error: str
    entries: list[LeaveLedgerEntry]
    requests: list[LeaveRequest]
    orders: list[OvertimeOrder]
    cap: CapRow | None
    month: dt.date
    fiscal_year: int


def leave_balance(*, staff: Staff, leave_year: int) -> LeaveBalance:
    """The balance from the ledger (never a stored counter), what is asked for and not yet
    charged, and hourly use against the class's cap: two queries after the rules."""
    rules = rules_for(staff)
    per_day = _daily_minutes(staff, {rules.employee_class: rules})
    by_kind: dict[str, int] = defaultdict(int)
    hourly = 0
    for row in (
        LeaveLedgerEntry.objects.filter(staff=staff, leave_year=leave_year)
        .values("kind", "unit")
        .annotate(m=Sum("minutes"))
    ):
        by_kind[row["kind"]] += row["m"] or 0
        if row["kind"] in (LeaveLedgerEntry.Kind.USE, LeaveLedgerEntry.Kind.CANCEL) and (
            row["unit"] in LeaveLedgerEntry.HOURLY_UNITS
        ):
            hourly -= row["m"] or 0
    pending = (
        LeaveRequest.objects.filter(
            staff=staff,
            leave_year=leave_year,
            leave_type__from_ledger=True,
            status__in=(LeaveRequest.Status.PENDING, LeaveRequest.Status.RETURNED),
        ).aggregate(m=Sum("minutes"))["m"]
        or 0
    )
    return LeaveBalance(
        leave_year=leave_year,
        per_day=per_day,
        balance=sum(by_kind.values()),
        pending=pending,
        by_kind=dict(by_kind),
        hourly_used=hourly,
        hourly_cap=rules.hourly_cap_days * per_day if rules.hourly_cap_days is not None else None,
    )


def leave_year_for(staff: Staff, day: dt.date) -> int | None:
    try:
        rules = rules_for(staff)
    except LeaveError:  # no rules for the class: the page says so
        return None
    if rules.year_basis == LeaveRules.YearBasis.FISCAL:
        return fiscal_year(day)
    return day.year


def my_attendance(*, staff: Staff, leave_year: int | None = None) -> MyAttendance:
    """My page: the leave balance with pending shown, my requests of the leave year, my
    overtime of the fiscal year, and this month against the caps."""
    day = today()
    month = month_start(day)
    current = leave_year_for(staff, day)
    year = leave_year or current or day.year
    balance, error = None, ""
    try:
        balance = leave_balance(staff=staff, leave_year=year)
    except LeaveError as err:
        error = str(err)
    fy = fiscal_year(day)
    requests = list(
        LeaveRequest.objects.filter(staff=staff, leave_year=year)
        .select_related("leave_type", "filed_by")
        .order_by("-start_date", "-pk")
    )
    orders = list(
        OvertimeOrder.objects.filter(
            staff=staff, work_date__gte=dt.date(fy, 4, 1), work_date__lte=dt.date(fy + 1, 3, 31)
        )
        .select_related("requested_by")
        .order_by("-work_date", "-pk")
    )
    entries = list(
        LeaveLedgerEntry.objects.filter(staff=staff, leave_year=year).order_by("created_at", "pk")
    )
    assignment = staff.assignment_on(day)
    cap = None
    if assignment is not None:
        cap = cap_rows(people={staff.pk: assignment.department}, month=month).get(staff.pk)
    return MyAttendance(
        staff=staff,
        leave_year=year,
        balance=balance,
        rules_error=error,
        entries=entries,
        requests=requests,
        orders=orders,
        cap=cap,
        month=month,
        fiscal_year=fy,
    )


# --- the team month view ----------------------------------------------------------------------


@dataclass
class TeamMember:
    staff: Staff
    department: Department
    post_name: str
    per_day: int
    annual_minutes: int = 0
    other_minutes: int = 0
    leave_days: int = 0
    ordered_minutes: int = 0
    confirmed_minutes: int = 0
    cap: CapRow | None = None


@dataclass
class TeamMonth:
    month: dt.date
    departments: list[Department]
    members: list[TeamMember]
    pending_leave: list[LeaveRequest]
    pending_overtime: list[OvertimeOrder]
    closed: bool
    rules: ot.OvertimeRules

    @property
    def pending_count(self) -> int:
        return len(self.pending_leave) + len(self.pending_overtime)

    @property
    def totals(self) -> dict[str, int]:
        return {
            "ordered": sum(m.ordered_minutes for m in self.members),
            "confirmed": sum(m.confirmed_minutes for m in self.members),
            "over": sum(1 for m in self.members if m.cap and m.cap.level == "violation"),
        }


def _days_in_month(
    request: LeaveRequest, first: dt.date, last: dt.date, kinds: dict[dt.date, str]
) -> int:
    start, end = max(request.start_date, first), min(request.end_date, last)
    if end < start:
        return 0
    if request.leave_type.counts_calendar_days:
        return (end - start).days + 1
    return sum(
        1
        for i in range((end - start).days + 1)
        if kinds.get(start + dt.timedelta(days=i)) == CalendarDay.Kind.WORKDAY
    )


def team_month(
    *, departments: list[Department], month: dt.date, exclude: Staff | None = None
) -> TeamMonth:
    """Per person of the departments (and everything below them) for a month: leave taken,
    overtime ordered and confirmed, and the caps with their numbers; and the team's requests
    waiting for a decision. A fixed number of queries, whatever the team's size."""
    first = month_start(month)
    last = month_end(first)
    scope = list(team_departments(departments))
    assignments = (
        Assignment.objects.filter(
            Q(end__isnull=True) | Q(end__gte=first),
            start__lte=last,
            is_primary=True,
            department__in=[d.pk for d in scope],
            staff__is_active=True,
        )
        .select_related("staff", "staff__work_schedule", "department", "post")
        .order_by("department__sort_order", "department__code", "post__rank", "start")
    )
    if exclude is not None:
        assignments = assignments.exclude(staff=exclude)
    rules_by_class = _leave_rules()
    members: dict[int, TeamMember] = {}
    for a in assignments:
        # Moved within the team during the month: the later seat is the one shown.
        members[a.staff_id] = TeamMember(
            staff=a.staff,
            department=a.department,
            post_name=a.post.name,
            per_day=_daily_minutes(a.staff, rules_by_class),
        )
    ids = list(members)
    rules = rules_on(first)
    if ids:
        kinds = kinds_between(first, last)
        for request in LeaveRequest.objects.filter(
            staff_id__in=ids,
            status=LeaveRequest.Status.APPROVED,
            start_date__lte=last,
            end_date__gte=first,
        ).select_related("leave_type"):
            member = members[request.staff_id]
            if request.unit == LeaveLedgerEntry.Unit.DAY:
                days = _days_in_month(request, first, last, kinds)
                per_day = request.minutes // request.days if request.days else member.per_day
                minutes = days * per_day
                member.leave_days += days
            else:
                minutes = request.minutes
            if request.leave_type.from_ledger:
                member.annual_minutes += minutes
            else:
                member.other_minutes += minutes
        for row in (
            OvertimeOrder.objects.filter(
                staff_id__in=ids,
                status__in=OvertimeOrder.COUNTED,
                work_date__range=(first, last),
            )
            .values("staff_id")
            .annotate(
                ordered=Sum("planned_minutes"),
                confirmed=Sum(
                    Case(
                        When(status=OvertimeOrder.Status.CONFIRMED, then=F("actual_minutes")),
                        default=0,
                        output_field=IntegerField(),
                    )
                ),
            )
        ):
            member = members[row["staff_id"]]
            member.ordered_minutes = row["ordered"] or 0
            member.confirmed_minutes = row["confirmed"] or 0
        caps = cap_rows(
            people={pk: m.department for pk, m in members.items()}, month=first, rules=rules
        )
        for pk, member in members.items():
            member.cap = caps.get(pk)
    pending_leave = list(
        LeaveRequest.objects.filter(staff_id__in=ids, status__in=PENDING_LEAVE)
        .select_related("staff", "leave_type")
        .order_by("start_date", "pk")
    )
    pending_overtime = list(
        OvertimeOrder.objects.filter(staff_id__in=ids, status__in=PENDING_OVERTIME)
        .select_related("staff")
        .order_by("work_date", "pk")
    )
    return TeamMonth(
        month=first,
        departments=scope,
        members=list(members.values()),
        pending_leave=pending_leave,
        pending_overtime=pending_overtime,
        closed=MonthClose.objects.filter(month=first).exists(),
        rules=rules,
    )


# --- HR lists ----------------------------------------------------------------------------------


@dataclass
class MonthRow:
    month: dt.date
    close: MonthClose | None
    open_leave: int
    open_overtime: int

    @property
    def closable(self) -> bool:
        return self.close is None and month_end(self.month) < today()


def months_for_close(*, count: int = 13) -> list[MonthRow]:
    """The last `count` months (this one first), closed or not, with what is undecided."""
    this = month_start(today())
    months = [add_months(this, -i) for i in range(count)]
    first, last = months[-1], month_end(this)
    closes = {
        c.month: c
        for c in MonthClose.objects.filter(month__range=(first, this)).select_related("closed_by")
    }
    open_leave: dict[dt.date, int] = defaultdict(int)
    for request in LeaveRequest.objects.filter(
        status__in=(LeaveRequest.Status.PENDING, LeaveRequest.Status.RETURNED),
        start_date__lte=last,
        end_date__gte=first,
    ).only("start_date", "end_date"):
        cursor = max(month_start(request.start_date), first)
        while cursor <= min(request.end_date, last):
            open_leave[cursor] += 1
            cursor = add_months(cursor, 1)
    open_overtime = {
        row["month"]: row["n"]
        for row in OvertimeOrder.objects.filter(
            status__in=(
                OvertimeOrder.Status.REQUESTED,
                OvertimeOrder.Status.RETURNED,
                OvertimeOrder.Status.ORDERED,
                OvertimeOrder.Status.REPORTED,
            ),
            work_date__range=(first, last),
        )
        .annotate(month=TruncMonth("work_date"))
        .values("month")
        .annotate(n=Count("pk"))
    }
    return [
        MonthRow(m, closes.get(m), open_leave.get(m, 0), open_overtime.get(m, 0)) for m in months
    ]


def overtime_reviews() -> QuerySet[OvertimeReview]:
    return OvertimeReview.objects.select_related(
        "order", "order__staff", "order__department", "completed_by"
    ).order_by("status", "due_on", "pk")


def corrections_list(*, status: str = "") -> QuerySet[Correction]:
    corrections = Correction.objects.select_related("staff", "department", "filed_by").order_by(
        "-created_at", "-pk"
    )
    if status:
        corrections = corrections.filter(status=status)
    return corrections
