"""The attendance pages: my leave and overtime, filing, the detail pages with their route
and actions, the team month for a 所属長, HR's month close, reviews and corrections, and
the report downloads.

Each view parses its input, checks `subject_visible_to` (else 404) or the role a page
needs (else 403), calls one service or selector, and maps a `WorkflowError` to a message
(Japanese, then English) before redirecting. Approving goes through the workflow engine,
from the inbox or from the detail page.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.contrib import messages
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied
from django.db.models import Model
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from common.dates import fiscal_year, today
from org.models import Department, Staff
from org.roles import HR, has_role
from workflow.errors import WorkflowError
from workflow.models import Action, Route, Stage, Step
from workflow.selectors import routes_of
from workflow.services import (
    acting_mode,
    may_withdraw,
    route_withdraw,
    step_reject,
    step_return,
)
from workflow.views import action_label, client_request_id, new_request_id

from . import requests as svc
from .forms import (
    ActualCorrectionForm,
    ActualForm,
    ApproveForm,
    CancelForm,
    CorrectionReasonForm,
    LeaveRequestForm,
    MonthCloseForm,
    OvertimeForm,
    ReasonForm,
    ReviewForm,
)
from .leave import LeaveError, daily_minutes
from .models import Correction, LeaveRequest, OvertimeOrder, OvertimeReview
from .overtime import TOKYO
from .selectors import (
    add_months,
    corrections_list,
    fileable_people,
    headed_departments,
    heads_department,
    leave_balance,
    leave_year_for,
    manages,
    month_start,
    months_for_close,
    my_attendance,
    overtime_reviews,
    parse_month,
    section_of,
    subject_visible_to,
    team_departments,
    team_month,
    team_people,
)

SUBJECTS: dict[str, type[Model]] = {
    "leave": LeaveRequest,
    "overtime": OvertimeOrder,
    "correction": Correction,
}
DETAIL = {LeaveRequest: "attendance:leave", OvertimeOrder: "attendance:overtime"}
DETAIL[Correction] = "attendance:correction"


# --- helpers ---------------------------------------------------------------------------


# The services' refusals: the engine's and attendance's (`WorkflowError`), and the leave
# ledger's (`LeaveError`, e.g. a class without rules), which speaks Japanese only.
REFUSALS = (WorkflowError, LeaveError)


def _refusal(err: Exception) -> str:
    return err.message if isinstance(err, WorkflowError) else str(err)


def _run(request: HttpRequest, success: str, call: Callable[[], Any]) -> bool:
    """Call one service; a refusal becomes an error message, never a 500."""
    try:
        call()
    except REFUSALS as err:
        messages.error(request, _refusal(err))
        return False
    if success:
        messages.success(request, success)
    return True


def _form_error_message(form: Any) -> str:
    parts = []
    for name, errors in form.errors.items():
        label = form.fields[name].label if name in form.fields else ""
        text = " ".join(str(e) for e in errors)
        parts.append(f"{label}: {text}" if label else text)
    return " ".join(parts)


def _visible(request: HttpRequest, model: type[Model], pk: int, *related: str) -> Any:
    subject = get_object_or_404(model.objects.select_related("staff", *related), pk=pk)
    if not subject_visible_to(subject=subject, staff=request.user):
        raise Http404
    return subject


def _to_detail(subject: Model) -> HttpResponseRedirect:
    return redirect(subject.get_absolute_url())


def _replayed(request: HttpRequest, model: type[Model]) -> Model | None:
    """A double tap on a filing form: the first tap's subject, found by its request id."""
    request_id = client_request_id(request)
    if not request_id:
        return None
    earlier = (
        Action.objects.filter(
            actor=request.user, client_request_id=request_id, kind=Action.Kind.SUBMIT
        )
        .select_related("route")
        .first()
    )
    if earlier is None or earlier.route.subject_type != ContentType.objects.get_for_model(model):
        return None
    return model.objects.filter(pk=earlier.route.subject_id).first()


