"""The unified inbox (受信箱): every pending step of the signed-in person, 後閲 and notices.

Views parse, call one selector or service, and map `WorkflowError` to a message; the
page is a tablet-first list whose live region is re-fetched when /ws/inbox/ says so.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.contenttypes.models import ContentType
from django.core.paginator import Page, Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from org.models import Department, Staff

from .errors import WorkflowError
from .models import Notification, PostReview, Stage, Step
from .selectors import (
    InboxItem,
    InboxList,
    inbox_counts_by_kind,
    inbox_for,
    open_post_reviews_for,
    route_visible_to,
    subject_url,
    unread_notifications_for,
)
from .services import notification_mark_read, post_review_complete, step_approve

PAGE_SIZE = 50
BULK_MAX = 200
_REQUEST_ID = re.compile(r"^[A-Za-z0-9:_-]{1,64}$")


# --- helpers shared with the document pages ------------------------------------------


def client_request_id(request: HttpRequest) -> str:
    """The id the page put in the form, so a double tap acts once; junk is ignored."""
    value = request.POST.get("client_request_id", "")
    return value if _REQUEST_ID.match(value) else ""


def new_request_id() -> str:
    return uuid.uuid4().hex


def safe_next(request: HttpRequest, default: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default


def kind_label(content_type: ContentType) -> str:
    model = content_type.model_class()
    return str(model._meta.verbose_name) if model is not None else content_type.name


def action_label(stage_kind: str) -> str:
    """The verb on the big button: 決裁 on the final stage, 確認 for 供覧, else 承認."""
    if stage_kind == Stage.Kind.DECISION:
        return _("決裁")
    if stage_kind == Stage.Kind.INFORMATION:
        return _("確認")
    return _("承認")


# --- the inbox -------------------------------------------------------------------------


class InboxFilterForm(forms.Form):
    kind = forms.TypedChoiceField(
        label=gettext_lazy("種類"), coerce=int, required=False, empty_value=None
    )
    department = forms.TypedChoiceField(
        label=gettext_lazy("起案課"), coerce=int, required=False, empty_value=None
    )

    def __init__(
        self, data: Any, *, kinds: list[tuple[int, str]], departments: list[Department]
    ) -> None:
        super().__init__(data)
        self.fields["kind"].choices = [("", _("すべて")), *kinds]
        self.fields["department"].choices = [
            ("", _("すべて")),
            *[(d.pk, d.name) for d in departments],
        ]


@dataclass
class InboxRow:
    item: InboxItem
    kind: str
    subject_url: str
    overdue: bool
    deputy: bool
    verb: str
    request_id: str
    bulk_ok: bool


def _inbox_context(request: HttpRequest) -> dict[str, Any]:
    viewer = request.user
    counts = inbox_counts_by_kind(staff=viewer)
    kinds = [(ct.pk, kind_label(ct)) for ct, _n in counts]
    kind_names = dict(kinds)
    everything = inbox_for(staff=viewer)
    departments = list(
        Department.objects.filter(pk__in=everything.values("route__department_id")).order_by(
            "sort_order", "code"
        )
    )
    form = InboxFilterForm(request.GET or None, kinds=kinds, departments=departments)
    kind = department = None
    if form.is_bound and form.is_valid():
        kind = form.cleaned_data["kind"]
        department = form.cleaned_data["department"]
    items = InboxList(staff=viewer, kind=kind, department=department)
    page: Page = Paginator(items, PAGE_SIZE).get_page(request.GET.get("page"))
    now = timezone.now()
    render_id = new_request_id()
    rows = [
        InboxRow(
            item=item,
            kind=kind_names.get(item.subject_type_id, ""),
            subject_url=subject_url(item.subject_type_id, item.subject_id),
            overdue=item.due_at is not None and item.due_at < now,
            deputy=item.assignee_id != viewer.pk,
            verb=action_label(item.stage_kind),
            request_id=f"{render_id}-{item.step_id}",
            bulk_ok=not item.important,
        )
        for item in page.object_list
    ]
    reviews = open_post_reviews_for(staff=viewer).prefetch_related("step__route__subject")
    return {
        "counts": [(ct.pk, kind_label(ct), n) for ct, n in counts],
        "total": sum(n for _ct, n in counts),
        "filter_form": form,
        "selected_kind": kind,
        "page": page,
        "rows": rows,
        "post_reviews": list(reviews),
        "notifications": list(unread_notifications_for(staff=viewer)),
        "bulk_request_id": render_id,
        "review_request_id": new_request_id(),
        "here": request.get_full_path(),
    }


@require_GET
def inbox(request: HttpRequest) -> HttpResponse:
    return render(request, "workflow/inbox.html", _inbox_context(request))


@require_GET
def inbox_live(request: HttpRequest) -> HttpResponse:
    """The live region alone: what inbox.js swaps in when /ws/inbox/ says it changed."""
    context = _inbox_context(request)
    # Forms in the fragment come back to the page the person is on, not the fragment URL.
    context["here"] = reverse("workflow:inbox") + (
        "?" + request.GET.urlencode() if request.GET else ""
    )
    return render(request, "workflow/_inbox_live.html", context)


@require_GET
def inbox_badge(request: HttpRequest) -> HttpResponse:
    """The pending count for links elsewhere (the home page loads it with htmx)."""
    from .selectors import inbox_count

    return render(request, "workflow/_inbox_badge.html", {"count": inbox_count(staff=request.user)})


# --- acting from the inbox -------------------------------------------------------------


def _back(request: HttpRequest) -> HttpResponseRedirect:
    return HttpResponseRedirect(safe_next(request, reverse("workflow:inbox")))


@require_POST
def step_approve_view(request: HttpRequest, pk: int) -> HttpResponse:
    # No visibility gate here: the service lets exactly the holder and, while the holder
    # is away, their deputies act; anyone else gets its NotAllowed message (no title).
    step = get_object_or_404(Step.objects.select_related("route", "stage"), pk=pk)
    comment = request.POST.get("comment", "").strip()[:2000]
    try:
        done = step_approve(
            step=step,
            actor=request.user,
            comment=comment,
            client_request_id=client_request_id(request),
        )
    except WorkflowError as err:
        messages.error(request, err.message)
    else:
        messages.success(
            request,
            _("%(verb)sしました: %(title)s")
            % {"verb": action_label(done.stage.kind), "title": step.route.title},
        )
    return _back(request)


class BulkApproveForm(forms.Form):
    steps = forms.TypedMultipleChoiceField(coerce=int, required=True)

    def __init__(self, data: Any) -> None:
        super().__init__(data)
        # Any integer is a candidate; the service decides what the person may approve.
        self.fields["steps"].choices = [(v, v) for v in data.getlist("steps") if v.isdigit()]
        self.fields["steps"].error_messages["required"] = _("案件を選択してください。")


@require_POST
def bulk_approve(request: HttpRequest) -> HttpResponse:
    """一括承認: routine items of one kind. Mixed kinds are refused as a whole; each item
    that fails (important, already acted on, not the person's) is skipped and reported."""
    form = BulkApproveForm(request.POST)
    if not form.is_valid():
        for error in form.errors.get("steps", []):
            messages.error(request, error)
        return _back(request)
    ids = form.cleaned_data["steps"][:BULK_MAX]
    steps = {s.pk: s for s in Step.objects.filter(pk__in=ids).select_related("route", "stage")}
    kinds = {s.route.subject_type_id for s in steps.values()}
    if len(kinds) > 1:
        messages.error(
            request,
            _(
                "種類の異なる案件はまとめて承認できません。種類で絞り込んでから選択してください。"
                " (Items of different kinds cannot be approved together.)"
            ),
        )
        return _back(request)
    base_id = client_request_id(request)
    done = 0
    for pk in ids:
        step = steps.get(pk)
        if step is None:
            messages.error(request, _("案件 %(pk)s: 見つかりません。 (Not found.)") % {"pk": pk})
            continue
        if step.route.important:
            messages.error(
                request,
                _(
                    "%(title)s: 重要・異例の案件は一括承認できません。"
                    "個別に開いて処理してください。 (Important matters are approved one by one.)"
                )
                % {"title": _label_for(step, request.user)},
            )
            continue
        try:
            step_approve(
                step=step,
                actor=request.user,
                client_request_id=f"{base_id}:{pk}"[:64] if base_id else "",
            )
        except WorkflowError as err:
            messages.error(request, f"{_label_for(step, request.user)}: {err.message}")
        else:
            done += 1
    if done:
        messages.success(request, _("%(n)d 件を承認しました。") % {"n": done})
    return _back(request)


def _label_for(step: Step, viewer: Staff) -> str:
    """The title, unless the person may not see the item: then only its number."""
    if step.assignee_id == viewer.pk or route_visible_to(route=step.route, staff=viewer):
        return step.route.title
    return _("案件 %(pk)s") % {"pk": step.pk}


@require_POST
def post_review_done(request: HttpRequest, pk: int) -> HttpResponse:
    review = get_object_or_404(PostReview, pk=pk, reviewer=request.user)
    try:
        post_review_complete(
            review=review, actor=request.user, comment=request.POST.get("comment", "")[:2000]
        )
    except WorkflowError as err:
        messages.error(request, err.message)
    else:
        messages.success(request, _("後閲済にしました。"))
    return _back(request)


@require_POST
def notification_read(request: HttpRequest, pk: int) -> HttpResponse:
    notification = get_object_or_404(Notification, pk=pk, recipient=request.user)
    try:
        notification_mark_read(notification=notification, actor=request.user)
    except WorkflowError as err:
        messages.error(request, err.message)
    return _back(request)
