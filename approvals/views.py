"""The 起案文書 pages: my documents, drafting, attachments, submission on the proposed
route, and the detail page with the route timeline and what the viewer may do now.

Each view parses its input, checks `document_visible_to` (else 404), calls one service
and maps a `WorkflowError` to a message (Japanese, then English) before redirecting.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.contrib import messages
from django.contrib.contenttypes.models import ContentType
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from common.dates import wareki
from org.models import Assignment, Staff
from org.selectors import is_absent
from records.selectors import record_for_source
from workflow.errors import WorkflowError
from workflow.models import Route, Stage, Step
from workflow.selectors import routes_of
from workflow.services import (
    acting_mode,
    route_add_stage,
    route_remove_stage,
    route_withdraw,
    step_approve,
    step_comment,
    step_pull_up,
    step_reject,
    step_return,
    step_withdraw_approval,
)
from workflow.views import action_label, client_request_id, new_request_id

from .forms import (
    AddStageForm,
    ApproveForm,
    AttachmentForm,
    CommentForm,
    DateForm,
    DocumentFilterForm,
    DocumentForm,
    ExtraStagesForm,
    ReasonForm,
    ReturnForm,
)
from .models import Attachment, Document
from .selectors import document_visible_to
from .services import (
    attachment_add,
    document_complete,
    document_create,
    document_issue,
    document_submit,
    document_update,
    route_propose,
)

PAGE_SIZE = 50
PDF_MAGIC = b"%PDF-"


# --- helpers ---------------------------------------------------------------------------


def _visible_document(request: HttpRequest, pk: int) -> Document:
    document = get_object_or_404(
        Document.objects.select_related("category", "department", "drafter", "decided_by"), pk=pk
    )
    if not document_visible_to(document=document, staff=request.user):
        raise Http404
    return document


def _to_detail(document: Document) -> HttpResponseRedirect:
    return redirect("approvals:document", pk=document.pk)


def _form_error_message(form: Any) -> str:
    parts = []
    for name, errors in form.errors.items():
        label = form.fields[name].label if name in form.fields else ""
        text = " ".join(str(e) for e in errors)
        parts.append(f"{label}: {text}" if label else text)
    return " ".join(parts)


def _document_routes(document: Document) -> list[Route]:
    return list(routes_of(document).prefetch_related("stages__steps__post_reviews"))


def _step_of(document: Document, step_pk: int) -> Step:
    return get_object_or_404(
        Step.objects.select_related("route", "stage"),
        pk=step_pk,
        route__subject_type=ContentType.objects.get_for_model(Document),
        route__subject_id=document.pk,
    )


def _latest_route(document: Document) -> Route | None:
    return (
        Route.objects.filter(
            subject_type=ContentType.objects.get_for_model(Document), subject_id=document.pk
        )
        .order_by("-round")
        .first()
    )


def _run(request: HttpRequest, success: str, call: Any) -> bool:
    """Call one service; a WorkflowError becomes an error message, never a 500."""
    try:
        call()
    except WorkflowError as err:
        messages.error(request, err.message)
        return False
    if success:
        messages.success(request, success)
    return True


# --- lists and drafting ----------------------------------------------------------------


@require_GET
def document_list(request: HttpRequest) -> HttpResponse:
    """自分の起案文書: drafted by me, newest first, by status."""
    form = DocumentFilterForm(request.GET or None)
    documents = (
        Document.objects.filter(drafter=request.user)
        .select_related("category", "department")
        .order_by("-created_at", "-pk")
    )
    if form.is_bound and form.is_valid() and form.cleaned_data["status"]:
        documents = documents.filter(status=form.cleaned_data["status"])
    page = Paginator(documents, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "approvals/document_list.html", {"form": form, "page": page})


@require_http_methods(["GET", "POST"])
def document_new(request: HttpRequest) -> HttpResponse:
    form = DocumentForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            document = document_create(actor=request.user, **form.cleaned_data)
        except WorkflowError as err:
            messages.error(request, err.message)
        else:
            messages.success(request, _("下書きを保存しました。"))
            return _to_detail(document)
    return render(request, "approvals/document_form.html", {"form": form, "document": None})


@require_http_methods(["GET", "POST"])
def document_edit(request: HttpRequest, pk: int) -> HttpResponse:
    document = _visible_document(request, pk)
    if document.drafter_id != request.user.pk or not document.is_editable:
        messages.error(
            request,
            _("この文書は編集できません（起案者が、起案中・差戻し・取下げの間だけ編集できます）。"),
        )
        return _to_detail(document)
    initial = DocumentForm.initial_for(document)
    form = DocumentForm(request.POST if request.method == "POST" else None, initial=initial)
    if request.method == "POST" and form.is_valid():
        changes = {name: form.cleaned_data[name] for name in form.changed_data}
        if not changes:
            messages.info(request, _("変更はありません。"))
            return _to_detail(document)
        if _run(
            request,
            _("変更を保存しました。"),
            lambda: document_update(document=document, actor=request.user, **changes),
        ):
            return _to_detail(document)
    return render(request, "approvals/document_form.html", {"form": form, "document": document})


# --- attachments -----------------------------------------------------------------------


@require_POST
def attachment_upload(request: HttpRequest, pk: int) -> HttpResponse:
    document = _visible_document(request, pk)
    form = AttachmentForm(request.POST, request.FILES)
    if not form.is_valid():
        messages.error(request, _form_error_message(form))
        return _to_detail(document)
    upload = form.cleaned_data["file"]
    _run(
        request,
        _("添付しました: %(name)s") % {"name": upload.name},
        lambda: attachment_add(document=document, actor=request.user, upload=upload),
    )
    return _to_detail(document)


def _attachment(request: HttpRequest, pk: int, attachment_pk: int) -> Attachment:
    document = _visible_document(request, pk)
    attachment = get_object_or_404(Attachment, pk=attachment_pk, document=document)
    if not attachment.file:
        raise Http404  # destroyed with its record at the end of retention (廃棄)
    return attachment


@require_GET
def attachment_download(request: HttpRequest, pk: int, attachment_pk: int) -> FileResponse:
    attachment = _attachment(request, pk, attachment_pk)
    response = FileResponse(
        attachment.file.open("rb"),
        as_attachment=True,
        filename=attachment.original_name,
        content_type="application/octet-stream",
    )
    response["X-Content-Type-Options"] = "nosniff"
    return response


@require_GET
def attachment_preview(request: HttpRequest, pk: int, attachment_pk: int) -> FileResponse:
    """A PDF shown in the browser. Only real PDFs (by their first bytes), always served as
    application/pdf with nosniff, so an upload cannot turn into a page of this site."""
    attachment = _attachment(request, pk, attachment_pk)
    if not attachment.is_pdf:
        raise Http404
    handle = attachment.file.open("rb")
    if handle.read(len(PDF_MAGIC)) != PDF_MAGIC:
        handle.close()
        raise Http404
    handle.seek(0)
    response = FileResponse(
        handle,
        as_attachment=False,
        filename=attachment.original_name,
        content_type="application/pdf",
    )
    response["X-Content-Type-Options"] = "nosniff"
    return response


# --- submission ------------------------------------------------------------------------


@dataclass
class ProposedStage:
    kind: str
    who: list[str]


def _describe(stages: list) -> list[ProposedStage]:
    out = []
    for spec in stages:
        who = []
        for s in spec.steps:
            if s.person is not None:
                who.append(s.person.display_name)
            elif s.department is not None:
                who.append(f"{s.department.name} {s.post.name}")
            else:
                who.append(_("%(post)s（全庁）") % {"post": s.post.name})
        out.append(ProposedStage(kind=Stage.Kind(spec.kind).label, who=who))
    return out


@require_http_methods(["GET", "POST"])
def document_submit_view(request: HttpRequest, pk: int) -> HttpResponse:
    """回議に回す: the route from the authority table first; the drafter may add a 合議 or
    a 供覧 before the decision, never change the decider."""
    document = _visible_document(request, pk)
    if document.drafter_id != request.user.pk or not document.is_editable:
        messages.error(request, _("この文書は回議に回せません。"))
        return _to_detail(document)
    proposal_error = ""
    proposed: list = []
    try:
        proposed = route_propose(document=document, drafter=request.user)
    except WorkflowError as err:
        proposal_error = err.message
    consulted = [s.department.pk for spec in proposed for s in spec.steps if s.department]
    form = ExtraStagesForm(
        request.POST if request.method == "POST" else None, exclude_departments=consulted
    )
    if request.method == "POST" and not proposal_error:
        if form.is_valid():
            try:
                extra = form.stages()
                document_submit(
                    document=document,
                    actor=request.user,
                    extra_stages=extra,
                    client_request_id=client_request_id(request),
                )
            except WorkflowError as err:
                messages.error(request, err.message)
            else:
                messages.success(request, _("回議に回しました。"))
                return _to_detail(document)
        else:
            messages.error(request, _form_error_message(form))
    context = {
        "document": document,
        "proposed": _describe(proposed),
        "proposal_error": proposal_error,
        "form": form,
        "request_id": new_request_id(),
    }
    return render(request, "approvals/document_submit.html", context)


@require_POST
def document_withdraw(request: HttpRequest, pk: int) -> HttpResponse:
    """取下げ by the drafter: history is kept and the draft becomes editable again."""
    document = _visible_document(request, pk)
    route = _latest_route(document)
    if route is None:
        messages.error(request, _("まだ回議に回していません。"))
        return _to_detail(document)
    _run(
        request,
        _("取り下げました。修正して再度回議に回せます。"),
        lambda: route_withdraw(
            route=route,
            actor=request.user,
            comment=request.POST.get("comment", "").strip()[:2000],
            client_request_id=client_request_id(request),
        ),
    )
    return _to_detail(document)


# --- acting on a step ------------------------------------------------------------------


@require_POST
def step_approve_view(request: HttpRequest, pk: int, step_pk: int) -> HttpResponse:
    document = _visible_document(request, pk)
    step = _step_of(document, step_pk)
    form = ApproveForm(request.POST)
    if not form.is_valid():
        messages.error(request, _form_error_message(form))
        return _to_detail(document)
    _run(
        request,
        _("%(verb)sしました。") % {"verb": action_label(step.stage.kind)},
        lambda: step_approve(
            step=step,
            actor=request.user,
            comment=form.cleaned_data["comment"].strip(),
            client_request_id=client_request_id(request),
        ),
    )
    return _to_detail(document)


@require_POST
def step_return_view(request: HttpRequest, pk: int, step_pk: int) -> HttpResponse:
    document = _visible_document(request, pk)
    step = _step_of(document, step_pk)
    targets = list(
        Step.objects.filter(route=step.route, stage__position__lt=step.stage.position)
        .exclude(stage__kind=Stage.Kind.INFORMATION)
        .select_related("stage")
    )
    form = ReturnForm(request.POST, targets=targets)
    if not form.is_valid():
        messages.error(request, _form_error_message(form))
        return _to_detail(document)
    _run(
        request,
        _("差し戻しました。"),
        lambda: step_return(
            step=step,
            actor=request.user,
            comment=form.cleaned_data["comment"],
            to_step=form.cleaned_data["to_step"],
            client_request_id=client_request_id(request),
        ),
    )
    return _to_detail(document)


@require_POST
def step_reject_view(request: HttpRequest, pk: int, step_pk: int) -> HttpResponse:
    document = _visible_document(request, pk)
    step = _step_of(document, step_pk)
    form = ReasonForm(request.POST)
    if not form.is_valid():
        messages.error(request, _form_error_message(form))
        return _to_detail(document)
    _run(
        request,
        _("却下しました。"),
        lambda: step_reject(
            step=step,
            actor=request.user,
            comment=form.cleaned_data["comment"],
            client_request_id=client_request_id(request),
        ),
    )
    return _to_detail(document)


@require_POST
def step_withdraw_approval_view(request: HttpRequest, pk: int, step_pk: int) -> HttpResponse:
    document = _visible_document(request, pk)
    step = _step_of(document, step_pk)
    _run(
        request,
        _("承認を引き戻しました。"),
        lambda: step_withdraw_approval(
            step=step, actor=request.user, client_request_id=client_request_id(request)
        ),
    )
    return _to_detail(document)


@require_POST
def step_pull_up_view(request: HttpRequest, pk: int, step_pk: int) -> HttpResponse:
    document = _visible_document(request, pk)
    step = _step_of(document, step_pk)
    _run(
        request,
        _("引上げました。不在者には後閲が依頼されます。"),
        lambda: step_pull_up(
            step=step, actor=request.user, client_request_id=client_request_id(request)
        ),
    )
    return _to_detail(document)


@require_POST
def stage_add(request: HttpRequest, pk: int) -> HttpResponse:
    document = _visible_document(request, pk)
    route = _latest_route(document)
    form = AddStageForm(request.POST)
    if route is None:
        messages.error(request, _("まだ回議に回していません。"))
    elif not form.is_valid():
        messages.error(request, _form_error_message(form))
    else:
        _run(
            request,
            _("経路に段を追加しました。"),
            lambda: route_add_stage(
                route=route,
                actor=request.user,
                spec=form.spec(),
                client_request_id=client_request_id(request),
            ),
        )
    return _to_detail(document)


@require_POST
def stage_remove(request: HttpRequest, pk: int, stage_pk: int) -> HttpResponse:
    document = _visible_document(request, pk)
    stage = get_object_or_404(
        Stage,
        pk=stage_pk,
        route__subject_type=ContentType.objects.get_for_model(Document),
        route__subject_id=document.pk,
    )
    _run(
        request,
        _("追加した段を取り消しました。"),
        lambda: route_remove_stage(stage=stage, actor=request.user),
    )
    return _to_detail(document)


@require_POST
def route_comment(request: HttpRequest, pk: int) -> HttpResponse:
    document = _visible_document(request, pk)
    route = _latest_route(document)
    form = CommentForm(request.POST)
    if route is None:
        messages.error(request, _("まだ回議に回していません。"))
    elif not form.is_valid():
        messages.error(request, _form_error_message(form))
    else:
        _run(
            request,
            _("意見を記録しました。"),
            lambda: step_comment(
                route=route,
                actor=request.user,
                comment=form.cleaned_data["comment"],
                client_request_id=client_request_id(request),
            ),
        )
    return _to_detail(document)


@require_POST
def document_issue_view(request: HttpRequest, pk: int) -> HttpResponse:
    document = _visible_document(request, pk)
    form = DateForm(request.POST)
    if not form.is_valid():
        messages.error(request, _form_error_message(form))
    else:
        _run(
            request,
            _("施行を記録しました。"),
            lambda: document_issue(document=document, actor=request.user, issued_on=form.day),
        )
    return _to_detail(document)


@require_POST
def document_complete_view(request: HttpRequest, pk: int) -> HttpResponse:
    document = _visible_document(request, pk)
    form = DateForm(request.POST)
    if not form.is_valid():
        messages.error(request, _form_error_message(form))
    else:
        _run(
            request,
            _("完結を記録しました。"),
            lambda: document_complete(document=document, actor=request.user, completed_on=form.day),
        )
    return _to_detail(document)


# --- the detail page -------------------------------------------------------------------


@dataclass
class ActableStep:
    """A step the viewer may act on now, with the forms for it."""

    step: Step
    verb: str
    deputy: bool
    information: bool
    approve_form: ApproveForm
    return_form: ReturnForm | None = None
    reject_form: ReasonForm | None = None


@dataclass
class ViewerOptions:
    actable: list[ActableStep] = field(default_factory=list)
    withdrawable: list[Step] = field(default_factory=list)
    pull_up: list[Step] = field(default_factory=list)
    removable_stages: list[Stage] = field(default_factory=list)
    can_add_stage: bool = False
    can_withdraw: bool = False
    can_comment: bool = False


def _would_resolve_to(step: Step, viewer: Staff, seats: set[tuple[int | None, int]]) -> bool:
    """Whether a later step (not yet active) would go to the viewer, as the engine
    resolves it: a named person, a post in a department, or a post anywhere."""
    if step.assignee_id is not None:
        return step.assignee_id == viewer.pk
    if step.person_id is not None:
        return step.person_id == viewer.pk
    if step.department_id is None:
        return any(post == step.post_id for _dept, post in seats)
    return (step.department_id, step.post_id) in seats


def _viewer_options(viewer: Staff, route: Route | None, document: Document) -> ViewerOptions:
    options = ViewerOptions()
    if route is None:
        return options
    options.can_comment = True
    options.can_withdraw = document.drafter_id == viewer.pk and route.status in (
        Route.Status.ACTIVE,
        Route.Status.RETURNED,
    )
    stages = list(route.stages.all())
    for stage in stages:
        for step in stage.steps.all():
            step.route = route
            step.stage = stage
    steps = [s for stage in stages for s in stage.steps.all()]
    seats: set[tuple[int | None, int]] | None = None
    for stage in stages:
        later = [s for st in stages if st.position > stage.position for s in st.steps.all()]
        for step in stage.steps.all():
            pending_here = step.status == Step.Status.PENDING and (
                route.is_open
                or (stage.kind == Stage.Kind.INFORMATION and route.status == Route.Status.APPROVED)
            )
            if pending_here:
                mode = acting_mode(step=step, actor=viewer)
                if mode is not None:
                    information = stage.kind == Stage.Kind.INFORMATION
                    targets = [
                        s
                        for s in steps
                        if s.stage.position < stage.position
                        and s.stage.kind != Stage.Kind.INFORMATION
                    ]
                    auto = f"id_s{step.pk}_%s"
                    options.actable.append(
                        ActableStep(
                            step=step,
                            verb=action_label(stage.kind),
                            deputy=mode == Step.Mode.DEPUTY,
                            information=information,
                            approve_form=ApproveForm(auto_id=auto + "_approve"),
                            return_form=None
                            if information
                            else ReturnForm(auto_id=auto + "_return", targets=targets),
                            reject_form=None
                            if information
                            else ReasonForm(auto_id=auto + "_reject"),
                        )
                    )
                elif route.is_open and step.assignee_id and stage.blocks:
                    # 引上げ: the viewer comes later on the route and this holder is away.
                    if seats is None:
                        seats = {
                            (a.department_id, a.post_id)
                            for a in Assignment.objects.effective_on(timezone.localdate()).filter(
                                staff=viewer
                            )
                        }
                    if any(_would_resolve_to(s, viewer, seats) for s in later) and is_absent(
                        staff=step.assignee
                    ):
                        options.pull_up.append(step)
            if (
                route.is_open
                and step.status == Step.Status.APPROVED
                and step.acted_by_id == viewer.pk
                and not any(s.acted_by_id for s in later)
            ):
                options.withdrawable.append(step)
        if (
            route.is_open
            and stage.added_by_id == viewer.pk
            and not stage.required
            and stage.status == Stage.Status.WAITING
        ):
            options.removable_stages.append(stage)
    options.can_add_stage = route.is_open and any(
        s.status == Step.Status.PENDING and s.assignee_id == viewer.pk for s in steps
    )
    return options


def _wareki_of(value: Any) -> str:
    if value is None:
        return ""
    if hasattr(value, "tzinfo"):
        value = timezone.localdate(value)
    return wareki(value)


@require_GET
def document_detail(request: HttpRequest, pk: int) -> HttpResponse:
    document = _visible_document(request, pk)
    viewer = request.user
    routes = _document_routes(document)
    current = routes[0] if routes else None
    options = _viewer_options(viewer, current, document)
    is_drafter = document.drafter_id == viewer.pk
    decided = document.status in (
        Document.Status.DECIDED,
        Document.Status.ISSUED,
        Document.Status.COMPLETED,
    )
    attachments = list(
        document.attachments.select_related("uploaded_by").order_by("uploaded_at", "pk")
    )
    may_record = is_drafter or document.decided_by_id == viewer.pk
    context = {
        "document": document,
        "record": record_for_source(document) if decided else None,
        "routes": routes,
        "current": current,
        "options": options,
        "attachments": attachments,
        "is_drafter": is_drafter,
        "can_edit": is_drafter and document.is_editable,
        "can_attach": (is_drafter and document.is_editable) or decided,
        "can_issue": may_record and document.can_move_to(Document.Status.ISSUED),
        "can_complete": may_record and document.can_move_to(Document.Status.COMPLETED),
        "decided": decided,
        "attachment_form": AttachmentForm(),
        "add_stage_form": AddStageForm(auto_id="id_add_%s") if options.can_add_stage else None,
        "comment_form": CommentForm(auto_id="id_comment_%s"),
        "issue_form": DateForm(auto_id="id_issue_%s", label=_("施行日")),
        "complete_form": DateForm(auto_id="id_complete_%s", label=_("完結日")),
        "request_id": new_request_id(),
        "dates": {
            "drafted": _wareki_of(document.drafted_on),
            "decided": _wareki_of(document.decided_at),
            "issued": _wareki_of(document.issued_on),
            "completed": _wareki_of(document.completed_on),
        },
    }
    return render(request, "approvals/document_detail.html", context)
