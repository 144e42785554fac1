"""Reads for 起案文書, permission-aware. One rule decides who sees a document; the list
and the single-object check are the same query, so they cannot drift apart."""

from __future__ import annotations

from django.contrib.contenttypes.models import ContentType
from django.db.models import Q, QuerySet

from org.models import Staff
from workflow.models import Route, RouteUserObjectPermission, Step
from workflow.selectors import absent_principals_of

from .models import Document


def documents_visible_to(*, staff: Staff) -> QuerySet[Document]:
    """The drafter; everyone a route of the document went to, with their deputies, and
    供覧 recipients (django-guardian grants on routes); and, while someone the requester
    deputises for is away, documents with that person's pending, not important step.
    Nobody else, other managers included. Subqueries only: the cost does not grow with
    the number of routes."""
    if not getattr(staff, "is_authenticated", False):
        return Document.objects.none()
    document_type = ContentType.objects.get_for_model(Document)
    granted = RouteUserObjectPermission.objects.filter(
        user=staff, permission__codename="view_route"
    ).values("content_object_id")
    subjects = Route.objects.filter(subject_type=document_type, pk__in=granted).values("subject_id")
    visible = Q(drafter=staff) | Q(pk__in=subjects)
    if principals := absent_principals_of(deputy=staff):
        deputised = (
            Step.objects.pending()
            .filter(
                assignee__in=principals,
                route__important=False,
                route__subject_type=document_type,
            )
            .values("route__subject_id")
        )
        visible |= Q(pk__in=deputised)
    return Document.objects.filter(visible)


def document_visible_to(*, document: Document, staff: Staff) -> bool:
    if getattr(staff, "is_authenticated", False) and document.drafter_id == staff.pk:
        return True
    return documents_visible_to(staff=staff).filter(pk=document.pk).exists()
