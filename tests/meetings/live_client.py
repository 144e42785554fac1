"""A tablet for tests: a real `websockets` client talking to a running server.

Each `Tablet` is driven from the (sync) test: its methods run the client's coroutines on
one event loop owned by the test, so the test thread is free between calls for ORM work.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from meetings import services
from meetings.models import Material
from meetings.tasks import render_version
from tests.meetings.conftest import make_pdf, upload

TIMEOUT = 5.0


def start_session(city, meeting, count: int = 2, pages: int = 3) -> list[Material]:
    """`count` materials of `pages` pages, published, rendered, and the meeting started."""
    made = [
        services.material_add(
            meeting=meeting, actor=city.kacho, title=f"資料{i}", upload=upload(make_pdf(pages))
        )
        for i in range(1, count + 1)
    ]
    services.meeting_publish(meeting=meeting, actor=city.kacho)
    for m in made:
        render_version.call(m.current_version_id)
        m.refresh_from_db()
    services.meeting_start(meeting=meeting, actor=city.kacho)
    return made


class Closed(Exception):
    def __init__(self, code: int | None) -> None:
        super().__init__(f"socket closed with {code}")
        self.code = code


class Tablet:
    def __init__(self, loop: asyncio.AbstractEventLoop, base_ws: str, cookie: str | None) -> None:
        self.loop = loop
        self.base_ws = base_ws
        self.cookie = cookie
        self.ws: ClientConnection | None = None
        self.seq = 0

    def run(self, coro: Any, timeout: float = TIMEOUT) -> Any:
        return self.loop.run_until_complete(asyncio.wait_for(coro, timeout))

    def open(self, meeting_id: int, origin: str | None = None) -> None:
        headers = {"Origin": origin or self.base_ws.replace("ws://", "http://")}
        if self.cookie:
            headers["Cookie"] = self.cookie
        url = f"{self.base_ws}/ws/meetings/{meeting_id}/"
        self.ws = self.run(connect(url, additional_headers=headers, open_timeout=TIMEOUT))

    def connect(self, meeting_id: int) -> dict[str, Any]:
        """Open and return the snapshot (raises Closed with the server's code if refused)."""
        self.open(meeting_id)
        snapshot = self.recv_type("snapshot")
        return snapshot

    def send(self, message: dict[str, Any] | str | bytes) -> None:
        assert self.ws is not None
        data = json.dumps(message) if isinstance(message, dict) else message
        self.run(self.ws.send(data))

    def recv(self, timeout: float = TIMEOUT) -> dict[str, Any]:
        assert self.ws is not None
        try:
            raw = self.run(self.ws.recv(), timeout)
        except ConnectionClosed as exc:
            raise Closed(exc.rcvd.code if exc.rcvd else None) from exc
        message = json.loads(raw)
        if isinstance(message.get("seq"), int) and message.get("type") != "pong":
            self.seq = message["seq"]
        return message

    def recv_type(self, kind: str, timeout: float = TIMEOUT) -> dict[str, Any]:
        """The next message of `kind`, skipping presence lists (they come and go)."""
        while True:
            message = self.recv(timeout)
            if message["type"] == kind:
                return message
            if message["type"] != "presence":
                raise AssertionError(f"wanted {kind}, got {message}")

    def recv_presence(self, timeout: float = TIMEOUT) -> dict[str, Any]:
        while True:
            message = self.recv(timeout)
            if message["type"] == "presence":
                return message

    def quiet(self, seconds: float = 0.3) -> list[dict[str, Any]]:
        """Whatever arrives within `seconds` (presence lists left out)."""
        got = []
        while True:
            try:
                message = self.recv(seconds)
            except TimeoutError:
                return got
            if message["type"] != "presence":
                got.append(message)

    def closed_with(self, timeout: float = TIMEOUT) -> int | None:
        """Wait for the server to close the socket; its close code."""
        while True:
            try:
                self.recv(timeout)
            except Closed as exc:
                return exc.code

    def close(self) -> None:
        if self.ws is not None:
            self.run(self.ws.close())
            self.ws = None
