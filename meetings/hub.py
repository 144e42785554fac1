"""One channel-layer subscription per meeting per worker process, fanned out to the
process's own sockets of that meeting.

Why: with every socket in the meeting's group, Channels delivers a page turn to each
socket on its own: a queue per socket, a message decoded per socket, a new receive task
per socket per message. For 100 tablets on a worker that was most of a page turn's time
(bench/meeting_fanout.py). Here the worker's hub is the one member of the group on this
process: the event is decoded once, and each socket gets it by `Member.deliver`, a plain
call that only queues it (the socket's own sender task writes it out). A tablet whose
network stalls holds up only its own queue, never the others' page turns.

Still the channel layer: the group is the same (`live.group_name`), so several worker
processes share a meeting through Redis exactly as before, and a message published by
any process (or by a service after its commit) reaches every hub.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from typing import Any, Protocol

from channels.layers import BaseChannelLayer, get_channel_layer

from . import live

log = logging.getLogger(__name__)

# After a failed receive (Redis restarting, say) the hub retries this often; tablets
# notice nothing is coming by their heartbeat and resync once it works again.
RETRY_SECONDS = 0.5


class Member(Protocol):
    def deliver(self, event: dict[str, Any]) -> None:
        """Take one group event; must not block or raise."""


class Room:
    """The sockets of one meeting on this process, and the subscription they share."""

    def __init__(self, hub: Hub, meeting_id: int) -> None:
        self.hub = hub
        self.meeting_id = meeting_id
        self.members: set[Member] = set()
        self.channel = ""
        self.ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.reader: asyncio.Task[None] | None = None

    async def open(self) -> None:
        layer = self.hub.layer
        try:
            self.channel = await layer.new_channel("meeting-hub.")
            await layer.group_add(live.group_name(self.meeting_id), self.channel)
        except BaseException as exc:
            if not self.ready.done():
                # Waiting joiners see a failure and open the room anew (a cancelled opener
                # must not cancel them).
                failure = exc if isinstance(exc, Exception) else RuntimeError("cancelled")
                self.ready.set_exception(failure)
                self.ready.exception()  # marked retrieved: each joiner handles it
            raise
        self.reader = asyncio.ensure_future(self.read())
        self.ready.set_result(None)

    async def read(self) -> None:
        layer = self.hub.layer
        while True:
            try:
                event = await layer.receive(self.channel)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("meeting %s: the hub's receive failed", self.meeting_id)
                await asyncio.sleep(RETRY_SECONDS)
                continue
            for member in tuple(self.members):
                try:
                    member.deliver(event)
                except Exception:
                    log.exception("meeting %s: a socket refused an event", self.meeting_id)

    async def close(self) -> None:
        if self.reader is not None:
            self.reader.cancel()
        if self.channel:
            try:
                await self.hub.layer.group_discard(live.group_name(self.meeting_id), self.channel)
            except Exception:
                log.exception("meeting %s: leaving the group failed", self.meeting_id)


class Hub:
    """The rooms of one event loop (a worker process has one loop)."""

    def __init__(self, layer: BaseChannelLayer) -> None:
        self.layer = layer
        self.rooms: dict[int, Room] = {}

    async def join(self, meeting_id: int, member: Member) -> None:
        """Returns once the meeting's group is subscribed on this process, so that whatever
        is published after that reaches `member`: read the snapshot only after this."""
        while True:
            room = self.rooms.get(meeting_id)
            if room is None:
                room = self.rooms[meeting_id] = Room(self, meeting_id)
                room.members.add(member)
                try:
                    await room.open()
                except BaseException:
                    if self.rooms.get(meeting_id) is room:
                        del self.rooms[meeting_id]
                    raise
                return
            room.members.add(member)  # before waiting: the room is not empty meanwhile
            try:
                await asyncio.shield(room.ready)
            except asyncio.CancelledError:
                room.members.discard(member)
                raise
            except Exception:
                room.members.discard(member)
                continue  # the opener failed and removed the room: try to open it anew
            if self.rooms.get(meeting_id) is room:
                return
            room.members.discard(member)  # closed meanwhile: join the new one

    async def leave(self, meeting_id: int, member: Member) -> None:
        room = self.rooms.get(meeting_id)
        if room is None:
            return
        room.members.discard(member)
        if not room.members and room.ready.done():
            del self.rooms[meeting_id]
            await room.close()


_hubs: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Hub] = weakref.WeakKeyDictionary()


def hub() -> Hub:
    """This event loop's hub (channel layers are per loop too)."""
    loop = asyncio.get_running_loop()
    found = _hubs.get(loop)
    layer = get_channel_layer()
    if found is None or found.layer is not layer:
        found = _hubs[loop] = Hub(layer)
    return found
