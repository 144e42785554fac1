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

import json
import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import connections, router, transaction
from django.db.models import Model
from django.urls import reverse
from django.utils import timezone

from common.socketdb import execute

from .models import LiveState, Material, Meeting

log = logging.getLogger(__name__)


def group_name(meeting_id: int) -> str:
    return f"meeting-{int(meeting_id)}"


def state_for(meeting: Meeting | int) -> LiveState:
    meeting_id = meeting.pk if isinstance(meeting, Meeting) else int(meeting)
    state, _created = LiveState.objects.get_or_create(meeting_id=meeting_id)
    return state


# What a state change reads back (enough for the broadcast; the rest stays deferred).
RETURNED = ("id", "meeting_id", "seq", "material_id", "version_id", "page", "forced")


def _bump(meeting_id: int, changes: dict[str, Any]) -> LiveState | None:
    """One `UPDATE … SET seq = seq + 1 … RETURNING` (SQLite 3.35+ and PostgreSQL): the row
    lock, the new seq and the state in one statement. None when the row does not exist."""
    connection = connections[router.db_for_write(LiveState)]
    qn = connection.ops.quote_name
    meta = LiveState._meta
    changes = {**changes, "updated_at": timezone.now()}
    sets, params = [f"{qn('seq')} = {qn('seq')} + 1"], []
    for name, value in changes.items():
        field = meta.get_field(name)
        if isinstance(value, Model):
            value = value.pk
        sets.append(f"{qn(field.column)} = %s")
        params.append(field.get_db_prep_save(value, connection))
    columns = ", ".join(qn(meta.get_field(name).column) for name in RETURNED)
    # Identifiers come from the model, quoted; every value is a parameter.
    sql = (
        f"UPDATE {qn(meta.db_table)} SET {', '.join(sets)} "  # noqa: S608
        f"WHERE {qn(meta.get_field('meeting').column)} = %s"
    )
    returning = connection.features.can_return_columns_from_insert  # SQLite < 3.35: no
    if returning:
        rows = execute(connection.alias, f"{sql} RETURNING {columns}", [*params, meeting_id])
        row = rows[0] if rows else None
    else:
        with connection.cursor() as cursor:
            cursor.execute(sql, [*params, meeting_id])
            found = cursor.rowcount
        # The UPDATE holds the lock; read the row back.
        row = (
            LiveState.objects.filter(meeting_id=meeting_id).values_list(*RETURNED).get()
            if found
            else None
        )
    if row is None:
        return None
    values = dict(zip(RETURNED, row, strict=True))
    values["forced"] = bool(values["forced"])  # SQLite answers 0/1
    return LiveState.from_db(connection.alias, list(RETURNED), list(values.values()))


def state_change(meeting_id: int, **changes: Any) -> LiveState:
    """Apply `changes` to the live state and bump `seq`, atomically; returns the new row
    (its fields in RETURNED). Two presenters' changes are serialised by the row lock."""
    meeting_id = int(meeting_id)
    with transaction.atomic():
        state = _bump(meeting_id, changes)
        if state is None:  # the first change of the meeting
            state_for(meeting_id)
            state = _bump(meeting_id, changes)
        assert state is not None
        return state


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


def event(message: dict[str, Any]) -> dict[str, Any]:
    """The group event for `message`, with its JSON text made once here rather than once
    per socket (each worker's hub forwards `text` as it is)."""
    return {
        "type": "meeting.event",
        "message": message,
        "text": json.dumps(message, ensure_ascii=False),
    }


def broadcast(meeting_id: int, message: dict[str, Any]) -> None:
    """Send `message` to every socket of the meeting once the transaction commits."""
    transaction.on_commit(lambda: _send(meeting_id, event(message)), robust=True)


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
