"""The registers page for records officers: filter, download now, or export in background.

Small selections (< DIRECT_LIMIT rows) are written during the request: CSV streamed row
by row, xlsx through a spooled temporary file (a zip cannot be streamed as it is
written). Larger ones become a RegisterExport, written by a worker; the page polls its
progress with htmx and shows the download link when it is done.
"""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator, Iterator

from asgiref.sync import sync_to_async
from django import forms
from django.contrib import messages
from django.core.files.storage import default_storage
from django.core.handlers.asgi import ASGIRequest
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    StreamingHttpResponse,
)
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from common.dates import today
from org.models import Department

from .export_tasks import register_export_request
from .models import Classification, RecordFile, RegisterExport
from .registers import (
    REGISTERS,
    RegisterFilters,
    csv_chunks,
    export_filename,
    register_count,
    register_for,
    register_rows,
    write_xlsx,
)
from .selectors import is_records_officer

DIRECT_LIMIT = 5000
SPOOL_BYTES = 8 * 1024 * 1024


class RegisterFilterForm(forms.Form):
    department = forms.ModelChoiceField(
        Department.objects.order_by("code"), required=False, label=gettext_lazy("所属")
    )
    fiscal_year = forms.TypedChoiceField(
        coerce=int, required=False, empty_value=None, label=gettext_lazy("作成・取得年度")
    )
    classification = forms.ModelChoiceField(
        Classification.objects.order_by("schedule__version", "sort_order", "code"),
        required=False,
        label=gettext_lazy("文書分類"),
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        years = (
            RecordFile.objects.order_by("-fiscal_year")
            .values_list("fiscal_year", flat=True)
            .distinct()
        )
        self.fields["fiscal_year"].choices = [("", _("すべて"))] + [(y, f"{y}年度") for y in years]

    def register_filters(self) -> RegisterFilters:
        if not self.is_valid():
            return RegisterFilters()
        data = self.cleaned_data
        return RegisterFilters(
            department_id=data["department"].pk if data["department"] else None,
            fiscal_year=data["fiscal_year"],
            classification_id=data["classification"].pk if data["classification"] else None,
        )


def _officer(request: HttpRequest) -> None:
    if not is_records_officer(request.user):
        raise Http404


def _filters_from(data) -> RegisterFilters:
    """The filters of a download or export request (plain ids, as the page's form sends)."""
    try:
        return RegisterFilters.from_dict(
            {
                "department_id": data.get("department"),
                "fiscal_year": data.get("fiscal_year"),
                "classification_id": data.get("classification"),
            }
        )
    except ValueError:
        raise Http404 from None


def _kind_and_format(data) -> tuple[str, str]:
    kind, fmt = data.get("kind", ""), data.get("format", "")
    if kind not in REGISTERS or fmt not in RegisterExport.Format.values:
        raise Http404
    return kind, fmt


@require_GET
def register_index(request: HttpRequest) -> HttpResponse:
    """The registers with their row counts for the chosen filters, and my recent exports."""
    _officer(request)
    form = RegisterFilterForm(request.GET or None)
    filters = form.register_filters()
    registers = [
        {"register": r, "count": register_count(kind, filters)} for kind, r in REGISTERS.items()
    ]
    exports = list(
        RegisterExport.objects.filter(created_by=request.user).order_by("-created_at")[:10]
    )
    return render(
        request,
        "records/registers/index.html",
        {
            "form": form,
            "filters": filters,
            "registers": registers,
            "exports": exports,
            "direct_limit": DIRECT_LIMIT,
            "formats": RegisterExport.Format.choices,
        },
    )


@require_GET
def register_download(request: HttpRequest) -> HttpResponse:
    """Download now: only for selections under DIRECT_LIMIT rows."""
    _officer(request)
    kind, fmt = _kind_and_format(request.GET)
    filters = _filters_from(request.GET)
    if register_count(kind, filters) >= DIRECT_LIMIT:
        messages.warning(
            request,
            _("%(limit)s件以上はバックグラウンドで出力してください。") % {"limit": DIRECT_LIMIT},
        )
        return redirect(_index_url(filters))
    register = register_for(kind)
    filename = export_filename(kind, fmt, today())
    rows = register_rows(kind, filters)
    if fmt == RegisterExport.Format.CSV:
        response = StreamingHttpResponse(
            _streamed(request, csv_chunks(register, rows)),
            content_type="text/csv; charset=utf-8",
        )
        response["Content-Disposition"] = content_disposition_header(True, filename)
        return response
    tmp = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115 - FileResponse closes it
    write_xlsx(register, rows, tmp)
    tmp.seek(0)
    return FileResponse(tmp, as_attachment=True, filename=filename)


def _streamed(request: HttpRequest, chunks: Iterator[str]) -> Iterator[str] | AsyncIterator[str]:
    """Under ASGI Django would read a sync iterator into memory first: hand it an async one
    that pulls each chunk in the thread the database connection belongs to."""
    if not isinstance(request, ASGIRequest):
        return chunks
    step = sync_to_async(next, thread_sensitive=True)

    async def pull() -> AsyncIterator[str]:
        done = object()
        while (chunk := await step(chunks, done)) is not done:
            yield chunk  # type: ignore[misc]

    return pull()


def _index_url(filters: RegisterFilters) -> str:
    query = "&".join(
        f"{key}={value}"
        for key, value in (
            ("department", filters.department_id),
            ("fiscal_year", filters.fiscal_year),
            ("classification", filters.classification_id),
        )
        if value is not None
    )
    return reverse("records:register_index") + (f"?{query}" if query else "")


@require_POST
def register_export(request: HttpRequest) -> HttpResponseRedirect:
    """Export in background: queue it and go back to the page, which shows its progress."""
    _officer(request)
    kind, fmt = _kind_and_format(request.POST)
    filters = _filters_from(request.POST)
    register_export_request(actor=request.user, kind=kind, fmt=fmt, filters=filters)
    messages.success(request, _("出力を開始しました。完了するとここからダウンロードできます。"))
    return redirect(_index_url(filters))


def _export(request: HttpRequest, pk: int) -> RegisterExport:
    export = get_object_or_404(RegisterExport, pk=pk)
    user = request.user
    if not getattr(user, "is_authenticated", False) or not (
        export.created_by_id == user.pk or is_records_officer(user)
    ):
        raise Http404
    return export


@require_GET
def register_export_status(request: HttpRequest, pk: int) -> HttpResponse:
    """The progress fragment; htmx replaces it every 2 s until the export ends."""
    return render(
        request, "records/registers/_export_status.html", {"export": _export(request, pk)}
    )


@require_GET
def register_export_download(request: HttpRequest, pk: int) -> FileResponse:
    export = _export(request, pk)
    if export.status != RegisterExport.Status.DONE or not export.output:
        raise Http404
    return FileResponse(
        default_storage.open(export.output.name, "rb"),
        as_attachment=True,
        filename=export_filename(
            export.kind, export.format, timezone.localtime(export.created_at).date()
        ),
    )
