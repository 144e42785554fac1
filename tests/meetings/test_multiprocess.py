"""The live session across worker processes: two uvicorn processes sharing PostgreSQL and
the Redis channel layer, the presenter on one, the tablets on the other.

Needs Redis and PostgreSQL (`need_redis`, `need_postgres`): the two server processes and
this test must see one database, which the in-memory SQLite test database is not, and a
file-backed SQLite would not be what production runs. With REQUIRE_SERVICES=1 (CI's
PostgreSQL + Redis run) a missing service fails the test instead of skipping it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings as django_settings
from django.db import connection

from meetings import services
from tests.asgi_server import AsgiProcess, isolate_channel_layer, session_cookie
from tests.meetings.live_client import Tablet, start_session
from tests.org.factories import StaffFactory

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]

VIEWERS = 6


def database_url() -> str:
    db = connection.settings_dict
    auth = quote(db["USER"] or "", safe="")
    if db["PASSWORD"]:
        auth += ":" + quote(db["PASSWORD"], safe="")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture
def workers(need_redis, need_postgres, settings, tmp_path: Path) -> Iterator[list[AsgiProcess]]:
    isolate_channel_layer(settings)  # this test process speaks to the same groups
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": database_url(),
        "REDIS_URL": need_redis,
        "CHANNEL_LAYER_PREFIX": settings.CHANNEL_LAYERS["default"]["CONFIG"]["prefix"],
        "SECRET_KEY": django_settings.SECRET_KEY,
        "DEBUG": "0",
        "SECURE_SSL_REDIRECT": "0",
        "ALLOWED_HOSTS": "127.0.0.1",
        "VAR_DIR": str(tmp_path / "var"),
        "MEDIA_ROOT": str(tmp_path / "media"),
    }
    (tmp_path / "var").mkdir()
    procs = [AsgiProcess(env, tmp_path / f"uvicorn-{i}.log") for i in (1, 2)]
    try:
        for p in procs:
            p.start()
        yield procs
    finally:
        for p in procs:
            p.stop()


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    try:
        yield loop
    finally:
        loop.close()


def test_tablets_on_another_worker_follow_the_presenter(city, meeting, workers, loop) -> None:
    first, second = start_session(city, meeting)
    extra = [StaffFactory() for _ in range(VIEWERS - 2)]
    services.participants_add(meeting=meeting, actor=city.kacho, staff=extra)
    people = [city.drafter, city.kakaricho, *extra]
    left, right = workers

    chair = Tablet(loop, left.ws_url, session_cookie(city.kacho))
    viewers = [Tablet(loop, right.ws_url, session_cookie(p)) for p in people]
    try:
        start = chair.connect(meeting.pk)["seq"]
        for v in viewers:
            assert v.connect(meeting.pk)["seq"] == start

        turns = [(first.pk, 2), (first.pk, 3), (first.pk, 1)]
        for n, (material, page) in enumerate(turns, start=1):
            chair.send({"type": "goto", "material": material, "page": page})
            for t in (chair, *viewers):
                moved = t.recv_type("position")
                assert (moved["seq"], moved["material"], moved["page"]) == (
                    start + n,
                    material,
                    page,
                ), t
        chair.send({"type": "push", "material": second.pk})
        for t in (chair, *viewers):
            pushed = t.recv_type("materials")
            assert (pushed["seq"], pushed["material"], pushed["page"]) == (start + 4, second.pk, 1)

        # A service in a third process (this one) reaches both workers: revoke and kick.
        services.material_revoke(material=second, actor=city.kacho)
        for t in (chair, *viewers):
            gone = t.recv_type("materials")
            assert gone["seq"] == start + 5 and gone["material"] is None
            assert {m["id"]: m["revoked"] for m in gone["materials"]}[second.pk] is True
        services.participant_remove(meeting=meeting, actor=city.kacho, staff=city.drafter)
        assert viewers[0].closed_with() == 4403
        for t in (chair, *viewers[1:]):
            t.send({"type": "ping"})
            assert t.recv_type("pong")["seq"] == start + 5
    except BaseException:
        for w in workers:
            print(f"--- {w.log_path.name}\n{w.log()}")
        raise
    finally:
        for t in (chair, *viewers):
            with contextlib.suppress(Exception):
                t.close()
