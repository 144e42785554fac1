"""Tasks used by the task-framework tests (importable by path, as the worker needs)."""

from __future__ import annotations

from pathlib import Path

from audit.services import audit_record
from common.tasks import retrying_task


@retrying_task(max_attempts=3, backoff_seconds=0)
def write_event(label: str) -> str:
    from django.db import transaction

    with transaction.atomic():
        audit_record(actor=None, action="tests.task.ran", data={"label": label})
    return label


@retrying_task(max_attempts=3, backoff_seconds=0)
def fail_once(marker: str) -> str:
    path = Path(marker)
    if not path.exists():
        path.write_text("first attempt")
        raise RuntimeError("一時的な障害 (transient failure) on the first attempt")
    return "second attempt succeeded"


@retrying_task(max_attempts=3, backoff_seconds=0)
def always_fail() -> None:
    raise ValueError("永続的な障害 (permanent failure)")


@retrying_task(max_attempts=4, backoff_seconds=60)
def fail_with_backoff() -> None:
    raise ValueError("TSA unavailable")