def _may_file_for(viewer: Staff, person: Staff) -> bool:
    """The person, their 庶務担当 (or HR), or their 所属長: as `requests._may_file_for`."""
    day = today()
    return (
        viewer.pk == person.pk
        or svc.clerk_covers(viewer, person, day)
        or svc.is_supervisor_of(viewer, person, day)
    )


def _is_hr(request: HttpRequest) -> None:
    if not has_role(request.user, HR):
        raise PermissionDenied(_("人事課の職員だけが使えるページです。"))


# --- route and actions on the detail pages ------------------------------------------------


@dataclass
class ActableStep:
    step: Step
    verb: str
    deputy: bool
    approve_form: ApproveForm
    return_form: ReasonForm
    reject_form: ReasonForm


@dataclass
class RouteContext:
    routes: list[Route]
    current: Route | None
    actable: list[ActableStep] = field(default_factory=list)
    can_withdraw: bool = False


def _route_context(subject: Model, viewer: Staff) -> RouteContext:
    routes = list(routes_of(subject).prefetch_related("stages__steps__post_reviews"))
    current = routes[0] if routes else None
    context = RouteContext(routes=routes, current=current)
    if current is None:
        return context
    context.can_withdraw = may_withdraw(current, viewer, subject) and current.status in (
        Route.Status.ACTIVE,
        Route.Status.RETURNED,
    )
    if not current.is_open:
        return context
    for stage in current.stages.all():
        for step in stage.steps.all():
            if step.status != Step.Status.PENDING:
                continue
            step.route, step.stage = current, stage
            mode = acting_mode(step=step, actor=viewer)
            if mode is None:
                continue
            auto = f"id_s{step.pk}_%s"
            context.actable.append(
                ActableStep(
                    step=step,
                    verb=action_label(stage.kind),
                    deputy=mode == Step.Mode.DEPUTY,
                    approve_form=ApproveForm(auto_id=auto + "_approve"),
                    return_form=ReasonForm(auto_id=auto + "_return"),
                    reject_form=ReasonForm(auto_id=auto + "_reject"),
                )
            )
    return context


def _subject_step(kind: str, pk: int, step_pk: int, request: HttpRequest) -> tuple[Model, Step]:
    model = SUBJECTS.get(kind)
    if model is None:
        raise Http404
    subject = _visible(request, model, pk)
    step = get_object_or_404(
        Step.objects.select_related("route", "stage"),
        pk=step_pk,
        route__subject_type=ContentType.objects.get_for_model(model),
        route__subject_id=subject.pk,
    )
    return subject, step


@require_POST
def step_act(request: HttpRequest, kind: str, pk: int, step_pk: int, verb: str) -> HttpResponse:
    """差戻し or 却下 from a detail page (承認 goes to the inbox's view with `next`)."""
    subject, step = _subject_step(kind, pk, step_pk, request)
    if step.stage.kind == Stage.Kind.INFORMATION or verb not in ("return", "reject"):
        raise Http404
    form = ReasonForm(request.POST)
    if not form.is_valid():
        messages.error(request, _form_error_message(form))
        return _to_detail(subject)
    comment = form.cleaned_data["comment"]
    if verb == "return":
        _run(
            request,
            _("差し戻しました。"),
            lambda: step_return(
                step=step,
                actor=request.user,
                comment=comment,
                client_request_id=client_request_id(request),
            ),
        )
    else:
        _run(
            request,
            _("却下しました。"),
            lambda: step_reject(
                step=step,
                actor=request.user,
                comment=comment,
                client_request_id=client_request_id(request),
            ),
        )
    return _to_detail(subject)


def _withdraw(request: HttpRequest, subject: Model) -> HttpResponse:
    route = routes_of(subject).first()
    if route is None:
        messages.error(request, _("この申請には経路がありません。"))
        return _to_detail(subject)
    _run(
        request,
        _("取り下げました。"),
        lambda: route_withdraw(
            route=route,
            actor=request.user,
            comment=request.POST.get("comment", "").strip()[:2000],
            client_request_id=client_request_id(request),
        ),
    )
    return _to_detail(subject)


