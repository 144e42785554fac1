"""Pages of the disposal round: the candidate list (records officers see every file,
a 課長 their own section's, and may extend), a batch made from the selection, and the
batch page (items, route, progress, 廃棄簿 rows) for officers and everyone on its route.
Approval itself happens in the workflow inbox: the batch is a workflow subject."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.contenttypes.models import ContentType
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from common.dates import fiscal_year, today
from workflow.errors import WorkflowError
from workflow.models import Route, Step
from workflow.selectors import actions_for, route_visible_to

from . import disposal
from .models import DisposalBatch, RecordFile
from .selectors import is_records_officer


def _candidates_for(request: HttpRequest) -> list[RecordFile]:
    files = disposal.disposal_candidates(today()).prefetch_related("holds")
    if is_records_officer(request.user):
        return list(files)
    headed = [d.pk for d in disposal.headed_departments(request.user)]
    if not headed:
        raise Http404
    return list(files.filter(department__in=headed))


@require_GET
def candidate_list(request: HttpRequest) -> HttpResponse:
    files = _candidates_for(request)
    officer = is_records_officer(request.user)
    rows = [
        {
            "file": f,
            "start": disposal.file_start_date(f),
            "end": disposal.file_effective_end(f),
        }
        for f in files
    ]
    return render(
        request,
        "records/disposal/candidate_list.html",
        {
            "rows": rows,
            "officer": officer,
            "fiscal_year": fiscal_year(today()),
            "batches": DisposalBatch.objects.order_by("-created_at")[:20] if officer else [],
        },
    )


@require_POST
def file_extend_view(request: HttpRequest, file_pk: int) -> HttpResponse:
    file = get_object_or_404(RecordFile, pk=file_pk)
    if not disposal.can_extend(file=file, staff=request.user):
        raise Http404
    try:
        disposal.file_extend(file=file, actor=request.user, reason=request.POST.get("reason", ""))
    except WorkflowError as err:
        messages.error(request, err.message)
    else:
        messages.success(request, _("1年延長しました: %(file)s") % {"file": file})
    return redirect("records:disposal_candidates")


@require_POST
def batch_create_view(request: HttpRequest) -> HttpResponse:
    if not is_records_officer(request.user):
        raise Http404
    ids = [int(v) for v in request.POST.getlist("files") if v.isdigit()]
    try:
        year = int(request.POST.get("fiscal_year") or fiscal_year(today()))
        batch = disposal.disposal_batch_create(fiscal_year=year, files=ids, actor=request.user)
    except ValueError:
        messages.error(request, _("年度が正しくありません。"))
    except WorkflowError as err:
        messages.error(request, err.message)
    else:
        messages.success(request, _("廃棄文書目録を作成しました。"))
        return redirect(batch.get_absolute_url())
    return redirect("records:disposal_candidates")


def _routes(batch: DisposalBatch) -> list[Route]:
    return list(
        Route.objects.filter(
            subject_type=ContentType.objects.get_for_model(DisposalBatch), subject_id=batch.pk
        ).order_by("round")
    )


def _batch_for(request: HttpRequest, pk: int) -> tuple[DisposalBatch, list[Route]]:
    batch = get_object_or_404(DisposalBatch.objects.select_related("created_by"), pk=pk)
    routes = _routes(batch)
    if is_records_officer(request.user):
        return batch, routes
    if getattr(request.user, "is_authenticated", False) and any(
        route_visible_to(route=r, staff=request.user) for r in routes
    ):
        return batch, routes
    raise Http404


@require_GET
def batch_detail(request: HttpRequest, pk: int) -> HttpResponse:
    batch, routes = _batch_for(request, pk)
    items = list(
        batch.items.select_related("file__department", "file__classification").order_by("file_id")
    )
    route = routes[-1] if routes else None
    steps = (
        list(
            Step.objects.filter(route=route)
            .select_related("stage", "assignee", "acted_by", "department", "post")
            .order_by("stage__position", "position")
        )
        if route
        else []
    )
    return render(
        request,
        "records/disposal/batch_detail.html",
        {
            "batch": batch,
            "items": items,
            "done": sum(1 for i in items if i.done_at),
            "route": route,
            "steps": steps,
            "my_steps": [
                s
                for s in steps
                if s.status == Step.Status.PENDING and s.assignee_id == request.user.pk
            ],
            "actions": list(actions_for(route)) if route else [],
            "register": list(batch.register.select_related("record").order_by("pk")),
            "officer": is_records_officer(request.user),
            "Status": DisposalBatch.Status,
        },
    )


@require_POST
def batch_submit_view(request: HttpRequest, pk: int) -> HttpResponse:
    if not is_records_officer(request.user):
        raise Http404
    batch = get_object_or_404(DisposalBatch, pk=pk)
    try:
        disposal.disposal_batch_submit(batch=batch, actor=request.user)
    except WorkflowError as err:
        messages.error(request, err.message)
    else:
        messages.success(request, _("承諾・決裁に回しました。"))
    return redirect(batch.get_absolute_url())


@require_POST
def batch_execute_view(request: HttpRequest, pk: int) -> HttpResponse:
    if not is_records_officer(request.user):
        raise Http404
    batch = get_object_or_404(DisposalBatch, pk=pk)
    try:
        disposal.disposal_execute_enqueue(batch=batch, actor=request.user)
    except WorkflowError as err:
        messages.error(request, err.message)
    else:
        messages.success(request, _("執行を開始しました。"))
    return redirect(reverse("records:disposal", args=[batch.pk]))
