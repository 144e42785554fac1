"""Meeting pages: my meetings, the meeting with its agenda, materials (render progress for
the organiser), participants and minutes; the forms of the organiser's side; the
original-PDF and minutes downloads; and the page-image endpoint the tablets use.

Each view parses its input, checks that the person may see the meeting (else 404, so
its existence is not revealed) and, for the organiser's side, may manage it (else 403),
calls one service and maps a domain error to a message (Japanese, then English) — never
a 500. Upload refusals (`validation.MaterialRefused`) are shown at the file field and
nothing is saved.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.files.storage import default_storage
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from org.models import Staff
from records.files import RecordsError
from workflow.errors import WorkflowError

from . import services
from .forms import (
    AgendaItemForm,
    MaterialForm,
    MeetingForm,
    MinutesForm,
    ParticipantsForm,
    ReplaceForm,
)
from .models import Material, MaterialVersion, Meeting, Page, ViewerPage
from .records import minutes_file
from .selectors import (
    can_manage,
    materials_of,
    meeting_visible_to,
    meetings_of,
    minutes_of,
    original_downloadable,
    participants_of,
    rendering_in_progress,
)
from .services import can_attend
from .validation import MaterialRefused

PAGE_SIZE = 30
OPEN = (Meeting.Status.PUBLISHED, Meeting.Status.IN_SESSION)


# --- helpers ---------------------------------------------------------------------------


def _meeting_for(request: HttpRequest, pk: int) -> Meeting:
    """For the page images: a participant whose access has not ended."""
    meeting = get_object_or_404(Meeting, pk=pk)
    if not can_attend(request.user, meeting):
        raise Http404
    return meeting


def _meeting(request: HttpRequest, pk: int) -> Meeting:
    meeting = get_object_or_404(
        Meeting.objects.select_related("department", "organiser", "chair", "classification"),
        pk=pk,
    )
    if not meeting_visible_to(meeting=meeting, staff=request.user):
        raise Http404
    return meeting


def _managed(request: HttpRequest, pk: int) -> Meeting:
    """The organiser's side: 404 for non-participants, 403 for participants who do not
    present (members and observers)."""
    meeting = _meeting(request, pk)
    if not can_manage(meeting=meeting, staff=request.user):
        raise PermissionDenied
    return meeting


def _to_detail(meeting: Meeting, anchor: str = "") -> HttpResponseRedirect:
    response = redirect("meetings:meeting", pk=meeting.pk)
    if anchor:
        response["Location"] += f"#{anchor}"
    return response


def _form_error_message(form: Any) -> str:
    parts = []
    for name, errors in form.errors.items():
        label = form.fields[name].label if name in form.fields else ""
        text = " ".join(str(e) for e in errors)
        parts.append(f"{label}: {text}" if label else text)
    return " ".join(parts)


def _run(request: HttpRequest, success: str, call: Callable[[], Any]) -> bool:
    """Call one service; a domain error becomes an error message, never a 500."""
    try:
        call()
    except (WorkflowError, RecordsError) as err:
        messages.error(request, err.message)
        return False
    if success:
        messages.success(request, success)
    return True


def _actions(meeting: Meeting, manage: bool, minutes: Any) -> dict[str, bool]:
    """What the organiser's side may do now (the services check again)."""
    status = meeting.status
    filed = minutes is not None and minutes.record_id is not None
    return {
        "edit": manage and status != Meeting.Status.CLOSED,
        "publish": manage and status == Meeting.Status.DRAFT,
        "start": manage and status == Meeting.Status.PUBLISHED,
        "close": manage and status in OPEN,
        "minutes": manage
        and status in (Meeting.Status.IN_SESSION, Meeting.Status.CLOSED)
        and not filed,
        "file": manage
        and status == Meeting.Status.CLOSED
        and meeting.classification_id is not None
        and minutes is not None
        and not filed,
    }


# --- my meetings and the meeting -------------------------------------------------------


@require_GET
def meeting_list(request: HttpRequest) -> HttpResponse:
    """自分の会議: those I organise or take part in, upcoming first, then past."""
    mine = meetings_of(staff=request.user)
    past = Paginator(mine.past, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "meetings/meeting_list.html",
        {"upcoming": list(mine.upcoming), "past": past},
    )


@require_http_methods(["GET", "POST"])
def meeting_new(request: HttpRequest) -> HttpResponse:
    form = MeetingForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            meeting = services.meeting_create(actor=request.user, **form.create_arguments())
        except WorkflowError as err:
            messages.error(request, err.message)
        else:
            messages.success(
                request, _("会議を作成しました。議題・資料・参加者を登録して公開してください。")
            )
            return _to_detail(meeting)
    return render(request, "meetings/meeting_form.html", {"form": form, "meeting": None})