# --- my page ---------------------------------------------------------------------------


def _year_param(request: HttpRequest) -> int | None:
    value = request.GET.get("year", "")
    return int(value) if value.isdigit() and 2000 <= int(value) <= 2100 else None


@require_GET
def mine(request: HttpRequest) -> HttpResponse:
    """自分の勤怠: the annual-leave balance from the ledger (with what is pending), my leave
    requests of the leave year, my overtime of the fiscal year and this month's caps."""
    me = my_attendance(staff=request.user, leave_year=_year_param(request))
    heads = headed_departments(staff=request.user)
    context = {
        "me": me,
        "per_day": me.balance.per_day if me.balance else _per_day(request.user),
        "heads": heads,
        "is_hr": has_role(request.user, HR),
        "prev_year": me.leave_year - 1,
        "next_year": me.leave_year + 1,
    }
    return render(request, "attendance/mine.html", context)


@require_GET
def summary(request: HttpRequest) -> HttpResponse:
    """The home page's card (loaded with htmx so the home page itself stays cheap)."""
    year = leave_year_for(request.user, today())
    balance = None
    if year is not None:
        try:
            balance = leave_balance(staff=request.user, leave_year=year)
        except LeaveError:
            balance = None
    pending = LeaveRequest.objects.filter(
        staff=request.user, status=LeaveRequest.Status.PENDING
    ).count()
    return render(
        request,
        "attendance/_summary.html",
        {"balance": balance, "pending": pending, "heads": headed_departments(staff=request.user)},
    )


# --- leave -----------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def leave_new(request: HttpRequest) -> HttpResponse:
    people = fileable_people(staff=request.user)
    form = LeaveRequestForm(
        request.POST if request.method == "POST" else None,
        people=people,
        me=request.user,
        initial={"start_date": request.GET.get("date") or None},
    )
    if request.method == "POST":
        if (earlier := _replayed(request, LeaveRequest)) is not None:
            return _to_detail(earlier)
        if form.is_valid():
            try:
                leave = svc.leave_request_file(
                    filed_by=request.user,
                    client_request_id=client_request_id(request),
                    **form.service_kwargs(),
                )
            except REFUSALS as err:
                messages.error(request, _refusal(err))
            else:
                messages.success(request, _("休暇を申請しました。所属長の承認を待っています。"))
                return _to_detail(leave)
        else:
            messages.error(request, _form_error_message(form))
    types = list(form.fields["leave_type"].queryset)
    return render(
        request,
        "attendance/leave_form.html",
        {"form": form, "types": types, "request_id": new_request_id()},
    )


@require_GET
def leave_detail(request: HttpRequest, pk: int) -> HttpResponse:
    leave = _visible(
        request, LeaveRequest, pk, "leave_type", "filed_by", "department", "decided_by"
    )
    viewer = request.user
    closed = bool(svc.closed_months(leave.start_date, leave.end_date))
    may_file = _may_file_for(viewer, leave.staff)
    status = LeaveRequest.Status
    pending_correction = leave.corrections.filter(
        status__in=(Correction.Status.PENDING, Correction.Status.RETURNED)
    ).first()
    per_day = leave.minutes // leave.days if leave.days else None
    context = {
        "leave": leave,
        "flow": _route_context(leave, viewer),
        "closed": closed,
        "per_day": per_day or _per_day(leave.staff),
        "can_cancel": may_file and leave.status == status.APPROVED and not closed,
        "can_resubmit": may_file and leave.status == status.RETURNED,
        "can_correct": may_file
        and leave.status == status.APPROVED
        and closed
        and pending_correction is None,
        "pending_correction": pending_correction,
        "corrections": list(leave.corrections.order_by("-created_at")),
        "cancel_form": CancelForm(auto_id="id_cancel_%s"),
        "correction_form": CorrectionReasonForm(auto_id="id_correction_%s"),
        "request_id": new_request_id(),
        "here": leave.get_absolute_url(),
    }
    return render(request, "attendance/leave_detail.html", context)


