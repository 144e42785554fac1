"""Register exports too long for one request: queued, written by a worker, downloaded later.

`register_export_request` is the write (a RegisterExport row, audited, the task enqueued
after commit); `register_export_task` fills it: status, progress every ~2,000 rows, the
file under exports/ in default_storage, or the error. The task may run again (retry):
it starts over, and a finished export is left alone.
"""

from __future__ import annotations

import tempfile
import traceback

from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from audit.services import audit_record
from common.tasks import enqueue_on_commit, retrying_task
from org.models import Staff

from .models import RegisterExport
from .registers import RegisterFilters, export_register, register_count, register_for

SPOOL_BYTES = 8 * 1024 * 1024


def register_export_request(
    *, actor: Staff, kind: str, fmt: str, filters: RegisterFilters
) -> RegisterExport:
    """Queue an export of one register; the worker writes it (records officers only:
    the caller checks, as the registers list every department's files)."""
    register_for(kind)  # unknown kinds fail here, not in the worker
    if fmt not in RegisterExport.Format.values:
        raise ValueError(f"unknown format {fmt!r}")
    with transaction.atomic():
        export = RegisterExport.objects.create(
            kind=kind,
            format=fmt,
            filters=filters.to_dict(),
            created_by=actor,
            created_at=timezone.now(),
        )
        audit_record(
            actor=actor,
            action="records.register.export_requested",
            target=export,
            data={"kind": kind, "format": fmt, "filters": filters.to_dict()},
        )
        enqueue_on_commit(register_export_task, export.pk)
    return export


@retrying_task(max_attempts=3, backoff_seconds=60)
def register_export_task(export_id: int) -> str:
    export = RegisterExport.objects.get(pk=export_id)
    if export.status == RegisterExport.Status.DONE:
        return export.output.name
    try:
        name, rows = _write(export)
    except Exception:
        RegisterExport.objects.filter(pk=export.pk).update(
            status=RegisterExport.Status.FAILED,
            error=traceback.format_exc()[-4000:],
            finished_at=timezone.now(),
        )
        raise
    RegisterExport.objects.filter(pk=export.pk).update(
        status=RegisterExport.Status.DONE,
        output=name,
        rows_done=rows,
        rows_total=rows,
        error="",
        finished_at=timezone.now(),
    )
    return name


def _write(export: RegisterExport) -> tuple[str, int]:
    """Write the export's file to storage: (its name, the rows written)."""
    filters = RegisterFilters.from_dict(export.filters)
    total = register_count(export.kind, filters)
    RegisterExport.objects.filter(pk=export.pk).update(
        status=RegisterExport.Status.RUNNING, rows_done=0, rows_total=total
    )

    def progress(n: int) -> None:
        RegisterExport.objects.filter(pk=export.pk).update(rows_done=n)

    with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as tmp:
        rows = export_register(export.kind, filters, export.format, tmp, on_progress=progress)
        tmp.seek(0)
        name = default_storage.save(
            f"exports/{export.created_at:%Y/%m}/{export.kind}-{export.pk}.{export.format}",
            File(tmp),
        )
    return name, rows