@require_http_methods(["GET", "POST"])
def meeting_edit(request: HttpRequest, pk: int) -> HttpResponse:
    meeting = _managed(request, pk)
    if meeting.status == Meeting.Status.CLOSED:
        messages.error(request, _("終了した会議は変更できません。"))
        return _to_detail(meeting)
    form = MeetingForm(request.POST if request.method == "POST" else None, meeting=meeting)
    if request.method == "POST" and form.is_valid():
        changes = form.changes()
        if not changes:
            messages.info(request, _("変更はありません。"))
            return _to_detail(meeting)
        if _run(
            request,
            _("変更を保存しました。"),
            lambda: services.meeting_update(meeting=meeting, actor=request.user, **changes),
        ):
            return _to_detail(meeting)
    return render(request, "meetings/meeting_form.html", {"form": form, "meeting": meeting})


@require_GET
def meeting_detail(request: HttpRequest, pk: int) -> HttpResponse:
    meeting = _meeting(request, pk)
    manage = can_manage(meeting=meeting, staff=request.user)
    materials = materials_of(meeting=meeting)
    minutes = minutes_of(meeting=meeting)
    if not manage:
        # Revoked material is gone from the members' view, as from their tablets.
        materials = [m for m in materials if not m.is_revoked]
    for material in materials:
        material.downloadable = original_downloadable(meeting=meeting, material=material)
    context = {
        "meeting": meeting,
        "manage": manage,
        "agenda": list(meeting.agenda.select_related("presenter").order_by("position")),
        "materials": materials,
        "polling": manage
        and meeting.status != Meeting.Status.DRAFT
        and rendering_in_progress(materials),
        "participants": list(participants_of(meeting=meeting)),
        "minutes": minutes,
        "actions": _actions(meeting, manage, minutes),
        "agenda_form": AgendaItemForm(auto_id="id_agenda_%s") if manage else None,
    }
    return render(request, "meetings/meeting_detail.html", context)


@require_POST
def meeting_publish(request: HttpRequest, pk: int) -> HttpResponse:
    meeting = _managed(request, pk)
    _run(
        request,
        _("公開しました。参加者に表示され、資料のページ画像を作成しています。"),
        lambda: services.meeting_publish(meeting=meeting, actor=request.user),
    )
    return _to_detail(meeting)


@require_POST
def meeting_start(request: HttpRequest, pk: int) -> HttpResponse:
    meeting = _managed(request, pk)
    _run(
        request,
        _("会議を開始しました。"),
        lambda: services.meeting_start(meeting=meeting, actor=request.user),
    )
    return _to_detail(meeting)


@require_POST
def meeting_close(request: HttpRequest, pk: int) -> HttpResponse:
    meeting = _managed(request, pk)
    _run(
        request,
        _("会議を終了しました。"),
        lambda: services.meeting_close(meeting=meeting, actor=request.user),
    )
    return _to_detail(meeting)


# --- participants and agenda -------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def participants(request: HttpRequest, pk: int) -> HttpResponse:
    meeting = _managed(request, pk)
    form = ParticipantsForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            added = services.participants_add(
                meeting=meeting,
                actor=request.user,
                staff=data["people"],
                departments=data["departments"],
                groups=data["groups"],
                role=data["role"],
            )
        except WorkflowError as err:
            messages.error(request, err.message)
        else:
            if added:
                messages.success(request, _("%(n)d 人を参加者に加えました。") % {"n": added})
            else:
                messages.info(request, _("新しく加わった人はいません（全員が参加者です）。"))
            return redirect("meetings:participants", pk=meeting.pk)
    context = {
        "meeting": meeting,
        "participants": list(participants_of(meeting=meeting)),
        "form": form,
        "closed": meeting.status == Meeting.Status.CLOSED,
    }
    return render(request, "meetings/participants.html", context)


@require_POST
def participant_remove(request: HttpRequest, pk: int, staff_pk: int) -> HttpResponse:
    meeting = _managed(request, pk)
    staff = get_object_or_404(Staff, pk=staff_pk)
    _run(
        request,
        _("%(name)s さんを参加者から外しました。") % {"name": staff.display_name},
        lambda: services.participant_remove(meeting=meeting, actor=request.user, staff=staff),
    )
    return redirect("meetings:participants", pk=meeting.pk)


