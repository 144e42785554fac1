"""Reads for 起案文書, permission-aware."""

from __future__ import annotations

from django.contrib.contenttypes.models import ContentType

from org.models import Staff
from org.roles import ADMIN, has_role
from workflow.models import Route, RouteUserObjectPermission

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
    return has_role(staff, ADMIN) and not document.is_confidential
