"""Pages of the records officers: files (簿冊), holds and received documents.

Only records officers (文書主管課) see these pages; anyone else gets a 404, so the
pages do not reveal what exists. The one exception is 延長 (extend), which the file's
own 課長 may also do (records.disposal.can_extend), as on the disposal candidate list.
Views parse, call one service or selector, and map RecordsError / WorkflowError /
ValidationError to a message; the file actions are POST-only and redirect back.
"""

from __future__ import annotations

import datetime as dt

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods, require_POST

from common.dates import today, wareki
from org.models import Department
from workflow.errors import WorkflowError

from . import disposal, retention
from . import files as services
from .models import Classification, Hold, Record, RecordFile, Retention
from .selectors import is_records_officer

PAGE_SIZE = 50


def _officer(request: HttpRequest) -> None:
    if not is_records_officer(request.user):
        raise Http404


def _both(day: dt.date | None) -> dict[str, object] | None:
    """A date as 和暦 and 西暦, for the templates."""
    return None if day is None else {"wareki": wareki(day), "iso": day}


# --- selectors (shaped for the pages) --------------------------------------------------


def open_hold_filter(day: dt.date) -> Exists:
    """A hold that keeps the file on `day`: no end yet, or an end not yet past."""
    return Exists(
        Hold.files.through.objects.filter(recordfile_id=OuterRef("pk")).filter(
            Q(hold__keeps_until__isnull=True) | Q(hold__keeps_until__gte=day)
        )
    )


def files_for_officers(
    *,
    department: Department | None = None,
    fiscal_year: int | None = None,
    classification: str = "",
    status: str = "",
    held: bool = False,
    q: str = "",
) -> QuerySet[RecordFile]:
    """Files with their record count and whether a hold keeps them today."""
    files = RecordFile.objects.select_related("department", "classification").annotate(
        record_count=Count("records", distinct=True), held=open_hold_filter(today())
    )
    if department is not None:
        files = files.filter(department=department)
    if fiscal_year:
        files = files.filter(fiscal_year=fiscal_year)
    if classification:
        files = files.filter(classification__code__startswith=classification)
    if status:
        files = files.filter(status=status)
    if held:
        files = files.filter(held=True)
    for word in q.split()[:5]:
        files = files.filter(
            Q(name__icontains=word)
            | Q(records__number__icontains=word)
            | Q(records__title__icontains=word)
        )
    if q.split():
        files = files.distinct()
    return files.order_by("-fiscal_year", "department__code", "classification__code", "pk")


def records_matching(q: str) -> QuerySet[Record]:
    records = Record.objects.select_related("department", "file")
    for word in q.split()[:5]:
        records = records.filter(Q(number__icontains=word) | Q(title__icontains=word))
    return records.order_by("-created_at", "-pk")


# --- forms ----------------------------------------------------------------------------


class FileFilterForm(forms.Form):
    q = forms.CharField(label=_("検索（文書番号・件名・簿冊名）"), required=False, max_length=100)
    department = forms.ModelChoiceField(
        label=_("所属"), queryset=Department.objects.filter(level="ka"), required=False
    )
    fiscal_year = forms.IntegerField(
        label=_("年度（西暦）"), required=False, min_value=1900, max_value=2999
    )
    classification = forms.CharField(label=_("分類コード"), required=False, max_length=20)
    status = forms.ChoiceField(
        label=_("状態"), choices=[("", _("すべて")), *RecordFile.Status.choices], required=False
    )
    held = forms.BooleanField(label=_("延長事由があるものだけ"), required=False)


