"""The live state of a session and how changes reach the tablets.

A page turn is state, not an event (../shared/domain/meetings.md, "Resume"): the state
row (`LiveState`) lives in the database, shared by every worker process, and its `seq`
goes up by one on every change in the same UPDATE, so two presenters' changes are
serialised. Every broadcast carries the new `seq`; a tablet that sees a gap asks for a
snapshot. Broadcasts go out after commit through the channel layer to the meeting's
group, whose name the server derives from the meeting id (a client never names it).
Messages are small: ids and numbers only.
"""

from __future__ import annotations

import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction
from django.db.models import F
from django.urls import reverse

from .models import LiveState, Material, Meeting

log = logging.getLogger(__name__)


def group_name(meeting_id: int) -> str:
    return f"meeting-{int(meeting_id)}"


def state_for(meeting: Meeting | int) -> LiveState:
    meeting_id = meeting.pk if isinstance(meeting, Meeting) else int(meeting)
    state, _created = LiveState.objects.get_or_create(meeting_id=meeting_id)
    return state


def state_change(meeting_id: int, **changes: Any) -> LiveState:
    """Apply `changes` to the live state and bump `seq`, atomically; returns the new row."""
    with transaction.atomic():
        state_for(meeting_id)
        LiveState.objects.filter(meeting_id=meeting_id).update(seq=F("seq") + 1, **changes)
        return LiveState.objects.select_for_update().get(meeting_id=meeting_id)


def materials_of(meeting_id: int) -> list[dict[str, Any]]:
    """What the tablets list: every material with its current version and page count."""
    rows = (
        Material.objects.filter(meeting_id=meeting_id)
        .select_related("current_version")
        .order_by("position", "pk")
    )
    result = []
    for m in rows:
        version = m.current_version
        ready = version is not None and version.render_status == "done"
        result.append(
            {
                "id": m.pk,
                "title": m.title,
                "version": version.pk if ready else None,
                "number": version.number if ready else None,
                "pages": version.page_count if ready else 0,
                "revoked": m.is_revoked,
                "confidential": m.confidential,
            }
        )
    return result


def snapshot(meeting: Meeting) -> dict[str, Any]:
    """Everything a tablet needs to show the presenter's state (sent on every (re)connect)."""
    state = state_for(meeting)
    return {
        "type": "snapshot",
        "seq": state.seq,
        "status": meeting.status,
        "forced": state.forced,
        "material": state.material_id,
        "version": state.version_id,
        "page": state.page,
        "materials": [] if meeting.status == Meeting.Status.DRAFT else materials_of(meeting.pk),
        "image_base": reverse("meetings:meeting", args=[meeting.pk]) + "pages/",
    }


def position_message(state: LiveState) -> dict[str, Any]:
    return {
        "type": "position",
        "seq": state.seq,
        "material": state.material_id,
        "version": state.version_id,
        "page": state.page,
        "forced": state.forced,
    }


def _send(meeting_id: int, payload: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(group_name(meeting_id), payload)
    except Exception:
        # Delivery is at most once; tablets resync on reconnect and on a seq gap.
        log.exception("broadcast to meeting %s failed", meeting_id)


def broadcast(meeting_id: int, message: dict[str, Any]) -> None:
    """Send `message` to every socket of the meeting once the transaction commits."""
    transaction.on_commit(
        lambda: _send(meeting_id, {"type": "meeting.event", "message": message}), robust=True
    )


def kick(meeting_id: int, staff_id: int) -> None:
    """Close the sockets of someone who lost access (after commit)."""
    transaction.on_commit(
        lambda: _send(meeting_id, {"type": "meeting.kick", "staff_id": int(staff_id)}),
        robust=True,
    )


def materials_changed(meeting_id: int, **changes: Any) -> LiveState:
    """A material was added, replaced, rendered or revoked: bump seq and tell everyone."""
    state = state_change(meeting_id, **changes)
    message = position_message(state)
    message.update(type="materials", materials=materials_of(meeting_id))
    broadcast(meeting_id, message)
    return state