def _per_day(staff: Staff) -> int:
    try:
        return daily_minutes(staff)
    except LeaveError:
        return 465


@require_POST
def leave_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    leave = _visible(request, LeaveRequest, pk)
    form = CancelForm(request.POST)
    if not form.is_valid():
        messages.error(request, _form_error_message(form))
        return _to_detail(leave)
    _run(
        request,
        _("休暇を取り消しました。年次休暇は残日数に戻ります。"),
        lambda: svc.leave_request_cancel(
            request=leave, actor=request.user, reason=form.cleaned_data["reason"]
        ),
    )
    return _to_detail(leave)


@require_POST
def leave_withdraw(request: HttpRequest, pk: int) -> HttpResponse:
    return _withdraw(request, _visible(request, LeaveRequest, pk))


@require_POST
def leave_resubmit(request: HttpRequest, pk: int) -> HttpResponse:
    leave = _visible(request, LeaveRequest, pk)
    _run(
        request,
        _("再提出しました。"),
        lambda: svc.leave_request_resubmit(request=leave, actor=request.user),
    )
    return _to_detail(leave)


@require_POST
def leave_correction(request: HttpRequest, pk: int) -> HttpResponse:
    leave = _visible(request, LeaveRequest, pk)
    form = CorrectionReasonForm(request.POST)
    if not form.is_valid():
        messages.error(request, _form_error_message(form))
        return _to_detail(leave)
    created: list[Correction] = []
    if _run(
        request,
        _("訂正を申請しました。所属長と人事課が確認します。"),
        lambda: created.append(
            svc.correction_file(
                actor=request.user, reason=form.cleaned_data["reason"], leave_request=leave
            )
        ),
    ):
        return _to_detail(created[0])
    return _to_detail(leave)


# --- overtime --------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def overtime_new(request: HttpRequest) -> HttpResponse:
    """超過勤務の申請, or the 所属長's order for a team member (decided at once)."""
    people = fileable_people(staff=request.user)
    form = OvertimeForm(
        request.POST if request.method == "POST" else None,
        people=people,
        me=request.user,
        initial={"work_date": today()},
    )
    if request.method == "POST":
        if (earlier := _replayed(request, OvertimeOrder)) is not None:
            return _to_detail(earlier)
        if form.is_valid():
            try:
                order = svc.overtime_request(
                    actor=request.user,
                    client_request_id=client_request_id(request),
                    **form.service_kwargs(),
                )
            except REFUSALS as err:
                messages.error(request, _refusal(err))
            else:
                if order.status == OvertimeOrder.Status.ORDERED:
                    messages.success(request, _("超過勤務を命令しました。"))
                else:
                    messages.success(
                        request, _("超過勤務を申請しました。所属長の命令を待っています。")
                    )
                return _to_detail(order)
        else:
            messages.error(request, _form_error_message(form))
    return render(
        request, "attendance/overtime_form.html", {"form": form, "request_id": new_request_id()}
    )


def _local(value: dt.datetime | None) -> dt.datetime | None:
    return value.astimezone(TOKYO) if value is not None else None