class HoldForm(forms.Form):
    kind = forms.ChoiceField(label=_("種別"), choices=Hold.Kind.choices)
    reference = forms.CharField(label=_("請求番号・事件番号等"), max_length=100, required=False)
    reason = forms.CharField(label=_("理由"), max_length=300)
    started_on = forms.DateField(label=_("開始日"), widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(
        label=_("期限（業務上の必要のとき）"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    records = forms.ModelMultipleChoiceField(
        label=_("対象の公文書"),
        queryset=Record.objects.none(),
        widget=forms.CheckboxSelectMultiple,
    )

    def __init__(self, *args, record_ids: list[int], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["records"].queryset = Record.objects.filter(
            pk__in=record_ids, file__isnull=False
        ).select_related("file")
        self.fields["records"].initial = record_ids


class FileCompleteForm(forms.Form):
    completed_on = forms.DateField(
        label=_("完結日"), widget=forms.DateInput(attrs={"type": "date"})
    )


class FileUpdateForm(forms.Form):
    """The fields records.files.file_update accepts (EDITABLE_FILE_FIELDS)."""

    name = forms.CharField(label=_("名称"), max_length=300)
    creator_post = forms.CharField(
        label=_("作成・取得者（職名）"), max_length=100, help_text=_("例: 財政課長")
    )
    manager_post = forms.CharField(label=_("管理者（職名）"), max_length=100)
    medium = forms.ChoiceField(label=_("媒体"), choices=RecordFile.Medium.choices)
    location = forms.CharField(label=_("保存場所"), max_length=200)
    remarks = forms.CharField(label=_("備考"), max_length=300, required=False)

    @classmethod
    def for_file(cls, file: RecordFile) -> FileUpdateForm:
        return cls(initial={k: getattr(file, k) for k in services.EDITABLE_FILE_FIELDS})


class FileExtendForm(forms.Form):
    reason = forms.CharField(label=_("延長の理由"), max_length=300)


class HoldDateForm(forms.Form):
    day = forms.DateField(label=_("日付"), widget=forms.DateInput(attrs={"type": "date"}))


class ReceiptForm(forms.Form):
    department = forms.ModelChoiceField(
        label=_("収受課"), queryset=Department.objects.filter(level="ka")
    )
    received_on = forms.DateField(label=_("収受日"), widget=forms.DateInput(attrs={"type": "date"}))
    sender = forms.CharField(label=_("差出人"), max_length=200)
    title = forms.CharField(label=_("件名"), max_length=300)
    document_date = forms.DateField(
        label=_("文書の日付"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    classification = forms.ModelChoiceField(
        label=_("文書分類（小分類）"),
        queryset=Classification.objects.filter(level=3).select_related("schedule"),
        required=False,
    )
    confidential = forms.BooleanField(label=_("秘"), required=False)
    upload = forms.FileField(label=_("ファイル（PDF）"))


# --- views ----------------------------------------------------------------------------


@require_http_methods(["GET"])
def file_list(request: HttpRequest) -> HttpResponse:
    """簿冊の一覧: filters, and a search that finds records by number or title words."""
    _officer(request)
    form = FileFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    q = filters.get("q", "")
    page = Paginator(
        files_for_officers(
            department=filters.get("department"),
            fiscal_year=filters.get("fiscal_year"),
            classification=filters.get("classification", ""),
            status=filters.get("status", ""),
            held=filters.get("held", False),
            q=q,
        ),
        PAGE_SIZE,
    ).get_page(request.GET.get("page"))
    matches = list(records_matching(q)[:PAGE_SIZE]) if q.strip() else []
    return render(
        request,
        "records/files/file_list.html",
        {"form": form, "page": page, "q": q, "matches": matches},
    )


@require_http_methods(["GET"])
def file_detail(request: HttpRequest, pk: int) -> HttpResponse:
    _officer(request)
    file = get_object_or_404(
        RecordFile.objects.select_related("department", "classification__parent__parent"), pk=pk
    )
    holds = list(file.holds.order_by("-started_on", "-pk"))
    end = retention.effective_end(file, holds) if file.completed_on else None
    first = retention.first_disposal_day(file, holds) if file.completed_on else None
    return render(
        request,
        "records/files/file_detail.html",
        {
            "file": file,
            "records": list(file.records.select_related("department").order_by("created_at")),
            "holds": [(h, _both(h.keeps_until)) for h in holds],
            "completed_on": _both(file.completed_on),
            "start": _both(file.start_date),
            "period_end": _both(file.period_end),
            "effective_end": _both(end),
            "first_disposal_day": _both(first),
            "date_form": HoldDateForm(),
            "complete_form": FileCompleteForm(initial={"completed_on": today()}),
            "update_form": FileUpdateForm.for_file(file),
            "extend_form": FileExtendForm(),
            "extendable": file.status == RecordFile.Status.CLOSED
            and file.retention != Retention.PERMANENT,
        },
    )


# --- file actions (POST-only) --------------------------------------------------------

# Every stored column of a file: a POST naming one that file_update does not accept is
# passed on, so the service (the one place that knows the rule) refuses it with its message.
_FILE_COLUMNS = frozenset(f.name for f in RecordFile._meta.concrete_fields) - {"id"}


def _form_errors(request: HttpRequest, form: forms.Form) -> None:
    for name, errors in form.errors.items():
        label = form.fields[name].label if name in form.fields else ""
        for error in errors:
            messages.error(request, f"{label}: {error}" if label else str(error))


def _validation_message(exc: ValidationError) -> str:
    if hasattr(exc, "message_dict"):
        parts = [
            f"{RecordFile._meta.get_field(k).verbose_name}: {' '.join(v)}"
            if k in _FILE_COLUMNS
            else " ".join(v)
            for k, v in exc.message_dict.items()
        ]
    else:
        parts = list(exc.messages)
    return str(_("入力内容を確認してください。")) + " " + " / ".join(parts)


@require_POST
def file_complete_view(request: HttpRequest, pk: int) -> HttpResponse:
    """完結: close the file on the given day; its 起算日 and 満了日 follow."""
    _officer(request)
    file = get_object_or_404(RecordFile, pk=pk)
    form = FileCompleteForm(request.POST)
    if not form.is_valid():
        messages.error(
            request, _("完結日を正しく入力してください。 (Give a valid completion date.)")
        )
        return redirect("records:file_detail", file.pk)
    try:
        file = services.file_complete(
            file=file, completed_on=form.cleaned_data["completed_on"], actor=request.user
        )
    except services.RecordsError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            _("完結しました。起算日 %(start)s、保存期間満了日 %(end)s。")
            % {
                "start": wareki(file.start_date) if file.start_date else "—",
                "end": wareki(file.period_end) if file.period_end else _("なし（永年）"),
            },
        )
    return redirect("records:file_detail", file.pk)


@require_POST
def file_update_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Edit a file's description; the service refuses anything that is not metadata."""
    _officer(request)
    file = get_object_or_404(RecordFile, pk=pk)
    form = FileUpdateForm(request.POST)
    if not form.is_valid():
        _form_errors(request, form)
        return redirect("records:file_detail", file.pk)
    others = {
        k: request.POST[k]
        for k in request.POST
        if k in _FILE_COLUMNS and k not in services.EDITABLE_FILE_FIELDS
    }
    try:
        services.file_update(file=file, actor=request.user, **form.cleaned_data, **others)
    except services.RecordsError as exc:
        messages.error(request, exc.message)
    except ValidationError as exc:
        messages.error(request, _validation_message(exc))
    else:
        messages.success(request, _("簿冊の情報を更新しました。"))
    return redirect("records:file_detail", file.pk)


@require_POST
def file_extend_view(request: HttpRequest, pk: int) -> HttpResponse:
    """延長 by one year with a reason (records.disposal.file_extend): records officers,
    and the file's own 課長 — who cannot see the officers' pages, so goes back to the
    disposal candidate list. Anyone else: 404."""
    file = get_object_or_404(RecordFile, pk=pk)
    if not disposal.can_extend(file=file, staff=request.user):
        raise Http404
    form = FileExtendForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("延長の理由を入力してください。 (Give a reason.)"))
    else:
        try:
            disposal.file_extend(file=file, actor=request.user, reason=form.cleaned_data["reason"])
        except WorkflowError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("1年延長しました: %(file)s") % {"file": file})
    if is_records_officer(request.user):
        return redirect("records:file_detail", file.pk)
    return redirect("records:disposal_candidates")


@require_http_methods(["GET", "POST"])
def hold_new(request: HttpRequest) -> HttpResponse:
    """Register a hold (e.g. a disclosure request) on the selected records' files."""
    _officer(request)
    source = request.POST if request.method == "POST" else request.GET
    record_ids = [int(v) for v in source.getlist("records") if v.isdigit()][:500]
    form = HoldForm(request.POST or None, record_ids=record_ids)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            hold = services.hold_register(
                kind=data["kind"],
                reason=data["reason"],
                reference=data["reference"],
                started_on=data["started_on"],
                until=data["until"],
                records=list(data["records"]),
                actor=request.user,
            )
        except services.RecordsError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(
                request, _("延長事由を登録しました（簿冊 %(n)d 件）。") % {"n": hold.files.count()}
            )
            return redirect("records:file_list")
    return render(request, "records/files/hold_form.html", {"form": form})


@require_POST
def hold_change(request: HttpRequest, pk: int, what: str) -> HttpResponse:
    """Record a hold's decision date (開示決定・裁決) or its end (監査・訴訟の終結)."""
    _officer(request)
    hold = get_object_or_404(Hold, pk=pk)
    form = HoldDateForm(request.POST)
    back = request.POST.get("file", "")
    if form.is_valid():
        try:
            if what == "decide":
                services.hold_decide(
                    hold=hold, decided_on=form.cleaned_data["day"], actor=request.user
                )
            else:
                services.hold_end(hold=hold, ended_on=form.cleaned_data["day"], actor=request.user)
        except services.RecordsError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("延長事由を更新しました。"))
    else:
        messages.error(request, _("日付を入力してください。"))
    if back.isdigit():
        return redirect("records:file_detail", int(back))
    return redirect("records:file_list")


@require_http_methods(["GET", "POST"])
def receipt_new(request: HttpRequest) -> HttpResponse:
    """収受: register a received document (upload) with its 収受番号."""
    _officer(request)
    form = ReceiptForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            received = services.receipt_register(actor=request.user, **data)
        except services.RecordsError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(
                request, _("収受しました: %(number)s") % {"number": received.receipt_number}
            )
            return redirect(received.get_absolute_url())
    return render(request, "records/files/receipt_form.html", {"form": form})
