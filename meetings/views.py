"""Meeting pages and the page-image endpoint."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.http import require_GET

from .models import MaterialVersion, Meeting, Page, ViewerPage
from .services import can_attend


def _meeting_for(request: HttpRequest, pk: int) -> Meeting:
    meeting = get_object_or_404(Meeting, pk=pk)
    if not can_attend(request.user, meeting):
        raise Http404
    return meeting


@login_required
def meeting_detail(request: HttpRequest, pk: int) -> HttpResponse:
    _meeting_for(request, pk)
    raise Http404


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
    response = FileResponse(default_storage.open(name, "rb"), content_type="image/jpeg")
    response["Cache-Control"] = cache
    response["X-Content-Type-Options"] = "nosniff"
    return response
