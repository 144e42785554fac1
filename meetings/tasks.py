"""Background work for meetings: page images when a material is published or replaced,
per-viewer watermarked images for confidential ones, and the purge after the meeting.

Each task is safe to run again: a page already rendered is overwritten with the same
content, and progress (`render_done` of `render_total`) is written as it goes so the
organiser sees it.
"""

from __future__ import annotations

import logging

from django.core.files.storage import default_storage
from django.db.models import F
from django.utils import timezone

from common.tasks import retrying_task

from . import rendering
from .models import MaterialVersion, Page, Participant, ViewerPage

log = logging.getLogger(__name__)

PROGRESS_EVERY = 1


def _viewers(
    version: MaterialVersion, only: list[int] | None = None
) -> list[tuple[int, rendering.Viewer]]:
    meeting = version.material.meeting
    now = timezone.localtime()
    participants = Participant.objects.filter(meeting=meeting).select_related("staff")
    if only is not None:
        participants = participants.filter(staff_id__in=only)
    return [
        (
            p.staff_id,
            rendering.Viewer(p.staff.display_name, p.department_name, meeting.title, now),
        )
        for p in participants
    ]


def _paths(version: MaterialVersion) -> str:
    return f"meetings/{version.material.meeting_id}/pages/{version.pk}"


def _render(version: MaterialVersion, viewers: list[tuple[int, rendering.Viewer]] | None) -> None:
    """Render every page; `viewers` None = shared images, else one watermarked set each."""
    confidential = version.material.confidential
    with default_storage.open(version.file.name, "rb") as handle:
        source = handle.read()
    base = _paths(version)
    people = viewers or []
    total = version.page_count * (len(people) if confidential else 1)
    MaterialVersion.objects.filter(pk=version.pk).update(
        render_status=MaterialVersion.RenderStatus.RENDERING,
        render_done=0,
        render_total=total,
        render_error="",
    )
    done = 0
    for rendered in rendering.iter_pages(source, version.content_type):
        values = {
            "content_hash": rendered.content_hash,
            "width": rendered.width,
            "height": rendered.height,
            "image": "",
            "image_2x": "",
        }
        if not confidential:
            values["image"] = rendering.store(
                f"{base}/{rendered.number}.jpg", rendering.encode_jpeg(rendered.image_1x)
            )
            values["image_2x"] = rendering.store(
                f"{base}/{rendered.number}@2x.jpg", rendering.encode_jpeg(rendered.image_2x)
            )
            done += 1
        page, _ = Page.objects.update_or_create(
            version=version, number=rendered.number, defaults=values
        )
        if confidential:
            for staff_id, viewer in people:
                one = rendering.encode_jpeg(rendering.watermark(rendered.image_1x, viewer))
                two = rendering.encode_jpeg(rendering.watermark(rendered.image_2x, viewer))
                folder = f"{base}/v{staff_id}"
                ViewerPage.objects.update_or_create(
                    page=page,
                    viewer_id=staff_id,
                    defaults={
                        "image": rendering.store(f"{folder}/{rendered.number}.jpg", one),
                        "image_2x": rendering.store(f"{folder}/{rendered.number}@2x.jpg", two),
                    },
                )
                done += 1
        MaterialVersion.objects.filter(pk=version.pk).update(render_done=done)


@retrying_task(max_attempts=3, backoff_seconds=20)
def render_version(version_id: int) -> int:
    """Render a version's pages; then it becomes the material's current version."""
    from .services import version_ready

    version = (
        MaterialVersion.objects.select_related("material__meeting").filter(pk=version_id).first()
    )
    if version is None or version.material.is_revoked:
        return 0
    try:
        viewers = _viewers(version) if version.material.confidential else None
        _render(version, viewers)
    except Exception as exc:
        MaterialVersion.objects.filter(pk=version.pk).update(
            render_status=MaterialVersion.RenderStatus.FAILED,
            render_error=f"ページ画像を作れませんでした: {type(exc).__name__}"[:500],
        )
        raise
    MaterialVersion.objects.filter(pk=version.pk).update(
        render_status=MaterialVersion.RenderStatus.DONE, rendered_at=timezone.now()
    )
    version.refresh_from_db()
    version_ready(version)
    return version.page_count


@retrying_task(max_attempts=3, backoff_seconds=20)
def render_for_viewers(version_id: int, staff_ids: list[int]) -> int:
    """Watermarked images for people invited after a confidential version was rendered."""
    version = (
        MaterialVersion.objects.select_related("material__meeting").filter(pk=version_id).first()
    )
    if version is None or not version.material.confidential or version.material.is_revoked:
        return 0
    viewers = _viewers(version, only=list(staff_ids))
    if not viewers:
        return 0
    with default_storage.open(version.file.name, "rb") as handle:
        source = handle.read()
    base = _paths(version)
    pages = {p.number: p for p in Page.objects.filter(version=version)}
    MaterialVersion.objects.filter(pk=version.pk).update(
        render_total=F("render_total") + version.page_count * len(viewers)
    )
    for rendered in rendering.iter_pages(source, version.content_type):
        page = pages.get(rendered.number)
        if page is None:
            continue
        for staff_id, viewer in viewers:
            one = rendering.encode_jpeg(rendering.watermark(rendered.image_1x, viewer))
            two = rendering.encode_jpeg(rendering.watermark(rendered.image_2x, viewer))
            folder = f"{base}/v{staff_id}"
            ViewerPage.objects.update_or_create(
                page=page,
                viewer_id=staff_id,
                defaults={
                    "image": rendering.store(f"{folder}/{rendered.number}.jpg", one),
                    "image_2x": rendering.store(f"{folder}/{rendered.number}@2x.jpg", two),
                },
            )
        MaterialVersion.objects.filter(pk=version.pk).update(
            render_done=F("render_done") + len(viewers)
        )
    return len(viewers)


@retrying_task(max_attempts=3, backoff_seconds=60)
def purge_renders() -> int:
    from .services import renders_purge

    return renders_purge()
