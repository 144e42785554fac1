"""Writes of the records capability: registering a record, and making its signed PDF.

Making the PDF is slow (render + PAdES with a timestamp): it runs in a background task
after the decision commits, so the approver's click returns at once. A record is
claimed by one worker at a time (a short transaction); the rendering and signing happen
outside any transaction; the result is stored in another short transaction that checks
the claim. So a record is never signed twice, and a failure (TSA or OCSP down) leaves
the record waiting for the next attempt — the decision itself is never touched.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import uuid
from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import models, transaction
from django.utils import timezone

from audit.services import audit_record
from common.tasks import enqueue_on_commit
from org.models import Department, Staff
from org.roles import RECORDS_OFFICER
from workflow.models import Notification

from .models import Record, RecordVersion
from .payload import RecordSource

if TYPE_CHECKING:
    from .verification import VerificationReport

log = logging.getLogger(__name__)

# A worker that died mid-signing leaves its claim; after this long another may take over.
CLAIM_TIMEOUT = dt.timedelta(minutes=15)


def record_register(
    *,
    source: RecordSource | models.Model,
    title: str,
    number: str,
    department: Department,
    confidential: bool,
    actor: Staff | None,
) -> Record:
    """Register the record of `source` (once) and queue its PDF for after the commit."""
    source_type = ContentType.objects.get_for_model(source)
    with transaction.atomic():
        record, created = Record.objects.get_or_create(
            source_type=source_type,
            source_id=source.pk,
            defaults={
                "title": title[:300],
                "number": number,
                "department": department,
                "confidential": confidential,
                "created_at": timezone.now(),
            },
        )
        if created:
            audit_record(
                actor=actor,
                action="records.record.registered",
                target=record,
                data={"source": f"{source_type.app_label}.{source_type.model}:{source.pk}"},
            )
            from .tasks import record_sign_task

            enqueue_on_commit(record_sign_task, record.pk)
    return record


def _store(pdf: bytes) -> tuple[str, str]:
    """Content-addressed storage: the name is the sha256; the same bytes are kept once."""
    sha256 = hashlib.sha256(pdf).hexdigest()
    name = f"records/{sha256[:2]}/{sha256}.pdf"
    if not default_storage.exists(name):
        name = default_storage.save(name, ContentFile(pdf))
    return name, sha256


def _claim(record_id: int) -> tuple[Record, str] | None:
    now = timezone.now()
    with transaction.atomic():
        record = Record.objects.select_for_update().get(pk=record_id)
        if record.status == Record.Status.SIGNED:
            return None
        if record.claim and record.claimed_at and record.claimed_at > now - CLAIM_TIMEOUT:
            return None  # another worker is on it
        token = uuid.uuid4().hex
        record.claim = token
        record.claimed_at = now
        record.status = Record.Status.SIGNING
        record.attempts += 1
        record.save(update_fields=["claim", "claimed_at", "status", "attempts"])
    return record, token


def _flag_if_stale(record: Record) -> None:
    """A record unsigned for a day is flagged to the records officers (once)."""
    limit = dt.timedelta(hours=settings.RECORDS_FLAG_AFTER_HOURS)
    if record.flagged_at is not None or record.created_at > timezone.now() - limit:
        return
    record.flagged_at = timezone.now()
    officers = Staff.objects.filter(
        groups__in=Group.objects.filter(name=RECORDS_OFFICER), is_active=True
    ).distinct()
    Notification.objects.bulk_create(
        Notification(
            recipient=officer,
            kind=Notification.Kind.ALERT,
            message=f"署名できていない公文書があります: {record}"[:300],
            url=record.get_absolute_url(),
            created_at=record.flagged_at,
        )
        for officer in officers
    )
    audit_record(
        actor=None,
        action="records.record.flagged",
        target=record,
        data={"attempts": record.attempts, "last_error": record.last_error[:500]},
    )


def record_sign(*, record_id: int) -> Record | None:
    """Render and sign one record. Raises on failure, so the task retries with backoff."""
    from .rendering import render_record
    from .signing import sign_pdf

    claimed = _claim(record_id)
    if claimed is None:
        return None
    record, token = claimed
    try:
        source = record.source
        if source is None:
            raise LookupError(f"record {record.pk}: its source no longer exists")
        rendered = render_record(source.record_payload())
        signed = sign_pdf(rendered.pdf)
        name, sha256 = _store(signed.pdf)
    except Exception as exc:
        with transaction.atomic():
            locked = Record.objects.select_for_update().get(pk=record_id)
            if locked.claim == token:
                locked.claim = ""
                locked.status = Record.Status.RETRYING
                locked.last_error = f"{type(exc).__name__}: {exc}"[:2000]
                audit_record(
                    actor=None,
                    action="records.record.sign_failed",
                    target=locked,
                    data={"attempt": locked.attempts, "error": locked.last_error[:500]},
                )
                _flag_if_stale(locked)
                locked.save(update_fields=["claim", "status", "last_error", "flagged_at"])
        log.warning("record %s: signing failed (%s); will retry", record_id, exc)
        raise
    now = timezone.now()
    with transaction.atomic():
        locked = Record.objects.select_for_update().get(pk=record_id)
        if locked.claim != token or locked.status == Record.Status.SIGNED:
            return locked  # someone took over after our claim timed out; theirs stands
        locked.pdf.name = name
        locked.sha256 = sha256
        locked.size = len(signed.pdf)
        locked.level = signed.level
        locked.signed_at = now
        locked.archival_grade = rendered.archival_grade
        locked.demo_pki = signed.demo_pki
        locked.render_notes = list(rendered.notes)
        locked.timestamp_expires_at = signed.timestamp_expires_at
        locked.status = Record.Status.SIGNED
        locked.claim = ""
        locked.last_error = ""
        # The version first: content changes only to a version that exists (the model
        # and, on PostgreSQL, a trigger refuse anything else).
        RecordVersion.objects.create(
            record=locked,
            reason=RecordVersion.Reason.SIGNED,
            file=name,
            sha256=sha256,
            size=locked.size,
            created_at=now,
            timestamp_expires_at=signed.timestamp_expires_at,
        )
        locked.save(
            update_fields=[
                "pdf",
                "sha256",
                "size",
                "level",
                "signed_at",
                "archival_grade",
                "demo_pki",
                "render_notes",
                "timestamp_expires_at",
                "status",
                "claim",
                "last_error",
            ]
        )
        audit_record(
            actor=None,
            action="records.record.signed",
            target=locked,
            data={
                "sha256": sha256,
                "level": signed.level,
                "archival_grade": rendered.archival_grade,
                "demo_pki": signed.demo_pki,
                "notes": list(rendered.notes),
                "attempt": locked.attempts,
            },
        )
    return locked


def record_verify(*, record: Record, actor: Staff | None, audit: bool = True) -> VerificationReport:
    """Check the stored file against its sha256 and the signatures from embedded data
    only, and keep the report on the record. A verification observes; it changes no
    content: a person's check is audited one by one, a nightly run by its summary."""
    from .verification import Check, VerificationReport, verify_pdf

    try:
        with record.pdf.open("rb") as handle:
            data = handle.read()
    except OSError as exc:
        report = VerificationReport(
            ok=False,
            checks=[Check("sha256", False, f"ファイルが読めません (cannot read the file: {exc})")],
            demo_pki=record.demo_pki,
            level=record.level,
            signed_at=record.signed_at,
        )
    else:
        report = verify_pdf(data, expected_sha256=record.sha256)
    with transaction.atomic():
        Record.objects.filter(pk=record.pk).update(
            last_verification=report.to_dict(), last_verified_at=timezone.now()
        )
        if audit:
            audit_record(
                actor=actor,
                action="records.record.verified",
                target=record,
                data={"ok": report.ok, "sha256": record.sha256},
            )
    return report


