"""Reads of the approval engine, shaped for the inbox and the route timeline."""

from __future__ import annotations

from django.contrib.contenttypes.models import ContentType
from django.db.models import Count, F, Q, QuerySet
from django.utils import timezone

from common.dates import today
from org.models import Absence, Deputy, Staff

from .models import Action, Notification, PostReview, Route, Stage, Step


def absent_principals_of(*, deputy: Staff) -> list[int]:
    """People now absent for whom `deputy` is a registered 代理者: their steps show too."""
    day = today()
    now = timezone.now()
    principals = Deputy.objects.filter(deputy=deputy, start__lte=day).filter(
        Q(end__isnull=True) | Q(end__gte=day)
    )
    return list(
        Absence.objects.filter(
            staff__in=principals.values("principal"), start__lte=now, end__gt=now
        ).values_list("staff_id", flat=True)
    )


def _inbox_filter(staff: Staff) -> Q:
    # Looked up once per Staff object (a request's user): the inbox page asks three times.
    principals = getattr(staff, "_absent_principals", None)
    if principals is None:
        principals = absent_principals_of(deputy=staff)
        staff._absent_principals = principals
    q = Q(assignee=staff)
    if principals:
        q |= Q(assignee__in=principals, route__important=False)
    return q


def inbox_for(
    *, staff: Staff, kind: int | None = None, department: int | None = None
) -> QuerySet[Step]:
    """Every pending step for this person across all subject kinds, most urgent first:
    due date ascending (no due date last), then the most recently arrived."""
    steps = (
        Step.objects.pending()
        .filter(_inbox_filter(staff))
        .select_related("route", "route__department", "route__submitted_by", "stage", "assignee")
        .order_by(F("due_at").asc(nulls_last=True), "-activated_at", "pk")
    )
    if kind:
        steps = steps.filter(route__subject_type_id=kind)
    if department:
        steps = steps.filter(route__department_id=department)
    return steps


def inbox_count(*, staff: Staff) -> int:
    return Step.objects.pending().filter(_inbox_filter(staff)).count()


def inbox_counts_by_kind(*, staff: Staff) -> list[tuple[ContentType, int]]:
    rows = (
        Step.objects.pending()
        .filter(_inbox_filter(staff))
        .values("route__subject_type")
        .annotate(n=Count("pk"))
        .order_by("route__subject_type")
    )
    types = ContentType.objects.in_bulk([r["route__subject_type"] for r in rows])
    return [(types[r["route__subject_type"]], r["n"]) for r in rows]


def open_post_reviews_for(*, staff: Staff) -> QuerySet[PostReview]:
    return (
        PostReview.objects.filter(reviewer=staff, done_at__isnull=True)
        .select_related("step__route", "step__acted_by")
        .order_by("-created_at")
    )


def unread_notifications_for(*, staff: Staff, limit: int = 20) -> QuerySet[Notification]:
    return Notification.objects.filter(recipient=staff, read_at__isnull=True).order_by(
        "-created_at"
    )[:limit]


def routes_of(subject) -> QuerySet[Route]:
    """Every round of a subject, newest first, with stages, steps and actions prefetched."""
    return (
        Route.objects.filter(
            subject_type=ContentType.objects.get_for_model(subject), subject_id=subject.pk
        )
        .select_related("submitted_by", "department")
        .prefetch_related(
            "stages__steps__assignee",
            "stages__steps__acted_by",
            "stages__steps__post",
            "stages__steps__department",
            "stages__steps__person",
            "actions__actor",
            "actions__on_behalf_of",
            "actions__step",
        )
        .order_by("-round")
    )


def overdue_steps() -> QuerySet[Step]:
    return (
        Step.objects.pending()
        .filter(due_at__lt=timezone.now())
        .select_related("route", "assignee")
        .order_by("due_at")
    )


def route_visible_to(*, route: Route, staff: Staff) -> bool:
    """Drafter, everyone a step went to, and their deputies: django-guardian grants."""
    return staff.has_perm("workflow.view_route", route)


def actions_for(route: Route) -> QuerySet[Action]:
    return route.actions.select_related("actor", "on_behalf_of", "step").order_by("at", "pk")


def stage_kinds() -> dict[str, str]:
    return dict(Stage.Kind.choices)
