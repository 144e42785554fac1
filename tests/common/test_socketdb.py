"""common/socketdb.py: the sockets of a worker process share one kept connection; a
connection in a bad state is dropped after the call; a compiled query runs with real
ids; on PostgreSQL the statements a socket repeats are prepared once."""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import sync_to_async
from django.core.exceptions import ImproperlyConfigured
from django.db import OperationalError, connection, transaction
from django.test.utils import CaptureQueriesContext

from common.socketdb import Compiled, close_socket_connections, socket_db
from org.models import Staff

pytestmark = pytest.mark.django_db(transaction=True)


def backend() -> tuple[int, object]:
    """This context's connection: (its identity, the driver's object)."""
    connection.ensure_connection()
    raw = connection.connection
    pid = raw.info.backend_pid if connection.vendor == "postgresql" else 0
    return pid, raw


def run(*calls):
    async def scenario():
        results = [await socket_db(fn)(*args) for fn, *args in calls]
        await sync_to_async(close_socket_connections)()
        return results

    return asyncio.run(scenario())


def test_calls_from_any_socket_share_one_kept_connection() -> None:
    first, second = run((backend,), (backend,))
    assert first[1] is second[1]  # not closed after the call, as Django would


def test_closing_them_drops_the_connection() -> None:
    async def scenario():
        await socket_db(backend)()
        await sync_to_async(close_socket_connections)()
        return await socket_db(lambda: connection.connection)()

    # In-memory SQLite (the test database) is never really closed by Django.
    closed = asyncio.run(scenario())
    assert closed is None or connection.vendor == "sqlite"
    asyncio.run(sync_to_async(close_socket_connections)())


def test_a_transaction_left_open_is_not_reused(need_postgres) -> None:
    def leave_open() -> None:
        transaction.atomic().__enter__()  # a bug: never left

    def state() -> tuple[bool, int]:
        return connection.in_atomic_block, Staff.objects.count()

    _before, _leak, after = run((backend,), (leave_open,), (state,))
    assert after == (False, Staff.objects.count())


def test_a_broken_connection_is_replaced(need_postgres) -> None:
    def terminated() -> None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(pg_backend_pid())")

    async def scenario():
        first = await socket_db(backend)()
        with pytest.raises(OperationalError):
            await socket_db(terminated)()
        second = await socket_db(backend)()
        await sync_to_async(close_socket_connections)()
        return first, second

    first, second = asyncio.run(scenario())
    assert first[0] != second[0]


def test_a_compiled_query_runs_with_the_real_ids() -> None:
    staff = Staff.objects.create_user(username="socket", password=None, last_name="試験")
    query = Compiled(
        lambda pk: Staff.objects.filter(pk=pk, is_active=True).values_list("username"),
        -9_000_001,
    )
    assert query.run("default", staff.pk) == [("socket",)]
    assert query.run("default", staff.pk + 1000) == []
    assert query.sql("default") is query.sql("default")  # compiled once

    unused = Compiled(lambda pk: Staff.objects.filter(is_active=True), -9_000_002)
    with pytest.raises(ImproperlyConfigured):
        unused.run("default", staff.pk)


def test_repeated_statements_are_prepared_on_postgresql(need_postgres) -> None:
    staff = Staff.objects.create_user(username="prepared", password=None, last_name="試験")
    query = Compiled(lambda pk: Staff.objects.filter(pk=pk).values_list("username"), -9_000_003)

    def twice_then_prepared() -> list[str]:
        with CaptureQueriesContext(connection) as counted:
            query.run("default", staff.pk)
            query.run("default", staff.pk)
        assert len(counted) == 2  # counted as Django's own queries are
        with connection.cursor() as cursor:
            cursor.execute("SELECT statement FROM pg_prepared_statements")
            return [row[0] for row in cursor.fetchall()]

    (prepared,) = run((twice_then_prepared,))
    assert any('"org_staff"' in statement for statement in prepared)
