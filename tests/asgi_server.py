"""A real ASGI server for tests that need WebSockets: uvicorn serving
`config.asgi.application` from a daemon thread, on its own event loop.

The in-memory SQLite test database is shared-cache, so the server's threads see the rows
a `transaction=True` test committed. `call()` runs a sync function (a service that
broadcasts) on the server's loop: the in-memory channel layer's queues belong to that
loop, and Playwright's sync API keeps a loop running in the test thread, where
`async_to_sync` cannot run at all.
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
import uvicorn
from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore

from common.socketdb import close_socket_connections

T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def session_cookie(user) -> str:
    """A signed-in session for `user`, as the Cookie header value a browser would send."""
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "org.auth.StaffBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.save()
    return f"{settings.SESSION_COOKIE_NAME}={session.session_key}"


class AsgiServer:
    """uvicorn in a daemon thread on a fixed free port; it can be stopped and started
    again on the same port (to see a page reconnect)."""

    def __init__(self) -> None:
        from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler

        from config.asgi import application

        # Static files from the finders through Django's async-aware handler (as Channels'
        # live server does): WhiteNoise's file responses are sync iterators, which Django
        # warns about under ASGI, and warnings are errors in this suite.
        self.app = ASGIStaticFilesHandler(application)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}"
        self.server: uvicorn.Server | None = None
        self.thread: threading.Thread | None = None
        self.loop: asyncio.AbstractEventLoop | None = None

    def start(self) -> None:
        config = uvicorn.Config(
            self.app,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="off",
            loop="asyncio",
            # The websockets library through its current (Sans-I/O) API: uvicorn's
            # "websockets" protocol imports websockets.legacy, deprecated since
            # websockets 14, and the suite turns warnings into errors.
            ws="websockets-sansio",
        )
        server = uvicorn.Server(config)
        server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
        loop = asyncio.new_event_loop()

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(server.serve())
            finally:
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.close()

        thread = threading.Thread(target=run, name="uvicorn-test", daemon=True)
        thread.start()
        deadline = time.monotonic() + 15
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                pytest.fail("uvicorn did not start")
            time.sleep(0.05)
        self.server, self.thread, self.loop = server, thread, loop

    def stop(self) -> None:
        if self.server is not None and self.thread is not None:
            self.server.should_exit = True
            self.thread.join(timeout=10)
            # The sockets' shared database connection (common/socketdb.py) would outlive
            # the test and keep the test database from being dropped. Closed once the
            # server is down (the sockets closing at shutdown use it), in the same sync
            # thread the server used (asgiref's one thread for thread-sensitive work),
            # reached from a thread of its own: this one may be running a loop
            # (Playwright's).
            closing = threading.Thread(
                target=lambda: asyncio.run(sync_to_async(close_socket_connections)())
            )
            closing.start()
            closing.join(timeout=10)
        self.server = self.thread = self.loop = None

    def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run `fn` in the server's sync thread (as a consumer would) and return its result."""
        assert self.loop is not None, "the server is not running"
        coro = sync_to_async(fn)(*args, **kwargs)
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=60)


def isolate_channel_layer(settings) -> None:
    """Give this test its own channel-layer prefix when the layer is Redis, so tests run
    in parallel (or a developer's server) sharing one Redis never hear each other's
    groups; `settings` is pytest-django's fixture (restored after the test)."""
    import copy
    import uuid

    layers = copy.deepcopy(settings.CHANNEL_LAYERS)
    config = layers["default"].get("CONFIG")
    if config is not None and "hosts" in config:
        config["prefix"] = f"test{uuid.uuid4().hex[:12]}"
    settings.CHANNEL_LAYERS = layers


class AsgiProcess:
    """uvicorn serving the project in a child process with its own environment (another
    worker of the same site: same database, same Redis, same SECRET_KEY)."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}"
        self.env = env
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30) -> None:
        cmd = [
            sys.executable,
            "-m",
            "uvicorn",
            "config.asgi:application",
            "--host=127.0.0.1",
            f"--port={self.port}",
            "--ws=websockets-sansio",
            "--lifespan=off",
            "--log-level=warning",
        ]
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                cmd, cwd=settings.BASE_DIR, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                pytest.fail(f"uvicorn exited with {self.proc.returncode}:\n{self.log()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"uvicorn did not start:\n{self.log()}")
                time.sleep(0.1)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-5000:]

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
