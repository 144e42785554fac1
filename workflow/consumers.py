"""/ws/inbox/: a person's own inbox, live. Nobody can subscribe to someone else's."""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async

from common.consumers import JsonConsumer

from .push import inbox_group


class InboxConsumer(JsonConsumer):
    handlers = frozenset({"hello"})

    async def on_connected(self) -> None:
        self.seq = 0
        self.group = inbox_group(self.scope["user"].pk)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.send_state()

    async def disconnect(self, code: int) -> None:
        if getattr(self, "group", None):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def handle_hello(self, message: dict[str, Any]) -> None:
        """A reconnecting page asks for the current count (a fresh snapshot)."""
        await self.send_state()

    async def inbox_changed(self, event: dict[str, Any]) -> None:
        await self.send_state()

    async def send_state(self) -> None:
        self.seq += 1
        count = await self._count()
        await self.send_json({"type": "inbox.changed", "seq": self.seq, "count": count})

    @database_sync_to_async
    def _count(self) -> int:
        from org.models import Staff

        from .selectors import inbox_count

        # A fresh object each time: the socket lives long, absences change meanwhile.
        return inbox_count(staff=Staff(pk=self.scope["user"].pk))
