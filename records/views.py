from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from .models import Record
from .selectors import (
    is_records_officer,
    record_content_visible_to,
    record_metadata_visible_to,
    records_for_officers,
    stale_filter,
)
from .services import record_verify


def _record(request: HttpRequest, pk: int) -> Record:
    record = get_object_or_404(Record.objects.select_related("department", "source_type"), pk=pk)
    if not record_metadata_visible_to(record=record, staff=request.user):
        raise Http404
    return record


@require_GET
def record_list(request: HttpRequest) -> HttpResponse:
    """The records officers' list; unsigned records waiting too long are marked."""
    if not is_records_officer(request.user):
        raise Http404
    status = request.GET.get("status", "")
    if status not in {"", *Record.Status.values}:
        status = ""
    flagged = request.GET.get("flagged") == "1"
    page = Paginator(records_for_officers(status=status, flagged=flagged), 50).get_page(
        request.GET.get("page")
    )
    stale_ids = set(
        Record.objects.filter(stale_filter(), pk__in=[r.pk for r in page.object_list]).values_list(
            "pk", flat=True
        )
    )
    return render(
        request,
        "records/record_list.html",
        {
            "page": page,
            "status": status,
            "flagged": flagged,
            "statuses": Record.Status.choices,
            "stale_ids": stale_ids,
        },
    )


@require_GET
def record_detail(request: HttpRequest, pk: int) -> HttpResponse:
    record = _record(request, pk)
    officer = is_records_officer(request.user)
    return render(
        request,
        "records/record_detail.html",
        {
            "record": record,
            "officer": officer,
            "can_read": record_content_visible_to(record=record, staff=request.user),
            "versions": list(record.versions.order_by("created_at", "pk")),
            "report": record.last_verification if officer else None,
            "stale": Record.objects.filter(stale_filter(), pk=record.pk).exists(),
        },
    )


@require_GET
def record_pdf(request: HttpRequest, pk: int) -> FileResponse:
    record = _record(request, pk)
    # A destroyed record keeps its tombstone but has no content left (pdf cleared).
    if (
        not record.is_signed
        or not record.pdf
        or not record_content_visible_to(record=record, staff=request.user)
    ):
        raise Http404
    filename = f"{record.number or record.pk}.pdf"
    response = FileResponse(
        record.pdf.open("rb"), content_type="application/pdf", filename=filename
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store" if record.confidential else "private"
    return response


@require_POST
def record_verify_view(request: HttpRequest, pk: int) -> HttpResponse:
    record = _record(request, pk)
    if not is_records_officer(request.user) or not record.is_signed:
        raise Http404
    report = record_verify(record=record, actor=request.user)
    if report.ok:
        messages.success(request, _("検証しました: 問題はありません。"))
    else:
        messages.error(request, _("検証しました: 問題があります。下の報告を確認してください。"))
    return redirect(record.get_absolute_url())
