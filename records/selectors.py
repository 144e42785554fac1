"""Reads of the records capability, permission-aware.

Records officers (文書主管課) see every record's metadata and its verification report;
the content (the PDF) follows the source's own rule (whoever may see the decided
document), and officers may also read it unless the record is confidential.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone

from org.models import Staff
from org.roles import RECORDS_OFFICER, has_role

from .models import Record


def is_records_officer(staff: Staff) -> bool:
    return has_role(staff, RECORDS_OFFICER)


def record_metadata_visible_to(*, record: Record, staff: Staff) -> bool:
    return is_records_officer(staff) or record_content_visible_to(record=record, staff=staff)


def record_content_visible_to(*, record: Record, staff: Staff) -> bool:
    if not getattr(staff, "is_authenticated", False):
        return False
    if is_records_officer(staff) and not record.confidential:
        return True
    source = record.source
    return bool(source is not None and source.record_visible_to(staff))


def records_for_officers(*, status: str = "", flagged: bool = False) -> QuerySet[Record]:
    """Every record, unsigned ones that wait too long first."""
    records = Record.objects.select_related("department", "source_type")
    if status:
        records = records.filter(status=status)
    if flagged:
        records = records.filter(stale_filter())
    return records.order_by("status", "-created_at")


def stale_filter() -> Q:
    """Not signed a day (the setting) after registration: flagged, or about to be."""
    limit = timezone.now() - dt.timedelta(hours=settings.RECORDS_FLAG_AFTER_HOURS)
    return ~Q(status=Record.Status.SIGNED) & Q(created_at__lt=limit)


def record_for_source(source) -> Record | None:
    from django.contrib.contenttypes.models import ContentType

    return Record.objects.filter(
        source_type=ContentType.objects.get_for_model(source), source_id=source.pk
    ).first()