@require_GET
def overtime_detail(request: HttpRequest, pk: int) -> HttpResponse:
    order = _visible(
        request,
        OvertimeOrder,
        pk,
        "requested_by",
        "department",
        "ordered_by",
        "confirmed_by",
    )
    viewer = request.user
    closed = svc.is_closed(order.work_date)
    may_file = _may_file_for(viewer, order.staff)
    status = OvertimeOrder.Status
    review = OvertimeReview.objects.filter(order=order).first()
    pending_correction = order.corrections.filter(
        status__in=(Correction.Status.PENDING, Correction.Status.RETURNED)
    ).first()
    start, end = _local(order.planned_start), _local(order.planned_end)
    actual_initial = {
        "actual_date": start.date(),
        "actual_start": (_local(order.actual_start) or start).time(),
        "actual_end": (_local(order.actual_end) or end).time(),
        "break_minutes": order.break_minutes,
    }
    context = {
        "order": order,
        "flow": _route_context(order, viewer),
        "closed": closed,
        "planned_start": start,
        "planned_end": end,
        "actual_start": _local(order.actual_start),
        "actual_end": _local(order.actual_end),
        "review": review,
        "is_hr": has_role(viewer, HR),
        "can_report": may_file and order.status == status.ORDERED and not closed,
        "can_resubmit": may_file and order.status == status.RETURNED,
        "can_correct": may_file
        and order.status == status.CONFIRMED
        and closed
        and pending_correction is None,
        "pending_correction": pending_correction,
        "corrections": list(order.corrections.order_by("-created_at")),
        "actual_form": ActualForm(auto_id="id_actual_%s", initial=actual_initial),
        "correction_form": ActualCorrectionForm(auto_id="id_fix_%s", initial=actual_initial),
        "request_id": new_request_id(),
        "here": order.get_absolute_url(),
    }
    return render(request, "attendance/overtime_detail.html", context)


@require_POST
def overtime_report(request: HttpRequest, pk: int) -> HttpResponse:
    order = _visible(request, OvertimeOrder, pk)
    form = ActualForm(request.POST)
    if not form.is_valid():
        messages.error(request, _form_error_message(form))
        return _to_detail(order)
    start, end = form.span()
    _run(
        request,
        _("実績を報告しました。所属長の確認を待っています。"),
        lambda: svc.overtime_report(
            order=order,
            actor=request.user,
            actual_start=start,
            actual_end=end,
            break_minutes=form.cleaned_data["break_minutes"],
        ),
    )
    return _to_detail(order)


@require_POST
def overtime_withdraw(request: HttpRequest, pk: int) -> HttpResponse:
    return _withdraw(request, _visible(request, OvertimeOrder, pk))


@require_POST
def overtime_resubmit(request: HttpRequest, pk: int) -> HttpResponse:
    order = _visible(request, OvertimeOrder, pk)
    _run(
        request,
        _("再提出しました。"),
        lambda: svc.overtime_resubmit(order=order, actor=request.user),
    )
    return _to_detail(order)


@require_POST
def overtime_correction(request: HttpRequest, pk: int) -> HttpResponse:
    order = _visible(request, OvertimeOrder, pk)
    form = ActualCorrectionForm(request.POST)
    if not form.is_valid():
        messages.error(request, _form_error_message(form))
        return _to_detail(order)
    start, end = form.span()
    created: list[Correction] = []
    if _run(
        request,
        _("訂正を申請しました。所属長と人事課が確認します。"),
        lambda: created.append(
            svc.correction_file(
                actor=request.user,
                reason=form.cleaned_data["reason"],
                overtime_order=order,
                actual_start=start,
                actual_end=end,
                break_minutes=form.cleaned_data["break_minutes"],
            )
        ),
    ):
        return _to_detail(created[0])
    return _to_detail(order)


# --- corrections -----------------------------------------------------------------------


@require_GET
def correction_detail(request: HttpRequest, pk: int) -> HttpResponse:
    correction = _visible(
        request, Correction, pk, "department", "filed_by", "leave_request", "overtime_order"
    )
    labels = {
        "status": _("状態"),
        "minutes": _("時間（分）"),
        "actual_start": _("実績開始"),
        "actual_end": _("実績終了"),
        "break_minutes": _("休憩（分）"),
        "actual_minutes": _("実績の時間外（分）"),
    }
    before, after = correction.before, correction.after
    keys = list(dict.fromkeys([*before, *after]))
    statuses = dict(LeaveRequest.Status.choices)

    def shown(key: str, value: Any) -> Any:
        return statuses.get(value, value) if key == "status" else value

    context = {
        "correction": correction,
        "changes": [
            (labels.get(k, k), shown(k, before.get(k)), shown(k, after.get(k))) for k in keys
        ],
        "flow": _route_context(correction, request.user),
        "request_id": new_request_id(),
        "here": correction.get_absolute_url(),
    }
    return render(request, "attendance/correction_detail.html", context)


