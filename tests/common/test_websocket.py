"""The WebSocket stack: session auth and origin validation before any consumer runs."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore

from config.asgi import application
from tests.org.factories import StaffFactory

pytestmark = pytest.mark.django_db(transaction=True)


def session_cookie_for(user) -> bytes:
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "org.auth.StaffBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.save()
    return f"{settings.SESSION_COOKIE_NAME}={session.session_key}".encode()


def communicator(
    cookie: bytes | None = None, origin: bytes = b"http://127.0.0.1"
) -> WebsocketCommunicator:
    headers = [(b"origin", origin)]
    if cookie:
        headers.append((b"cookie", cookie))
    return WebsocketCommunicator(application, "/ws/ping/", headers=headers)


async def try_connect(comm: WebsocketCommunicator) -> tuple[bool, int | None]:
    """(True, None) for a socket that stays open; (False, code) for one refused in the
    handshake or accepted and then closed with a code."""
    connected, code = await comm.connect()
    if not connected:
        return False, code
    if await comm.receive_nothing(timeout=0.2):
        await comm.disconnect()
        return True, None
    closed = await comm.receive_output()
    assert closed["type"] == "websocket.close", closed
    return False, closed.get("code")


def test_anonymous_socket_is_closed_with_4401() -> None:
    # Accepted and then closed, so that a browser reads the code (a refused handshake
    # only shows it 1006) and stops reconnecting.
    connected, code = async_to_sync(try_connect)(communicator())
    assert not connected and code == 4401


def test_foreign_origin_is_refused_before_auth() -> None:
    cookie = session_cookie_for(StaffFactory())
    connected, _ = async_to_sync(try_connect)(communicator(cookie, origin=b"https://evil.example"))
    assert not connected


def test_signed_in_socket_answers_and_rejects_unknown_types() -> None:
    cookie = session_cookie_for(StaffFactory())

    async def scenario() -> list[dict]:
        comm = communicator(cookie)
        connected, _ = await comm.connect()
        assert connected
        await comm.send_json_to({"type": "ping"})
        first = await comm.receive_json_from()
        await comm.send_json_to({"type": "nonsense"})
        second = await comm.receive_json_from()
        await comm.send_to(text_data="not json at all")
        third = await comm.receive_json_from()
        await comm.disconnect()
        return [first, second, third]

    pong, unknown, malformed = async_to_sync(scenario)()
    assert pong == {"type": "pong"}
    assert unknown["type"] == "error"
    assert malformed["type"] == "error"
