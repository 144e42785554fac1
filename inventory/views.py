"""The inventory pages. Reading is open to every signed-in member of staff (the ranking
is meant to be transparent); writing — procedures, processes, counts, weights, paper
decisions, imports, priority proposals — is for the DX office (role dx_office) and
administrators, others get 403. Deciding is for the head of the DX office through the
workflow engine. Each view parses, calls one service or selector, and maps a
`WorkflowError` to a message (Japanese, then English); bad input never gives a 500.
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
from pathlib import Path
from typing import Any

from django.contrib import messages
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    StreamingHttpResponse,
)
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from common.dates import fiscal_year, today
from workflow.errors import WorkflowError
from workflow.models import Route, Step
from workflow.selectors import routes_of
from workflow.services import acting_mode, step_reject, step_return
from workflow.views import action_label, client_request_id, new_request_id

from . import charts, exchange
from .forms import (
    DecisionForm,
    FiscalYearForm,
    FlowForm,
    ImportForm,
    PaperCountForm,
    ProcedureFilterForm,
    ProcedureForm,
    ProcessForm,
    ReasonForm,
    VolumeForm,
    WeightsForm,
    WhatIfForm,
)
from .measured import measure, measured_by_source
from .models import (
    BusinessProcess,
    PaperDecisionCount,
    PriorityDecision,
    PriorityWeights,
    Procedure,
    ProcessFlow,
)
from .scoring import Inputs, Quadrant, score
from .selectors import (
    current_weights,
    dashboard,
    procedure_list,
    ranking,
    reference_fiscal_year,
)
from .services import (
    can_edit,
    decision_propose,
    decision_withdraw,
    flow_add,
    paper_count_set,
    procedure_create,
    procedure_update,
    process_save,
    volume_set,
    weights_new_version,
)
from .templatetags.inventory_tags import num, pct

PAGE_SIZE = 50
MATRIX_POINTS = 300
MAX_IMPORT_BYTES = 20 * 1024 * 1024


def _editor(request: HttpRequest) -> None:
    if not can_edit(request.user):
        raise PermissionDenied(
            _("この操作はDX推進担当だけが行えます。 (Only the DX office may do this.)")
        )


def _form_errors(form: Any) -> str:
    parts = []
    for name, errors in form.errors.items():
        label = form.fields[name].label if name in form.fields else ""
        text = " ".join(str(e) for e in errors)
        parts.append(f"{label}: {text}" if label else text)
    return " ".join(parts)


def _fy_param(request: HttpRequest) -> int | None:
    form = FiscalYearForm(request.GET or None)
    if form.is_bound and form.is_valid():
        return form.cleaned_data["fiscal_year"]
    return None


def _ctx(request: HttpRequest, **extra: Any) -> dict[str, Any]:
    return {"can_edit": can_edit(request.user), **extra}


# --- dashboard ---------------------------------------------------------------------------


@require_GET
def dashboard_view(request: HttpRequest) -> HttpResponse:
    board = dashboard(fiscal_year_=_fy_param(request))
    departments = [d for d in board.departments if d.procedures.denominator]
    fy = board.fiscal_year

    def hbar(chart_id: str, title: str, attr: str) -> Any:
        bars = [
            charts.Bar(d.name, getattr(d, attr).share, getattr(d, attr).percent)
            for d in departments
        ]
        desc = _("所管課ごとの割合（%(fy)s年度）。数値は下の表にもあります。") % {"fy": fy}
        return charts.hbar_chart(chart_id, title, desc, bars, maximum=1.0)

    years = board.years
    year_desc = _("年度ごとの推移。数値は右の表にもあります。")
    context = _ctx(
        request,
        board=board,
        departments=departments,
        chart_online=hbar("chart-online", _("所管課別 オンライン化率"), "procedures"),
        chart_usage=hbar("chart-usage", _("所管課別 オンライン利用率"), "cases"),
        chart_years_usage=charts.vbar_chart(
            "chart-years-usage",
            _("オンライン利用率の推移"),
            year_desc,
            [charts.Bar(f"{y.fiscal_year}", y.cases.share, y.cases.percent) for y in years],
            maximum=1.0,
        ),
        chart_years_hours=charts.vbar_chart(
            "chart-years-hours",
            _("削減時間の推移（時間/年）"),
            year_desc,
            [charts.Bar(f"{y.fiscal_year}", y.hours_saved, num(y.hours_saved, 0)) for y in years],
        ),
        chart_years_decisions=charts.vbar_chart(
            "chart-years-decisions",
            _("電子決裁率の推移"),
            year_desc,
            [charts.Bar(f"{y.fiscal_year}", y.decisions.share, y.decisions.percent) for y in years],
            maximum=1.0,
        ),
    )
    return render(request, "inventory/dashboard.html", context)


# --- procedures --------------------------------------------------------------------------


@require_GET
def procedure_list_view(request: HttpRequest) -> HttpResponse:
    form = ProcedureFilterForm(request.GET or None)
    filters: dict[str, Any] = {}
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        filters = {
            "q": data["q"].strip(),
            "department": data["department"],
            "online_status": data["online_status"],
            "national": data["national"],
        }
    fy = reference_fiscal_year()
    page = Paginator(procedure_list(fiscal_year_=fy, **filters), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "inventory/procedure_list.html",
        _ctx(request, form=form, page=page, fiscal_year=fy),
    )


def _procedure(pk: int) -> Procedure:
    return get_object_or_404(
        Procedure.objects.select_related("department", "source_type", "source_category"), pk=pk
    )


@require_GET
def procedure_detail_view(request: HttpRequest, pk: int) -> HttpResponse:
    procedure = _procedure(pk)
    volumes = list(procedure.volumes.order_by("-fiscal_year"))
    fy = reference_fiscal_year()
    year_volume = next((v for v in volumes if v.fiscal_year == fy), None)
    weights = current_weights()
    result = score(Inputs.of(procedure, year_volume.total if year_volume else None), weights)
    measured = None
    if procedure.source_type_id:
        measured = measure(
            source=procedure.source_key,
            fiscal_year=_fy_param(request) or fiscal_year(today()),
            category_id=procedure.source_category_id,
        )
    decisions = list(
        procedure.decisions.select_related("proposed_by", "decided_by").order_by("-proposed_at")
    )
    return render(
        request,
        "inventory/procedure_detail.html",
        _ctx(
            request,
            procedure=procedure,
            volumes=volumes,
            fiscal_year=fy,
            year_volume=year_volume,
            result=result,
            measured=measured,
            decisions=decisions,
            processes=list(procedure.processes.order_by("number")),
            volume_form=VolumeForm(initial={"fiscal_year": fy}),
            decision_form=DecisionForm(),
        ),
    )


@require_http_methods(["GET", "POST"])
def procedure_new_view(request: HttpRequest) -> HttpResponse:
    _editor(request)
    form = ProcedureForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            procedure = procedure_create(actor=request.user, **form.cleaned_data)
        except WorkflowError as err:
            messages.error(request, err.message)
        else:
            messages.success(request, _("手続を登録しました。"))
            return redirect(procedure)
    return render(
        request, "inventory/procedure_form.html", _ctx(request, form=form, procedure=None)
    )


@require_http_methods(["GET", "POST"])
def procedure_edit_view(request: HttpRequest, pk: int) -> HttpResponse:
    _editor(request)
    procedure = _procedure(pk)
    form = ProcedureForm(request.POST if request.method == "POST" else None, instance=procedure)
    if request.method == "POST" and form.is_valid():
        changes = form.changes()
        if not changes:
            messages.info(request, _("変更はありません。"))
            return redirect(procedure)
        try:
            procedure_update(procedure=pk, actor=request.user, **changes)
        except WorkflowError as err:
            messages.error(request, err.message)
        else:
            messages.success(request, _("変更を保存しました。"))
            return redirect(procedure)
    return render(
        request, "inventory/procedure_form.html", _ctx(request, form=form, procedure=procedure)
    )


@require_POST
def volume_set_view(request: HttpRequest, pk: int) -> HttpResponse:
    _editor(request)
    procedure = _procedure(pk)
    form = VolumeForm(request.POST)
    if not form.is_valid():
        messages.error(request, _form_errors(form))
    else:
        try:
            volume_set(procedure=procedure, actor=request.user, **form.cleaned_data)
        except WorkflowError as err:
            messages.error(request, err.message)
        else:
            messages.success(request, _("件数を保存しました。"))
    return redirect(procedure)


@require_POST
def decision_propose_view(request: HttpRequest, pk: int) -> HttpResponse:
    _editor(request)
    procedure = _procedure(pk)
    form = DecisionForm(request.POST)
    if not form.is_valid():
        messages.error(request, _form_errors(form))
        return redirect(procedure)
    volume = procedure.volumes.filter(fiscal_year=reference_fiscal_year()).first()
    snapshot = score(Inputs.of(procedure, volume.total if volume else None), current_weights())
    try:
        decision = decision_propose(
            actor=request.user,
            procedure=procedure,
            rank=form.cleaned_data["rank"],
            reason=form.cleaned_data["reason"],
            score_snapshot=snapshot.snapshot(),
        )
    except WorkflowError as err:
        messages.error(request, err.message)
        return redirect(procedure)
    messages.success(request, _("優先順位の案をDX推進担当課長に回しました。"))
    return redirect(decision)


# --- ranking and what-if -----------------------------------------------------------------


@require_GET
def ranking_view(request: HttpRequest) -> HttpResponse:
    what_if = WhatIfForm(request.GET or None)
    overrides = what_if.overrides() if what_if.is_bound else {}
    weights = current_weights(overrides)
    base = current_weights() if overrides else weights
    fy = reference_fiscal_year()
    rows = ranking(weights=weights, fiscal_year_=fy)
    moved: dict[int, int] = {}
    if overrides:
        before = {r.procedure.pk: r.position for r in ranking(weights=base, fiscal_year_=fy)}
        moved = {r.procedure.pk: before[r.procedure.pk] - r.position for r in rows}
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    for r in page.object_list:
        r.moved = moved.get(r.procedure.pk, 0)
    labels = {k: Quadrant.label(k) for k in ("quick_win", "strategic", "batch", "defer")}
    counts = {k: 0 for k in labels}
    for r in rows:
        counts[r.score.quadrant] += 1
    points = [
        charts.Point(
            f"{r.position}. {r.procedure.name}"
            f"（{num(r.score.effect)}h / {num(r.score.difficulty, 2)}）",
            r.score.effect,
            r.score.difficulty,
            r.score.quadrant,
        )
        for r in rows[:MATRIX_POINTS]
    ]
    matrix = charts.matrix_chart(
        "chart-matrix",
        _("効果と難易度の4象限"),
        _(
            "横軸は効果（時間/年、対数目盛）、縦軸は難易度。優先度の高い%(n)s件を表示。"
            "境界は効果 %(e)s 時間、難易度 %(d)s。象限ごとの件数は下の表にあります。"
        )
        % {
            "n": len(points),
            "e": num(weights.effect_threshold, 0),
            "d": num(weights.difficulty_threshold, 1),
        },
        points,
        effect_threshold=weights.effect_threshold,
        difficulty_threshold=weights.difficulty_threshold,
        quadrant_labels=labels,
        x_label=_("効果（時間/年、対数目盛）"),
        y_label=_("難易度"),
    )
    context = _ctx(
        request,
        what_if=what_if,
        weights=weights,
        base=base,
        overrides=overrides,
        page=page,
        fiscal_year=fy,
        matrix=matrix,
        quadrants=[(labels[k], counts[k]) for k in labels],
        total=len(rows),
    )
    template = "inventory/_ranking_results.html" if request.htmx else "inventory/ranking.html"
    return render(request, template, context)


# --- decisions ---------------------------------------------------------------------------


def _decision(pk: int) -> PriorityDecision:
    return get_object_or_404(
        PriorityDecision.objects.select_related("procedure", "proposed_by", "decided_by"), pk=pk
    )


@require_GET
def decision_detail_view(request: HttpRequest, pk: int) -> HttpResponse:
    decision = _decision(pk)
    routes = list(routes_of(decision))
    actable = []
    current = routes[0] if routes else None
    if current is not None and current.is_open:
        for step in Step.objects.filter(route=current, status=Step.Status.PENDING).select_related(
            "route", "stage", "assignee"
        ):
            mode = acting_mode(step=step, actor=request.user)
            if mode is not None:
                actable.append(
                    {
                        "step": step,
                        "verb": action_label(step.stage.kind),
                        "deputy": mode == Step.Mode.DEPUTY,
                    }
                )
    can_withdraw = (
        current is not None
        and current.submitted_by_id == request.user.pk
        and current.status in (Route.Status.ACTIVE, Route.Status.RETURNED)
    )
    return render(
        request,
        "inventory/decision_detail.html",
        _ctx(
            request,
            decision=decision,
            routes=routes,
            actable=actable,
            can_withdraw=can_withdraw,
            reason_form=ReasonForm(),
            request_id=new_request_id(),
        ),
    )


@require_POST
def decision_step_view(request: HttpRequest, pk: int, step_pk: int, action: str) -> HttpResponse:
    decision = _decision(pk)
    step = get_object_or_404(
        Step.objects.select_related("route", "stage"),
        pk=step_pk,
        route__subject_type=ContentType.objects.get_for_model(PriorityDecision),
        route__subject_id=decision.pk,
    )
    form = ReasonForm(request.POST)
    if action not in ("return", "reject"):
        raise Http404
    if not form.is_valid():
        messages.error(request, _form_errors(form))
        return redirect(decision)
    service = step_return if action == "return" else step_reject
    try:
        service(
            step=step,
            actor=request.user,
            comment=form.cleaned_data["comment"],
            client_request_id=client_request_id(request),
        )
    except WorkflowError as err:
        messages.error(request, err.message)
    else:
        messages.success(
            request, _("差し戻しました。") if action == "return" else _("却下しました。")
        )
    return redirect(decision)


@require_POST
def decision_withdraw_view(request: HttpRequest, pk: int) -> HttpResponse:
    decision = _decision(pk)
    try:
        decision_withdraw(
            decision=decision, actor=request.user, comment=request.POST.get("comment", "")[:2000]
        )
    except WorkflowError as err:
        messages.error(request, err.message)
    else:
        messages.success(request, _("取り下げました。"))
    return redirect(decision)


# --- business processes ------------------------------------------------------------------


@require_GET
def process_list_view(request: HttpRequest) -> HttpResponse:
    processes = BusinessProcess.objects.select_related("department").order_by("number")
    page = Paginator(processes, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "inventory/process_list.html", _ctx(request, page=page))


def _process(pk: int) -> BusinessProcess:
    return get_object_or_404(
        BusinessProcess.objects.select_related("department", "source_type", "source_category"),
        pk=pk,
    )


@require_GET
def process_detail_view(request: HttpRequest, pk: int) -> HttpResponse:
    process = _process(pk)
    measured = None
    if process.source_type_id:
        measured = measure(
            source=process.source_key,
            fiscal_year=_fy_param(request) or fiscal_year(today()),
            category_id=process.source_category_id,
        )
    return render(
        request,
        "inventory/process_detail.html",
        _ctx(
            request,
            process=process,
            flows=list(process.flows.select_related("uploaded_by")),
            procedures=list(process.procedures.order_by("procedure_id")),
            measured=measured,
            flow_form=FlowForm(),
        ),
    )


@require_http_methods(["GET", "POST"])
def process_form_view(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    _editor(request)
    process = _process(pk) if pk is not None else None
    form = ProcessForm(request.POST if request.method == "POST" else None, instance=process)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        procedures = list(data.pop("procedures"))
        try:
            saved = process_save(actor=request.user, process=process, procedures=procedures, **data)
        except WorkflowError as err:
            messages.error(request, err.message)
        else:
            messages.success(request, _("業務を保存しました。"))
            return redirect(saved)
    return render(request, "inventory/process_form.html", _ctx(request, form=form, process=process))


@require_POST
def flow_upload_view(request: HttpRequest, pk: int) -> HttpResponse:
    _editor(request)
    process = _process(pk)
    form = FlowForm(request.POST, request.FILES)
    if not form.is_valid():
        messages.error(request, _form_errors(form))
        return redirect(process)
    try:
        flow_add(
            process=process,
            actor=request.user,
            kind=form.cleaned_data["kind"],
            upload=form.cleaned_data["file"],
        )
    except WorkflowError as err:
        messages.error(request, err.message)
    else:
        messages.success(request, _("業務フローを登録しました。"))
    return redirect(process)


@require_GET
def flow_download_view(request: HttpRequest, pk: int, flow_pk: int) -> FileResponse:
    flow = get_object_or_404(ProcessFlow, pk=flow_pk, process_id=pk)
    if not flow.file:
        raise Http404
    content_type = "application/xml" if flow.is_bpmn else "application/octet-stream"
    response = FileResponse(
        flow.file.open("rb"),
        as_attachment=True,
        filename=flow.original_name,
        content_type=content_type,
    )
    response["X-Content-Type-Options"] = "nosniff"
    return response


# --- measured ----------------------------------------------------------------------------


@require_GET
def measured_view(request: HttpRequest) -> HttpResponse:
    fy = _fy_param(request) or fiscal_year(today())
    return render(
        request,
        "inventory/measured.html",
        _ctx(request, rows=measured_by_source(fiscal_year=fy), fiscal_year=fy),
    )


# --- weights and paper decisions ---------------------------------------------------------


@require_http_methods(["GET", "POST"])
def weights_view(request: HttpRequest) -> HttpResponse:
    form = None
    if can_edit(request.user):
        form = WeightsForm(request.POST if request.method == "POST" else None)
    elif request.method == "POST":
        _editor(request)
    if request.method == "POST" and form is not None and form.is_valid():
        data = dict(form.cleaned_data)
        try:
            weights_new_version(
                actor=request.user,
                valid_from=data.pop("valid_from"),
                note=data.pop("note"),
                dx_department=data.pop("dx_department"),
                **data,
            )
        except WorkflowError as err:
            messages.error(request, err.message)
        else:
            messages.success(request, _("重みの新しい版を登録しました。"))
            return redirect("inventory:weights")
    versions = PriorityWeights.objects.select_related("dx_department", "created_by")
    return render(
        request,
        "inventory/weights.html",
        _ctx(request, form=form, versions=list(versions[:50]), in_force=current_weights()),
    )


@require_http_methods(["GET", "POST"])
def paper_view(request: HttpRequest) -> HttpResponse:
    form = None
    if can_edit(request.user):
        form = PaperCountForm(request.POST if request.method == "POST" else None)
    elif request.method == "POST":
        _editor(request)
    if request.method == "POST" and form is not None and form.is_valid():
        try:
            paper_count_set(actor=request.user, **form.cleaned_data)
        except WorkflowError as err:
            messages.error(request, err.message)
        else:
            messages.success(request, _("紙の決裁件数を保存しました。"))
            return redirect("inventory:paper")
    rows = PaperDecisionCount.objects.select_related("department").order_by(
        "-fiscal_year", "department__code"
    )
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "inventory/paper.html", _ctx(request, form=form, page=page))


# --- import and export -------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def import_view(request: HttpRequest) -> HttpResponse:
    _editor(request)
    form = ImportForm(request.POST or None, request.FILES or None)
    problems: list[exchange.Problem] = []
    result = None
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        suffix = Path(upload.name or "").suffix.lower()
        if upload.size > MAX_IMPORT_BYTES:
            messages.error(request, _("ファイルが大きすぎます（20 MB まで）。"))
        elif suffix not in (".xlsx", ".csv"):
            messages.error(
                request,
                _(
                    "対応していない形式です。.xlsx か .csv を指定してください。"
                    " (Use .xlsx or .csv.)"
                ),
            )
        else:
            fd, name = tempfile.mkstemp(suffix=suffix)
            try:
                with os.fdopen(fd, "wb") as out:
                    for chunk in upload.chunks():
                        out.write(chunk)
                raw = exchange.national_read(name)
                validated = exchange.national_validate(raw)
            except exchange.RosterFileError as err:
                messages.error(request, str(err))
                validated = None
            finally:
                with contextlib.suppress(OSError):
                    os.unlink(name)
            if validated is not None and not validated.ok:
                problems = validated.problems
                messages.error(
                    request,
                    _("%(n)s 件の問題があるため、何も取り込んでいません。") % {"n": len(problems)},
                )
            elif validated is not None:
                try:
                    result = exchange.national_import(actor=request.user, validated=validated)
                except WorkflowError as err:
                    messages.error(request, err.message)
                else:
                    messages.success(
                        request,
                        _("取り込みました: 新規 %(c)s 件、更新 %(u)s 件、件数 %(v)s 件")
                        % {"c": result.created, "u": result.updated, "v": result.volumes},
                    )
    elif request.method == "POST":
        messages.error(request, _form_errors(form))
    return render(
        request,
        "inventory/import.html",
        _ctx(
            request,
            form=form,
            problems=problems[:500],
            more=max(len(problems) - 500, 0),
            result=result,
            headers=exchange.HEADERS,
        ),
    )


def _xlsx_response(name: str, write: Any) -> HttpResponse:
    # In memory: the inventory is thousands of rows, not the registers' hundred thousands.
    out = io.BytesIO()
    write(out)
    response = HttpResponse(
        out.getvalue(),
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


def _csv_response(name: str, chunks: Any) -> StreamingHttpResponse:
    response = StreamingHttpResponse(chunks, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@require_GET
def export_national_view(request: HttpRequest, fmt: str) -> HttpResponse:
    fy = _fy_param(request) or reference_fiscal_year()
    if fmt == "xlsx":
        return _xlsx_response(
            f"tanaoroshi-{fy}.xlsx", lambda out: exchange.export_national_xlsx(out, fy)
        )
    return _csv_response(f"tanaoroshi-{fy}.csv", exchange.export_national_csv(fy))


@require_GET
def export_publication_view(request: HttpRequest, fmt: str) -> HttpResponse:
    fy = _fy_param(request) or reference_fiscal_year()
    if fmt == "xlsx":
        return _xlsx_response(
            f"online-{fy}.xlsx", lambda out: exchange.export_publication_xlsx(out, fy)
        )
    return _csv_response(f"online-{fy}.csv", exchange.export_publication_csv(fy))


@require_GET
def export_catalogue_view(request: HttpRequest, fmt: str) -> HttpResponse:
    if fmt == "json":
        response = HttpResponse(
            exchange.export_catalogue_json(), content_type="application/json; charset=utf-8"
        )
        response["Content-Disposition"] = 'attachment; filename="catalogue.json"'
        return response
    return _csv_response("catalogue.csv", exchange.export_catalogue_csv())


@require_GET
def exports_view(request: HttpRequest) -> HttpResponse:
    fy = reference_fiscal_year()
    rows = exchange.publication_rows(fy)[:20]
    return render(
        request,
        "inventory/exports.html",
        _ctx(
            request,
            fiscal_year=fy,
            sample=[(n, t, o, pct(s)) for n, t, o, s in rows],
        ),
    )
