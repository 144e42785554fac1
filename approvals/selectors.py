"""Reads for 起案文書, permission-aware."""

from __future__ import annotations

from django.contrib.contenttypes.models import ContentType

from org.models import Staff
from workflow.models import Route, RouteUserObjectPermission, Step
from workflow.selectors import absent_principals_of

from .models import Document


def document_visible_to(*, document: Document, staff: Staff) -> bool:
    """The drafter, everyone a step of any round went to (and their deputies), and 供覧
    recipients; nobody else, other managers included (django-guardian grants on routes)."""
    if not getattr(staff, "is_authenticated", False):
        return False
    if document.drafter_id == staff.pk:
        return True
    route_ids = Route.objects.filter(
        subject_type=ContentType.objects.get_for_model(Document), subject_id=document.pk
    ).values("pk")
    if RouteUserObjectPermission.objects.filter(
        user=staff, content_object__in=route_ids, permission__codename="view_route"
    ).exists():
        return True
    # A deputy registered after the step arrived sees it while the holder is away,
    # just as the step shows in the deputy's inbox.
    principals = absent_principals_of(deputy=staff)
    return bool(principals) and (
        Step.objects.pending()
        .filter(route__in=route_ids, assignee__in=principals, route__important=False)
        .exists()
    )