@require_POST
def agenda_add(request: HttpRequest, pk: int) -> HttpResponse:
    meeting = _managed(request, pk)
    form = AgendaItemForm(request.POST)
    if not form.is_valid():
        messages.error(request, _form_error_message(form))
    else:
        _run(
            request,
            _("議題を追加しました。"),
            lambda: services.agenda_item_add(
                meeting=meeting,
                actor=request.user,
                title=form.cleaned_data["title"],
                presenter=form.cleaned_data["presenter"],
            ),
        )
    return _to_detail(meeting, "agenda")


# --- materials -----------------------------------------------------------------------------


def _material(meeting: Meeting, material_pk: int) -> Material:
    return get_object_or_404(
        Material.objects.select_related("current_version"), pk=material_pk, meeting=meeting
    )


def _refused(form: Any, err: WorkflowError) -> None:
    """Show a refusal where it belongs: an upload's at the file field."""
    form.add_error("file" if isinstance(err, MaterialRefused) else None, err.message)


def _material_page(
    request: HttpRequest, meeting: Meeting, form: Any, material: Material | None
) -> HttpResponse:
    context = {
        "meeting": meeting,
        "form": form,
        "material": material,
        "max_mb": settings.MEETINGS_MAX_UPLOAD_BYTES // (1024 * 1024),
        "max_pages": settings.MEETINGS_MAX_PAGES,
    }
    return render(request, "meetings/material_form.html", context)


@require_http_methods(["GET", "POST"])
def material_add(request: HttpRequest, pk: int) -> HttpResponse:
    meeting = _managed(request, pk)
    if meeting.status == Meeting.Status.CLOSED:
        messages.error(request, _("終了した会議は変更できません。"))
        return _to_detail(meeting, "materials")
    post = request.method == "POST"
    form = MaterialForm(
        request.POST if post else None, request.FILES if post else None, meeting=meeting
    )
    if post and form.is_valid():
        data = form.cleaned_data
        try:
            material = services.material_add(
                meeting=meeting,
                actor=request.user,
                title=data["title"],
                upload=data["file"],
                agenda_item=data["agenda_item"],
                confidential=None if meeting.confidential else data["confidential"],
            )
        except WorkflowError as err:
            _refused(form, err)
        else:
            messages.success(
                request, _("資料「%(title)s」を登録しました。") % {"title": material.title}
            )
            return _to_detail(meeting, "materials")
    return _material_page(request, meeting, form, None)


@require_http_methods(["GET", "POST"])
def material_replace(request: HttpRequest, pk: int, material_pk: int) -> HttpResponse:
    meeting = _managed(request, pk)
    material = _material(meeting, material_pk)
    if meeting.status == Meeting.Status.CLOSED or material.is_revoked:
        messages.error(request, _("終了した会議の資料や回収した資料は差し替えられません。"))
        return _to_detail(meeting, "materials")
    post = request.method == "POST"
    form = ReplaceForm(request.POST if post else None, request.FILES if post else None)
    if post and form.is_valid():
        try:
            version = services.material_replace(
                material=material, actor=request.user, upload=form.cleaned_data["file"]
            )
        except WorkflowError as err:
            _refused(form, err)
        else:
            if meeting.status == Meeting.Status.DRAFT:
                text = _("第%(n)d版に差し替えました。")
            else:
                text = _(
                    "第%(n)d版を登録しました。ページ画像ができると参加者の表示が切り替わります。"
                )
            messages.success(request, text % {"n": version.number})
            return _to_detail(meeting, "materials")
    return _material_page(request, meeting, form, material)


@require_POST
def material_revoke(request: HttpRequest, pk: int, material_pk: int) -> HttpResponse:
    meeting = _managed(request, pk)
    material = _material(meeting, material_pk)
    _run(
        request,
        _("資料「%(title)s」を回収しました。参加者の画面から消えます。")
        % {"title": material.title},
        lambda: services.material_revoke(material=material, actor=request.user),
    )
    return _to_detail(meeting, "materials")


@require_GET
def materials_progress(request: HttpRequest, pk: int) -> HttpResponse:
    """The materials table alone; htmx replaces it every 2 s while pages are rendered."""
    meeting = _managed(request, pk)
    materials = materials_of(meeting=meeting)
    for material in materials:
        material.downloadable = original_downloadable(meeting=meeting, material=material)
    context = {
        "meeting": meeting,
        "manage": True,
        "materials": materials,
        "polling": meeting.status != Meeting.Status.DRAFT and rendering_in_progress(materials),
    }
    return render(request, "meetings/_materials.html", context)


