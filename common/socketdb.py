"""The database work of long-lived sockets, on one connection per worker process.

Under ASGI Django keeps its connections per request context, and Channels'
`database_sync_to_async` closes them after every call when CONN_MAX_AGE is 0 (the
setting the ASGI server needs, see config/settings.py). For a socket that means a new
connection for every message: 1–2 ms on SQLite, where each connection reads the schema
anew, and a connect (or a pool checkout) on PostgreSQL. A page turn is one message from
the presenter that two hundred tablets wait on (bench/meeting_fanout.py).

`socket_db(fn)` runs `fn` in the same sync thread as `database_sync_to_async` would, but
inside one context of this process's own (one per sync thread), so every socket of the
process shares that context's connection, one call at a time. The connection is kept
between calls and checked after each one as Django checks a request's: an error makes
Django test it and close it if it is unusable; a transaction left open closes it. Only
code written for a socket's small, short database calls belongs here; a call must not
keep state in context variables (it runs in an empty context, the default language).
"""

from __future__ import annotations

import contextvars
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from functools import wraps
from typing import Any, ParamSpec, TypeVar

from asgiref.sync import sync_to_async
from django.core.exceptions import ImproperlyConfigured
from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import QuerySet

P = ParamSpec("P")
T = TypeVar("T")

_local = threading.local()


def _context() -> contextvars.Context:
    context = getattr(_local, "context", None)
    if context is None:
        context = _local.context = contextvars.Context()
    return context


def _drop(conn: BaseDatabaseWrapper) -> None:
    """Close the connection and forget the wrapper with its transaction state, so the
    next call starts afresh (Django refuses to reconnect inside an atomic block)."""
    try:
        conn.close()
    finally:
        del connections[conn.alias]


def _settle() -> None:
    """After a call: keep each connection unless Django would drop it for its health
    (its age does not count: keeping it is the point)."""
    for conn in connections.all(initialized_only=True):
        if conn.in_atomic_block:  # a bug left a transaction open: never reuse that
            _drop(conn)
            continue
        if conn.connection is None:
            continue
        conn.close_at = None
        conn.close_if_unusable_or_obsolete()


def _call(fn: Callable[..., T], args: tuple, kwargs: dict) -> T:
    try:
        return fn(*args, **kwargs)
    finally:
        _settle()


def _run(fn: Callable[..., T], args: tuple, kwargs: dict) -> T:
    return _context().run(_call, fn, args, kwargs)


def socket_db(fn: Callable[P, T]) -> Callable[P, Awaitable[T]]:
    """`fn` as a coroutine function running on the process's socket connection."""

    @wraps(fn)
    async def run(*args: P.args, **kwargs: P.kwargs) -> T:
        return await sync_to_async(_run, thread_sensitive=True)(fn, args, kwargs)

    return run


def close_socket_connections() -> None:
    """Close this thread's socket connections (a server stopping; a test tearing down)."""
    context = getattr(_local, "context", None)
    if context is not None:
        context.run(_drop_all)


def _drop_all() -> None:
    for conn in connections.all(initialized_only=True):
        _drop(conn)


def execute(alias: str, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    """Run SQL that a socket runs again and again; its rows, as the driver gives them.

    On PostgreSQL the statement is prepared on the connection (server-side binding), so
    the planner runs once per connection instead of on every page turn (over a
    millisecond for the access query's subqueries). Errors are Django's, and mark the
    connection for its health check, as with its own cursors."""
    connection = connections[alias]
    if connection.vendor != "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall() if cursor.description else []
    import psycopg

    connection.ensure_connection()
    raw = connection.connection
    if raw.prepare_threshold is None:
        # Django turns preparing off (its cursors bind on the client and cannot prepare
        # anyway); allow it for statements asked to be prepared, and nothing else.
        raw.prepare_threshold = 2**31 - 1
    started = time.monotonic()
    with connection.wrap_database_errors, psycopg.Cursor(raw) as cursor:
        cursor.execute(sql, params, prepare=True)
        rows = cursor.fetchall() if cursor.description else []
    if connection.queries_logged:  # counted like Django's own (query-count tests, DEBUG)
        duration = time.monotonic() - started
        connection.queries_log.append({"sql": sql, "time": f"{duration:.3f}"})
    return rows


class Compiled:
    """An ORM query compiled once per database, with stand-in ids put in for the real
    ones on every run (the ORM spends about a millisecond compiling a query with a few
    subqueries; a socket may run it on every message).

    `build(*stand_ins)` returns the query; each stand-in must reach the SQL as a plain
    parameter, which is checked when compiling. Rows come back as the driver gives them
    (SQLite: 0/1 for booleans and text for datetimes), so select only plain columns or
    convert."""

    def __init__(self, build: Callable[..., QuerySet], *stand_ins: int) -> None:
        self.build = build
        self.stand_ins = stand_ins
        self.compiled: dict[str, tuple[str, tuple[Any, ...]]] = {}

    def sql(self, alias: str) -> tuple[str, tuple[Any, ...]]:
        found = self.compiled.get(alias)
        if found is None:
            query = self.build(*self.stand_ins).using(alias).query
            sql, params = query.get_compiler(alias).as_sql()
            missing = [s for s in self.stand_ins if s not in params]
            if missing:
                raise ImproperlyConfigured(f"stand-ins {missing} are not parameters of {sql}")
            found = self.compiled[alias] = (sql, tuple(params))
        return found

    def run(self, alias: str, *ids: int) -> list[tuple[Any, ...]]:
        sql, params = self.sql(alias)
        real = dict(zip(self.stand_ins, (int(i) for i in ids), strict=True))
        return execute(alias, sql, [real.get(p, p) if type(p) is int else p for p in params])
