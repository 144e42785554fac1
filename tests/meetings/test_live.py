"""The live session, /ws/meetings/<id>/, with a real WebSocket client against a running
server (uvicorn in a thread; the in-memory layer, or Redis when REDIS_URL is set).

The meeting: 課長 organises and chairs (a presenter), 起案 and 係長 attend; two materials
of three pages, rendered and started.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator

import pytest
from django.utils import timezone
from guardian.shortcuts import remove_perm
from websockets.exceptions import InvalidStatus

from meetings import live, services
from meetings.models import Material, Note, Presence
from meetings.tasks import render_version
from tests.asgi_server import AsgiServer, isolate_channel_layer, session_cookie
from tests.meetings.conftest import make_pdf, upload
from tests.meetings.live_client import Tablet, start_session

pytestmark = pytest.mark.django_db(transaction=True)

# meetings.views.page_image answers with a FileResponse (a sync iterator), which Django
# serves under ASGI with this warning; the suite makes warnings errors, in the server
# thread too. (Reported: small JPEGs can be answered as plain bytes under ASGI.)
SYNC_FILE_UNDER_ASGI = "ignore:StreamingHttpResponse must consume synchronous iterators:Warning"


@pytest.fixture
def materials(city, meeting) -> list[Material]:
    return start_session(city, meeting)


@pytest.fixture
def server(settings, materials) -> Iterator[AsgiServer]:
    isolate_channel_layer(settings)
    server = AsgiServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    try:
        yield loop
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


@pytest.fixture
def tablet(server, loop) -> Iterator[Callable[..., Tablet]]:
    made: list[Tablet] = []

    def make(user=None) -> Tablet:
        # Database work goes through the server's sync thread while it runs: the shared
        # in-memory SQLite refuses a second writer at once ("table is locked").
        cookie = server.call(session_cookie, user) if user is not None else None
        t = Tablet(loop, server.ws_url, cookie)
        made.append(t)
        return t

    yield make
    for t in made:
        with contextlib.suppress(Exception):  # already closed by the server
            t.close()


def image_status(server: AsgiServer, cookie: str, path: str) -> int:
    request = urllib.request.Request(server.url + path, headers={"Cookie": cookie})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - loopback
            response.read()
            return response.status
    except urllib.error.HTTPError as exc:
        exc.close()
        return exc.code


def test_anonymous_outsiders_and_other_sites_are_refused(city, meeting, server, tablet) -> None:
    anonymous = tablet()
    anonymous.open(meeting.pk)
    assert anonymous.closed_with() == 4401

    outsider = tablet(city.outsider)
    outsider.open(meeting.pk)
    assert outsider.closed_with() == 4403

    no_such_meeting = tablet(city.drafter)
    no_such_meeting.open(meeting.pk + 999)
    assert no_such_meeting.closed_with() == 4403

    evil = tablet(city.drafter)
    with pytest.raises(InvalidStatus) as refused:
        evil.open(meeting.pk, origin="https://evil.example")
    assert refused.value.response.status_code == 403


def test_the_snapshot_comes_first_and_the_presenter_leads(
    city, meeting, materials, server, tablet
) -> None:
    first, second = materials
    chair = tablet(city.kacho)
    snap = chair.connect(meeting.pk)
    assert snap["status"] == "in_session" and snap["you"]["presenter"] is True
    assert [m["id"] for m in snap["materials"]] == [first.pk, second.pk]
    assert snap["materials"][0] == {
        "id": first.pk,
        "title": "資料1",
        "version": first.current_version_id,
        "number": 1,
        "pages": 3,
        "revoked": False,
        "confidential": False,
    }
    assert snap["image_base"] == f"/meetings/{meeting.pk}/pages/"

    member = tablet(city.drafter)
    msnap = member.connect(meeting.pk)
    assert msnap["seq"] == snap["seq"] and msnap["you"] == {
        "staff": city.drafter.pk,
        "presenter": False,
    }

    chair.send({"type": "goto", "material": first.pk, "page": 2})
    for t in (chair, member):
        moved = t.recv_type("position")
        assert moved == {
            "type": "position",
            "seq": snap["seq"] + 1,
            "material": first.pk,
            "version": first.current_version_id,
            "page": 2,
            "forced": False,
        }

    # A member cannot lead, and a page outside the material is refused.
    member.send({"type": "goto", "material": first.pk, "page": 3})
    refused = member.recv_type("error")
    assert refused["code"] == "forbidden" and refused["request"] == "goto"
    chair.send({"type": "goto", "material": first.pk, "page": 4})
    assert chair.recv_type("error")["code"] == "refused"

    chair.send({"type": "force", "on": True})
    assert member.recv_type("position")["forced"] is True
    assert chair.recv_type("position")["seq"] == snap["seq"] + 2


@pytest.mark.filterwarnings(SYNC_FILE_UNDER_ASGI)
def test_revoke_removes_the_material_everywhere_at_once(
    city, meeting, materials, server, tablet
) -> None:
    first, second = materials
    chair, member = tablet(city.kacho), tablet(city.drafter)
    chair.connect(meeting.pk)
    member.connect(meeting.pk)
    chair.send({"type": "goto", "material": first.pk, "page": 2})
    member.recv_type("position")
    chair.recv_type("position")
    image = f"/meetings/{meeting.pk}/pages/{first.current_version_id}/2.jpg"
    assert image_status(server, member.cookie, image) == 200

    chair.send({"type": "revoke", "material": first.pk})
    gone = member.recv_type("materials")
    assert gone["material"] is None and gone["version"] is None
    assert {m["id"]: m["revoked"] for m in gone["materials"]} == {first.pk: True, second.pk: False}
    assert image_status(server, member.cookie, image) == 404
    assert image_status(server, chair.cookie, image) == 404
    server.call(first.refresh_from_db)
    assert first.is_revoked and first.revoked_by == city.kacho

    # It cannot be shown again, and a late tablet's snapshot says it is gone.
    chair.recv_type("materials")
    chair.send({"type": "goto", "material": first.pk, "page": 1})
    assert chair.recv_type("error")["code"] == "refused"
    late = tablet(city.kakaricho).connect(meeting.pk)
    assert [m["revoked"] for m in late["materials"]] == [True, False]
    assert late["material"] is None


def test_a_tablet_that_missed_changes_ends_in_the_presenters_state(
    city, meeting, materials, server, tablet
) -> None:
    first, second = materials
    chair, member = tablet(city.kacho), tablet(city.drafter)
    start = chair.connect(meeting.pk)["seq"]
    assert member.connect(meeting.pk)["seq"] == start

    member.close()  # the Wi-Fi drops mid-meeting …
    chair.send({"type": "goto", "material": first.pk, "page": 3})
    chair.send({"type": "push", "material": second.pk})
    chair.send({"type": "goto", "material": second.pk, "page": 2})
    assert chair.recv_type("position")["seq"] == start + 1
    assert chair.recv_type("materials")["seq"] == start + 2
    last = chair.recv_type("position")
    assert last["seq"] == start + 3

    back = member.connect(meeting.pk)  # … and comes back: the snapshot is the state
    assert back["seq"] == last["seq"] == start + 3
    assert (back["material"], back["version"], back["page"]) == (
        second.pk,
        second.current_version_id,
        2,
    )
    assert member.quiet() == []  # nothing stale follows


def test_a_lost_broadcast_is_repaired_by_snapshot_and_heartbeat(
    city, meeting, materials, server, tablet
) -> None:
    first, _second = materials
    chair, member = tablet(city.kacho), tablet(city.drafter)
    start = chair.connect(meeting.pk)["seq"]
    member.connect(meeting.pk)

    # A change whose broadcast is lost: the heartbeat's seq shows the gap.
    server.call(live.state_change, meeting.pk, page=2)
    member.send({"type": "ping", "seq": member.seq})
    assert member.recv_type("pong")["seq"] == start + 1 > member.seq
    member.send({"type": "resync"})
    assert member.recv_type("snapshot")["seq"] == start + 1

    # The next broadcast skips one for the chair's socket: it gets a snapshot instead.
    chair.send({"type": "goto", "material": first.pk, "page": 3})
    repaired = chair.recv()
    assert repaired["type"] == "snapshot" and repaired["seq"] == start + 2
    assert repaired["page"] == 3
    assert member.recv_type("position")["seq"] == start + 2


def test_bad_messages_get_an_error_frame_and_everything_stays_up(
    city, meeting, materials, server, tablet
) -> None:
    member = tablet(city.drafter)
    member.connect(meeting.pk)
    cases = [
        ("not json at all", "invalid_json"),
        ("[1, 2]", "unknown_type"),
        ({"type": "dance"}, "unknown_type"),
        ({"page": 1}, "unknown_type"),
        ({"type": "notes"}, "invalid_message"),
        ({"type": "notes", "version": "1"}, "invalid_message"),
        ({"type": "notes", "version": True}, "invalid_message"),
        ({"type": "notes", "version": -3}, "invalid_message"),
        ({"type": "notes", "version": 1, "extra": 1}, "invalid_message"),
        ({"type": "force", "on": 1}, "invalid_message"),
        ({"type": "ping", "seq": 1, "group": "meeting-1"}, "invalid_message"),
        ({"type": "note", "version": 1, "page": 1, "text": "あ" * 6000}, "invalid_frame"),
        ("x" * (17 * 1024), "invalid_frame"),
        (b"\x00\x01binary", "invalid_frame"),
    ]
    for message, code in cases:
        member.send(message)
        error = member.recv_type("error")
        assert error["code"] == code, (message, error)
        assert error["message"]
    member.send({"type": "ping"})
    assert member.recv_type("pong")
    assert tablet(city.kakaricho).connect(meeting.pk)["type"] == "snapshot"


def test_messages_are_rate_limited_per_connection(
    settings, city, meeting, materials, server, tablet
) -> None:
    settings.MEETINGS_WS_RATE_PER_10S = 5
    member, other = tablet(city.drafter), tablet(city.kakaricho)
    member.connect(meeting.pk)
    other.connect(meeting.pk)
    for _ in range(8):
        member.send({"type": "ping"})
    answers = [member.recv_type("pong" if i < 5 else "error") for i in range(6)]
    assert [a["type"] for a in answers] == ["pong"] * 5 + ["error"]
    assert answers[-1]["code"] == "rate_limited"
    assert member.quiet() == []  # the rest dropped, told once
    other.send({"type": "ping"})  # per connection: the other tablet is not limited
    assert other.recv_type("pong")


def test_a_removed_participant_is_kicked_and_refused_on_reconnect(
    city, meeting, materials, server, tablet
) -> None:
    member, other = tablet(city.drafter), tablet(city.kakaricho)
    member.connect(meeting.pk)
    other.connect(meeting.pk)
    server.call(services.participant_remove, meeting=meeting, actor=city.kacho, staff=city.drafter)
    assert member.closed_with() == 4403
    again = tablet(city.drafter)
    again.open(meeting.pk)
    assert again.closed_with() == 4403
    other.send({"type": "ping"})
    assert other.recv_type("pong")
    assert not server.call(Presence.objects.filter(staff=city.drafter).exists)


def test_access_is_rechecked_on_every_message(city, meeting, materials, server, tablet) -> None:
    member = tablet(city.drafter)
    member.connect(meeting.pk)
    server.call(remove_perm, services.ATTEND, city.drafter, meeting)  # as if the kick were lost
    member.send({"type": "ping"})
    assert member.closed_with() == 4403


def test_notes_are_saved_per_person_and_never_broadcast(
    city, meeting, materials, server, tablet
) -> None:
    first, _second = materials
    version = first.current_version_id
    member, other = tablet(city.drafter), tablet(city.kakaricho)
    member.connect(meeting.pk)
    other.connect(meeting.pk)
    member.send({"type": "note", "version": version, "page": 2, "text": "予算の根拠を確認"})
    assert member.recv_type("note_saved") == {
        "type": "note_saved",
        "version": version,
        "page": 2,
        "saved": True,
    }
    assert other.quiet() == []
    member.send({"type": "notes", "version": version})
    assert member.recv_type("notes")["notes"] == [
        {"page": 2, "text": "予算の根拠を確認", "read_only": False}
    ]
    other.send({"type": "notes", "version": version})
    assert other.recv_type("notes")["notes"] == []
    assert server.call(Note.objects.get, staff=city.drafter).text == "予算の根拠を確認"
    member.send({"type": "note", "version": version, "page": 9, "text": "x"})
    assert member.recv_type("error")["code"] == "refused"


def test_the_chair_sees_who_is_connected(city, meeting, materials, server, tablet) -> None:
    chair = tablet(city.kacho)
    chair.connect(meeting.pk)
    member = tablet(city.drafter)
    member.connect(meeting.pk)

    def online() -> dict[int, bool]:
        chair.send({"type": "presence"})
        while True:
            people = chair.recv()
            if people["type"] == "presence":
                return {p["staff"]: p["online"] for p in people["people"]}

    assert online() == {city.kacho.pk: True, city.drafter.pk: True, city.kakaricho.pk: False}
    # A tablet that vanished without closing: its row goes stale and is ignored.
    long_ago = timezone.now() - dt.timedelta(minutes=5)
    server.call(
        Presence.objects.create,
        meeting=meeting,
        staff=city.kakaricho,
        channel_name="gone-tablet",
        connected_at=long_ago,
        seen_at=long_ago,
    )
    assert online()[city.kakaricho.pk] is False
    seen = server.call(Presence.objects.get, staff=city.drafter).seen_at
    member.send({"type": "ping"})
    member.recv_type("pong")
    assert server.call(Presence.objects.get, staff=city.drafter).seen_at > seen
    member.close()
    # The chair is told without asking (coalesced), and the row is gone.
    for _ in range(10):
        people = chair.recv_presence()
        if {p["staff"]: p["online"] for p in people["people"]}[city.drafter.pk] is False:
            break
    else:
        pytest.fail("the chair's presence list did not update")
    assert not server.call(Presence.objects.filter(staff=city.drafter).exists)
    listing = tablet(city.kakaricho)
    listing.connect(meeting.pk)
    listing.send({"type": "presence"})
    assert listing.recv_type("error")["code"] == "forbidden"


def test_a_material_added_during_the_meeting_reaches_every_tablet_and_can_be_pushed(
    city, meeting, materials, server, tablet
) -> None:
    chair, member = tablet(city.kacho), tablet(city.drafter)
    chair.connect(meeting.pk)
    member.connect(meeting.pk)

    def add_and_render() -> Material:
        added = services.material_add(
            meeting=meeting, actor=city.kacho, title="追加資料", upload=upload(make_pdf(2))
        )
        render_version.call(added.current_version_id)
        added.refresh_from_db()
        return added

    added = server.call(add_and_render)
    listed = member.recv_type("materials")
    while not any(m["id"] == added.pk and m["version"] for m in listed["materials"]):
        listed = member.recv_type("materials")  # added (not rendered), then rendered
    chair.send({"type": "push", "material": added.pk})
    pushed = member.recv_type("materials")
    while pushed["material"] != added.pk:
        pushed = member.recv_type("materials")
    assert (pushed["version"], pushed["page"]) == (added.current_version_id, 1)
    member.send({"type": "push", "material": added.pk})
    assert member.recv_type("error")["code"] == "forbidden"