@require_POST
def correction_withdraw(request: HttpRequest, pk: int) -> HttpResponse:
    return _withdraw(request, _visible(request, Correction, pk))


# --- the team month ----------------------------------------------------------------------


@require_GET
def team(request: HttpRequest) -> HttpResponse:
    """The 所属長's month: per person leave taken, overtime ordered and confirmed, and the
    caps with their numbers; HR may look at any 課 or 部."""
    viewer = request.user
    is_hr = has_role(viewer, HR)
    heads = headed_departments(staff=viewer)
    if not heads and not is_hr:
        raise PermissionDenied(_("所属長（課長・部長）と人事課の職員だけが使えるページです。"))
    month = parse_month(request.GET.get("month"))
    choices: list[Department] = []
    roots = heads
    if is_hr:
        choices = list(
            Department.objects.filter(
                is_active=True, level__in=(Department.Level.BU, Department.Level.KA)
            ).order_by("sort_order", "code")
        )
        wanted = request.GET.get("department", "")
        chosen = next((d for d in choices if str(d.pk) == wanted), None)
        if chosen is not None:
            roots = [chosen]
        elif not roots and (mine := viewer.assignment_on()) is not None:
            roots = [d for d in choices if d.pk == section_of(mine.department)]
    data = team_month(departments=roots, month=month, exclude=viewer)
    this = month_start(today())
    context = {
        "team": data,
        "month": month,
        "prev": add_months(month, -1),
        "next": add_months(month, 1),
        "months": [add_months(this, i) for i in range(1, -13, -1)],
        "this_month": this,
        "choices": choices,
        "roots": roots,
        "selected": roots[0].pk if is_hr and roots else None,
        "rules": data.rules,
        "fiscal_year": fiscal_year(month),
    }
    return render(request, "attendance/team.html", context)


# --- HR: month close, reviews, corrections ---------------------------------------------------


@require_http_methods(["GET", "POST"])
def month_close_list(request: HttpRequest) -> HttpResponse:
    _is_hr(request)
    if request.method == "POST":
        form = MonthCloseForm(request.POST)
        if not form.is_valid():
            messages.error(request, _form_error_message(form))
        else:
            month = form.cleaned_data["month"]
            _run(
                request,
                _("%(month)s を締めました。") % {"month": f"{month:%Y-%m}"},
                lambda: svc.month_close(month=month, actor=request.user),
            )
        return redirect("attendance:month_close")
    return render(
        request,
        "attendance/month_close.html",
        {"months": months_for_close(), "request_id": new_request_id()},
    )


@require_GET
def review_list(request: HttpRequest) -> HttpResponse:
    _is_hr(request)
    reviews = overtime_reviews()
    return render(
        request,
        "attendance/review_list.html",
        {
            "open": list(reviews.filter(status=OvertimeReview.Status.OPEN)[:200]),
            "done": list(
                reviews.filter(status=OvertimeReview.Status.DONE).order_by("-completed_at")[:50]
            ),
            "today": today(),
        },
    )


@require_http_methods(["GET", "POST"])
def review_detail(request: HttpRequest, pk: int) -> HttpResponse:
    _is_hr(request)
    review = get_object_or_404(overtime_reviews(), pk=pk)
    form = ReviewForm(request.POST if request.method == "POST" else None)
    if request.method == "POST":
        if form.is_valid():
            if _run(
                request,
                _("検証を完了しました。"),
                lambda: svc.overtime_review_complete(
                    review=review, actor=request.user, **form.cleaned_data
                ),
            ):
                return redirect("attendance:reviews")
        else:
            messages.error(request, _form_error_message(form))
    return render(request, "attendance/review_detail.html", {"review": review, "form": form})


@require_GET
def correction_list(request: HttpRequest) -> HttpResponse:
    _is_hr(request)
    status = request.GET.get("status", "")
    if status not in Correction.Status.values:
        status = ""
    return render(
        request,
        "attendance/correction_list.html",
        {
            "corrections": list(corrections_list(status=status)[:200]),
            "status": status,
            "statuses": Correction.Status.choices,
        },
    )


