"""Live inbox updates: after commit, tell each changed inbox to refresh.

Messages are tiny (a kind and nothing personal): the page fetches its own list through
the permission-checked view, so a socket never carries data its owner may not see.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

log = logging.getLogger(__name__)


def inbox_group(staff_id: int) -> str:
    return f"inbox.{staff_id}"


def push_inbox_changed(staff_ids: Iterable[int]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    for staff_id in staff_ids:
        try:
            async_to_sync(layer.group_send)(inbox_group(staff_id), {"type": "inbox.changed"})
        except Exception:
            # Delivery is best effort: the inbox page also refreshes on reconnect.
            log.exception("inbox push to %s failed", staff_id)
