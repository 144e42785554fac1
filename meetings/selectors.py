"""Reads of the meeting pages: who sees a meeting, who manages it, my meetings.

A participant sees a meeting once it is published; the organiser, the chair and the
presenters (`present_meeting`) see it from the draft on and manage it. Everyone else gets
a 404, so a meeting's existence is not revealed. The organiser keeps the page after a
confidential meeting's access has ended (to write and file the minutes); page images
stay refused to everyone then (`views.page_image`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Case, Count, IntegerField, Prefetch, Q, QuerySet, Value, When
from django.utils import timezone

from org.models import Staff

from .models import Material, MaterialVersion, Meeting, Minutes, Participant
from .services import can_attend, can_present


def can_manage(*, meeting: Meeting, staff: Staff) -> bool:
    """The organiser, chair and presenters change the meeting (services._require_organiser)."""
    if not getattr(staff, "is_authenticated", False) or not staff.is_active:
        return False
    return meeting.organiser_id == staff.pk or can_present(staff, meeting)


def meeting_visible_to(*, meeting: Meeting, staff: Staff) -> bool:
    if not getattr(staff, "is_authenticated", False) or not staff.is_active:
        return False
    if meeting.organiser_id == staff.pk:
        return True
    if not can_attend(staff, meeting):
        return False
    return meeting.status != Meeting.Status.DRAFT or can_present(staff, meeting)


@dataclass
class MyMeetings:
    upcoming: QuerySet[Participant]
    past: QuerySet[Participant]


def meetings_of(*, staff: Staff, now: dt.datetime | None = None) -> MyMeetings:
    """The meetings I organise or take part in, as my participant rows (with my role).

    Drafts only for those who manage them; a confidential meeting whose access has ended
    only for its organiser. Upcoming: not closed and not yet over, soonest first; past:
    the rest, newest first. Each row carries `material_count` (materials not revoked).
    """
    now = now or timezone.now()
    manages = Q(role__in=Participant.PRESENTING) | Q(meeting__organiser=staff)
    rows = (
        Participant.objects.filter(staff=staff)
        .filter(~Q(meeting__status=Meeting.Status.DRAFT) | manages)
        .exclude(Q(meeting__access_until__lte=now) & ~Q(meeting__organiser=staff))
        .select_related("meeting__department")
        .annotate(
            material_count=Count(
                "meeting__materials", filter=Q(meeting__materials__revoked_at__isnull=True)
            )
        )
    )
    over = Q(meeting__status=Meeting.Status.CLOSED) | Q(meeting__ends_at__lt=now)
    return MyMeetings(
        upcoming=rows.exclude(over).order_by("meeting__starts_at", "meeting__pk"),
        past=rows.filter(over).order_by("-meeting__starts_at", "-meeting__pk"),
    )


def materials_of(*, meeting: Meeting) -> list[Material]:
    """The meeting's materials in order, each with its current version and `latest` (the
    newest version: the one being rendered after a replacement, else the current one)."""
    materials = list(
        Material.objects.filter(meeting=meeting)
        .select_related("current_version", "agenda_item")
        .prefetch_related(
            Prefetch(
                "versions",
                queryset=MaterialVersion.objects.order_by("-number"),
                to_attr="newest_first",
            )
        )
        .order_by("position", "pk")
    )
    for material in materials:
        material.latest = material.newest_first[0] if material.newest_first else None
    return materials


def rendering_in_progress(materials: list[Material]) -> bool:
    waiting = (MaterialVersion.RenderStatus.PENDING, MaterialVersion.RenderStatus.RENDERING)
    return any(
        m.latest is not None and not m.is_revoked and m.latest.render_status in waiting
        for m in materials
    )


def original_downloadable(*, meeting: Meeting, material: Material) -> bool:
    """原本PDF: only where the organiser allowed it, never for confidential material (nor a
    confidential meeting), never once revoked, and only after the meeting is published."""
    return (
        meeting.allow_download
        and not meeting.confidential
        and not material.confidential
        and not material.is_revoked
        and material.current_version_id is not None
        and meeting.status != Meeting.Status.DRAFT
    )


def participants_of(*, meeting: Meeting) -> QuerySet[Participant]:
    """Chair, presenters, members, observers; in the order they were invited."""
    by_role = Case(
        *[When(role=role, then=Value(i)) for i, role in enumerate(Participant.Role.values)],
        output_field=IntegerField(),
    )
    return (
        Participant.objects.filter(meeting=meeting).select_related("staff").order_by(by_role, "pk")
    )


def minutes_of(*, meeting: Meeting) -> Minutes | None:
    return Minutes.objects.filter(meeting=meeting).select_related("written_by", "record").first()