# --- reports -----------------------------------------------------------------------------

# kind → the report function (attendance.reports), whom it is about, and its period
REPORTS: dict[str, dict[str, Any]] = {
    "overtime-book": {"function": "overtime_book", "scope": "staff", "period": "month"},
    "leave-book": {"function": "leave_book", "scope": "staff", "period": "year"},
    "roll": {"function": "attendance_roll", "scope": "department", "period": "month"},
    "overtime-summary": {"function": "overtime_summary", "scope": "city", "period": "year"},
    "annual-leave": {"function": "annual_leave_status", "scope": "city", "period": "year"},
}
CONTENT_TYPES = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
}


def _int(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


@require_GET
def reports(request: HttpRequest) -> HttpResponse:
    """The downloads a person may take: their own books; a 所属長 their team's; HR all."""
    viewer = request.user
    is_hr = has_role(viewer, HR)
    heads = headed_departments(staff=viewer)
    if is_hr:
        departments = list(Department.objects.filter(is_active=True).order_by("sort_order", "code"))
    else:
        departments = list(team_departments(heads)) if heads else []
    if is_hr:
        people = fileable_people(staff=viewer)
    else:
        people = [p for p in team_people(heads=heads) if p.pk != viewer.pk] if heads else []
    day = today()
    context = {
        "is_hr": is_hr,
        "staff_reports": [
            ("overtime-book", _("超過勤務命令簿"), "month"),
            ("leave-book", _("休暇簿"), "year"),
        ],
        "department_reports": [
            ("roll", _("出勤簿"), "month"),
            ("overtime-summary", _("時間外勤務集計表"), "fiscal"),
            ("annual-leave", _("年次休暇の取得状況"), "year"),
        ],
        "departments": departments,
        "people": people,
        "month": f"{month_start(day):%Y-%m}",
        "year": leave_year_for(viewer, day) or day.year,
        "fiscal_year": fiscal_year(day),
    }
    return render(request, "attendance/reports.html", context)


@require_GET
def report_download(request: HttpRequest, kind: str) -> HttpResponse:
    spec = REPORTS.get(kind)
    fmt = request.GET.get("format", "xlsx")
    if spec is None or fmt not in CONTENT_TYPES:
        raise Http404
    viewer = request.user
    is_hr = has_role(viewer, HR)
    args: list[Any] = []
    if spec["scope"] == "staff":
        person = get_object_or_404(Staff, pk=_int(request.GET.get("staff")) or 0)
        if not (is_hr or person.pk == viewer.pk or manages(staff=viewer, person=person)):
            raise PermissionDenied(_("この職員の帳票を出力する権限がありません。"))
        args.append(person)
    else:
        department_pk = _int(request.GET.get("department"))
        department = None
        if department_pk is not None:
            department = get_object_or_404(Department, pk=department_pk)
        elif spec["scope"] == "department":
            raise Http404
        if department is None and not is_hr:
            raise PermissionDenied(_("全庁の帳票は人事課だけが出力できます。"))
        if (
            department is not None
            and not is_hr
            and not heads_department(staff=viewer, department=department)
        ):
            raise PermissionDenied(_("この所属の帳票を出力する権限がありません。"))
        args.append(department)
    if spec["period"] == "month":
        text = request.GET.get("month", "")
        month = parse_month(text, default=dt.date(1, 1, 1))
        if month.year == 1:
            raise Http404
        args.append(month)
    else:
        year = _int(request.GET.get("year"))
        if year is None or not 2000 <= year <= 2100:
            raise Http404
        args.append(year)
    from . import reports as report_module

    report = getattr(report_module, spec["function"])(*args)
    body = report.to_xlsx() if fmt == "xlsx" else report.to_csv()
    response = HttpResponse(body, content_type=CONTENT_TYPES[fmt])
    response["Content-Disposition"] = content_disposition_header(
        True, f"{report.filename_stem}.{fmt}"
    )
    response["X-Content-Type-Options"] = "nosniff"
    return response
