"""The base of every consumer: authenticated, schema-checked, dispatching on `type`.

Subclasses list the message types they accept in `handlers` and write `handle_<type>`
methods; anything else (not JSON, not an object, unknown type, too large) gets an error
frame and the connection stays up. (House style after OpenSlides 3's consumers.)
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from channels.generic.websocket import AsyncWebsocketConsumer

CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
MAX_MESSAGE_BYTES = 16 * 1024


class JsonConsumer(AsyncWebsocketConsumer):
    handlers: ClassVar[frozenset[str]] = frozenset()

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        if not await self.authorize(user):
            await self.close(code=CLOSE_FORBIDDEN)
            return
        await self.accept()
        await self.on_connected()

    async def authorize(self, user: Any) -> bool:
        """Object permission check before the socket joins anything; override per consumer."""
        return True

    async def on_connected(self) -> None:
        pass

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if text_data is None or len(text_data.encode()) > MAX_MESSAGE_BYTES:
            await self.send_error(
                "invalid_frame", "テキストの JSON メッセージ（16 KB まで）のみ受け付けます"
            )
            return
        try:
            message = json.loads(text_data)
        except ValueError:
            await self.send_error("invalid_json", "JSON として読めません")
            return
        kind = message.get("type") if isinstance(message, dict) else None
        if not isinstance(kind, str) or kind not in self.handlers:
            await self.send_error("unknown_type", "不明なメッセージ種別です")
            return
        await getattr(self, f"handle_{kind}")(message)

    async def send_json(self, content: dict[str, Any]) -> None:
        await self.send(text_data=json.dumps(content, ensure_ascii=False))

    async def send_error(self, code: str, message: str) -> None:
        await self.send_json({"type": "error", "code": code, "message": message})


class PingConsumer(JsonConsumer):
    """A minimal socket used to check the stack end to end (auth, origin, dispatch)."""

    handlers = frozenset({"ping"})

    async def handle_ping(self, message: dict[str, Any]) -> None:
        await self.send_json({"type": "pong"})
