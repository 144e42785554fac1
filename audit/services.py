"""Writing and checking the audit trail."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models, transaction
from django.utils import timezone

from common.middleware import current_request_id

from .models import GENESIS_HASH, AuditChainHead, AuditEvent


def _canonical(payload: dict[str, Any]) -> str:
    return json.dumps(
        payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"), cls=DjangoJSONEncoder
    )


def event_payload(event: AuditEvent) -> dict[str, Any]:
    """The fields covered by the hash, in the form they are stored."""
    return {
        "seq": event.seq,
        "occurred_at": event.occurred_at.astimezone(dt.UTC).isoformat(),
        "actor_id": event.actor_id,
        "action": event.action,
        "target_type_id": event.target_type_id,
        "target_id": event.target_id,
        "target_repr": event.target_repr,
        "data": event.data,
        "request_id": event.request_id,
    }


def event_hash(prev_hash: str, event: AuditEvent) -> str:
    return hashlib.sha256((prev_hash + _canonical(event_payload(event))).encode()).hexdigest()


def audit_record(
    *,
    actor: models.Model | None,
    action: str,
    target: models.Model | None = None,
    data: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event to the chain, in the caller's transaction.

    Call it inside the `transaction.atomic()` block that makes the change, so the event
    exists exactly when the change does. The chain head is locked, which orders writers.
    """
    if not action or "." not in action:
        raise ValueError("action must be a dotted code such as 'approvals.step.approved'")
    # Store exactly what was hashed: round-trip the data through JSON first.
    clean_data = json.loads(_canonical(data or {}))
    with transaction.atomic():
        head = AuditChainHead.objects.select_for_update().filter(pk=1).first()
        if head is None:
            head = AuditChainHead.objects.create(pk=1)
            head = AuditChainHead.objects.select_for_update().get(pk=1)
        event = AuditEvent(
            seq=head.last_seq + 1,
            occurred_at=timezone.now(),
            actor_id=actor.pk if actor is not None else None,
            action=action,
            target_type=ContentType.objects.get_for_model(target) if target is not None else None,
            target_id=str(target.pk) if target is not None else "",
            target_repr=str(target)[:200] if target is not None else "",
            data=clean_data,
            request_id=current_request_id(),
            prev_hash=head.last_hash,
        )
        event.hash = event_hash(head.last_hash, event)
        event.save(force_insert=True)
        head.last_seq = event.seq
        head.last_hash = event.hash
        head.save(update_fields=["last_seq", "last_hash"])
    return event


@dataclass(frozen=True)
class ChainProblem:
    seq: int | None
    reason: str

    def __str__(self) -> str:
        where = f"event #{self.seq}" if self.seq is not None else "chain"
        return f"{where}: {self.reason}"


def audit_verify() -> Iterator[ChainProblem]:
    """Walk the chain in order and yield what is wrong; empty when the chain is whole.

    A changed event no longer matches its hash; a removed one leaves a gap in `seq` and
    a broken link; an inserted one breaks the link of the event after it, or, at the
    end, disagrees with the chain head.
    """
    expected_seq = 1
    prev = GENESIS_HASH
    for event in AuditEvent.objects.order_by("seq").iterator(chunk_size=2000):
        if event.seq != expected_seq:
            yield ChainProblem(event.seq, f"sequence gap: expected #{expected_seq}")
            return
        if event.prev_hash != prev:
            yield ChainProblem(event.seq, "link to the previous event is broken")
            return
        if event_hash(prev, event) != event.hash:
            yield ChainProblem(event.seq, "content does not match its hash (changed)")
            return
        prev = event.hash
        expected_seq += 1
    head = AuditChainHead.objects.filter(pk=1).first()
    last_seq, last_hash = (head.last_seq, head.last_hash) if head else (0, GENESIS_HASH)
    if last_seq != expected_seq - 1 or last_hash != prev:
        yield ChainProblem(
            None,
            f"chain ends at #{expected_seq - 1} but the head records #{last_seq} "
            "(events removed from or added at the end)",
        )