def record_renew(*, record: Record) -> Record | None:
    """Add a document timestamp to the record's PDF before the newest one lapses.

    The TSA round trip happens before the transaction; the write then checks that the
    record still has the file that was renewed (else another run won: None). The new
    file is a new version; the old one stays in storage.
    """
    from .signing import renew_timestamp

    with record.pdf.open("rb") as f:
        old = f.read()
    old_sha = record.sha256
    renewed = renew_timestamp(old)  # raises RenewalError / SigningUnavailable
    name, new_sha = _store(renewed.pdf)
    now = timezone.now()
    with transaction.atomic():
        locked = Record.objects.select_for_update().get(pk=record.pk)
        if locked.sha256 != old_sha:
            return None
        locked.pdf.name = name
        locked.sha256 = new_sha
        locked.size = len(renewed.pdf)
        locked.timestamp_expires_at = renewed.timestamp_expires_at
        RecordVersion.objects.create(  # the version first (see record_sign)
            record=locked,
            reason=RecordVersion.Reason.RENEWED,
            file=name,
            sha256=new_sha,
            size=len(renewed.pdf),
            created_at=now,
            timestamp_expires_at=renewed.timestamp_expires_at,
        )
        locked.save(update_fields=["pdf", "sha256", "size", "timestamp_expires_at"])
        audit_record(
            actor=None,
            action="records.record.renewed",
            target=locked,
            data={"old_sha256": old_sha, "new_sha256": new_sha},
        )
    return locked
