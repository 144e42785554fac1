"""The base of every consumer: authenticated, schema-checked, dispatching on `type`.

Subclasses list the message types they accept in `handlers` and write `handle_<type>`
methods; `schemas` may give each type its fields (`Field`), checked before the handler
runs. Anything else (not JSON, not an object, unknown type, a field missing, of the wrong
type or unknown, too large) gets an error frame and the connection stays up. (House style
after OpenSlides 3's consumers.)
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, ClassVar

from channels.generic.websocket import AsyncWebsocketConsumer

CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
MAX_MESSAGE_BYTES = 16 * 1024
MAX_ID = 2**63 - 1


@dataclass(frozen=True)
class Field:
    """One field of a message: its JSON type (int, str or bool; a bool is not an int),
    whether it must be there, and its bounds (ints) or length (strings)."""

    kind: type
    required: bool = True
    min: int = 0
    max: int = MAX_ID
    max_length: int = 1000


def schema_problem(schema: dict[str, Field], message: dict[str, Any]) -> str | None:
    """What is wrong with `message` under `schema` (Japanese), or None."""
    unknown = sorted(set(message) - set(schema) - {"type"})
    if unknown:
        return f"不明な項目があります: {', '.join(str(k)[:40] for k in unknown[:5])}"
    for name, field in schema.items():
        if name not in message:
            if field.required:
                return f"項目 {name} がありません"
            continue
        value = message[name]
        if field.kind is int:
            if isinstance(value, bool) or not isinstance(value, int):
                return f"項目 {name} は整数で指定してください"
            if not field.min <= value <= field.max:
                return f"項目 {name} が範囲外です"
        elif not isinstance(value, field.kind):
            return f"項目 {name} の型が正しくありません"
        elif field.kind is str and len(value) > field.max_length:
            return f"項目 {name} は{field.max_length}字までです"
    return None


class JsonConsumer(AsyncWebsocketConsumer):
    handlers: ClassVar[frozenset[str]] = frozenset()
    schemas: ClassVar[dict[str, dict[str, Field]]] = {}

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.refuse(CLOSE_UNAUTHENTICATED)
            return
        if not await self.authorize(user):
            await self.refuse(CLOSE_FORBIDDEN)
            return
        await self.accept()
        await self.on_connected()

    async def refuse(self, code: int) -> None:
        """Accept, then close with `code`. Refused during the handshake, the socket would
        get an HTTP 403 and the browser only a bare 1006, so the page could not tell "sign
        in again" (4401) or "not yours" (4403) from "network down", and would keep
        reconnecting. Nothing is joined or sent before the close."""
        await self.accept()
        await self.close(code=code)

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
        schema = self.schemas.get(kind)
        problem = schema_problem(schema, message) if schema is not None else None
        if problem is not None:
            await self.send_error("invalid_message", problem)
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