def _download(handle: Any, name: str, content_type: str) -> FileResponse:
    response = FileResponse(handle, as_attachment=True, filename=name, content_type=content_type)
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


@require_GET
def material_original(request: HttpRequest, pk: int, material_pk: int) -> FileResponse:
    """原本: only where `selectors.original_downloadable` says so; 404 otherwise."""
    meeting = _meeting(request, pk)
    material = _material(meeting, material_pk)
    if not original_downloadable(meeting=meeting, material=material):
        raise Http404
    version = material.current_version
    if not version.file or not default_storage.exists(version.file.name):
        raise Http404
    return _download(version.file.open("rb"), version.original_name, version.content_type)


# --- minutes --------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def minutes_edit(request: HttpRequest, pk: int) -> HttpResponse:
    meeting = _managed(request, pk)
    minutes = minutes_of(meeting=meeting)
    if not _actions(meeting, True, minutes)["minutes"]:
        if minutes is not None and minutes.record_id:
            messages.error(request, _("議事録は公文書として登録済みのため変更できません。"))
        else:
            messages.error(request, _("議事録は会議の開始後に登録します。"))
        return _to_detail(meeting, "minutes")
    post = request.method == "POST"
    form = MinutesForm(
        request.POST if post else None,
        request.FILES if post else None,
        initial={"text": minutes.text if minutes else ""},
    )
    if post and form.is_valid():
        try:
            services.minutes_save(
                meeting=meeting,
                actor=request.user,
                text=form.cleaned_data["text"],
                upload=form.cleaned_data["file"] or None,
            )
        except WorkflowError as err:
            _refused(form, err)
        else:
            messages.success(request, _("議事録を保存しました。"))
            return _to_detail(meeting, "minutes")
    return render(
        request,
        "meetings/minutes_form.html",
        {"meeting": meeting, "form": form, "minutes": minutes},
    )


@require_GET
def minutes_pdf(request: HttpRequest, pk: int) -> FileResponse:
    meeting = _meeting(request, pk)
    minutes = minutes_of(meeting=meeting)
    if minutes is None or not minutes.file or not default_storage.exists(minutes.file.name):
        raise Http404
    name = minutes.original_name or f"{meeting.title} 議事録.pdf"
    return _download(minutes.file.open("rb"), name, "application/pdf")


@require_POST
def minutes_file_view(request: HttpRequest, pk: int) -> HttpResponse:
    """公文書として登録: the closed meeting's minutes become a record in its 簿冊."""
    meeting = _managed(request, pk)
    _run(
        request,
        _("議事録を公文書として登録しました。署名付きPDFは数分で作成されます。"),
        lambda: minutes_file(meeting=meeting, actor=request.user),
    )
    return _to_detail(meeting, "minutes")


# --- page images (the tablets) ---------------------------------------------------------------


@require_GET
@login_required
def page_image(request: HttpRequest, pk: int, version_pk: int, number: int) -> FileResponse:
    """A page image, re-checking on every request: the person is a participant (and the
    meeting's access has not ended), the material belongs to the meeting, is not revoked
    and the meeting is published. Confidential pages are the person's own watermarked
    image, never cached. `?z=2` asks for the 2× image."""
    meeting = _meeting_for(request, pk)
    if meeting.status == Meeting.Status.DRAFT:
        raise Http404
    version = get_object_or_404(
        MaterialVersion.objects.select_related("material"), pk=version_pk, material__meeting=meeting
    )
    material = version.material
    if material.is_revoked or version.render_status != MaterialVersion.RenderStatus.DONE:
        raise Http404
    page = get_object_or_404(Page, version=version, number=number)
    zoom = request.GET.get("z") == "2"
    if material.confidential:
        own = ViewerPage.objects.filter(page=page, viewer=request.user).first()
        if own is None:
            raise Http404
        name = own.image_2x if zoom else own.image
        cache = "private, no-store"
    else:
        name = page.image_2x if zoom else page.image
        # Revalidated on every view, so a revoked material is not shown from a cache.
        cache = "private, no-cache"
    if not name or not default_storage.exists(name):
        raise Http404
    # A page image is small (≈ 100–400 KB): read it whole rather than stream a file,
    # which under ASGI would be iterated synchronously.
    with default_storage.open(name, "rb") as handle:
        response = HttpResponse(handle.read(), content_type="image/jpeg")
    response["Cache-Control"] = cache
    response["X-Content-Type-Options"] = "nosniff"
    return response
