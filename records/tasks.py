"""Background work of the records capability."""

from __future__ import annotations

from common.tasks import retrying_task

from .services import record_sign


# Retried with backoff 30 s, 1 min, 2 min … capped at an hour: about two days of
# attempts before giving up, long past the one-day flag to the records officers.
@retrying_task(max_attempts=60, backoff_seconds=30, max_backoff_seconds=3600)
def record_sign_task(record_id: int) -> str:
    record = record_sign(record_id=record_id)
    return record.status if record is not None else "skipped"
