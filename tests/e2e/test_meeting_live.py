"""The meeting viewer in real browsers, over a real WebSocket.

課長 chairs from an iPad Pro-sized screen (1024×1366); two members hold 768×1024
tablets: 起案 follows the presenter, 係長 browses freely. The chair shows a material
and turns pages: the follower shows each page within a second, the free browser stays
where it is until it taps 「発表者の画面に戻る」. A material added during the meeting
appears on every tablet and the chair shows it to everyone; a revoked one leaves every
tablet at once. axe checks the viewer of both roles.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.utils import timezone
from playwright.sync_api import Browser, Page, expect

from meetings import services
from meetings.models import Material, Meeting
from meetings.tasks import render_version
from tests.asgi_server import AsgiServer, isolate_channel_layer
from tests.city import PASSWORD, City, build_city
from tests.meetings.conftest import make_pdf, upload
from tests.meetings.live_client import start_session

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True),
    # meetings.views.page_image answers with a FileResponse, a sync iterator, which
    # Django serves under ASGI with a warning (an error in this suite, server thread too).
    pytest.mark.filterwarnings(
        "ignore:StreamingHttpResponse must consume synchronous iterators:Warning"
    ),
]

TABLET = {"width": 768, "height": 1024}
CHAIR = {"width": 1024, "height": 1366}
FOLLOW_WITHIN_MS = 1_000
LIVE_TIMEOUT_MS = 5_000


@pytest.fixture
def city() -> City:
    return build_city()


@pytest.fixture
def media(settings, tmp_path):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "media")},
        },
    }


@pytest.fixture
def meeting(city: City, media) -> Meeting:
    start = timezone.now() + dt.timedelta(hours=1)
    meeting = services.meeting_create(
        actor=city.kacho,
        title="令和7年度 第3回 課内会議",
        starts_at=start,
        ends_at=start + dt.timedelta(hours=1),
        chair=city.kacho,
    )
    services.participants_add(
        meeting=meeting, actor=city.kacho, staff=[city.drafter, city.kakaricho]
    )
    start_session(city, meeting, count=2, pages=4)
    return meeting


@pytest.fixture
def server(meeting, settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[AsgiServer]:
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    isolate_channel_layer(settings)
    server = AsgiServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


def open_viewer(browser: Browser, server: AsgiServer, username: str, path: str, viewport):
    context = browser.new_context(viewport=viewport, locale="ja-JP", has_touch=True)
    page = context.new_page()
    # What the page's strict CSP refuses (inline script or style) is logged as a console
    # error; an exception in the script is a page error.
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(f"script error: {e}"))
    context.page_errors = errors  # type: ignore[attr-defined]
    page.goto(f"{server.url}/login/?next={path}")
    page.get_by_label("ユーザー名").fill(username)
    page.get_by_label("パスワード").fill(PASSWORD)
    page.get_by_role("button", name="ログイン").click()
    expect(page).to_have_url(f"{server.url}{path}")
    expect(page.locator("#meeting-viewer")).to_have_attribute("data-socket", "open")
    return context, page


def shows(page: Page, material: Material, number: int, timeout: int = LIVE_TIMEOUT_MS) -> None:
    """The page image is on screen: the right one, loaded."""
    viewer = page.locator("#meeting-viewer")
    expect(viewer).to_have_attribute("data-material", str(material.pk), timeout=timeout)
    expect(viewer).to_have_attribute("data-page", str(number), timeout=timeout)
    src = f"/{material.current_version_id}/{number}.jpg"
    page.wait_for_function(
        """(src) => { const i = document.getElementById('viewer-image');
                      return i && !i.hidden && i.complete && i.naturalWidth > 0
                             && i.src.endsWith(src); }""",
        arg=src,
        timeout=timeout,
    )


def assert_accessible(page: Page, what: str) -> None:
    results = Axe().run(page)
    assert results.response["passes"], "axe ran no rules"
    bad = [
        f"[{v['impact']}] {v['id']}: {v['help']} at {[n.get('target') for n in v['nodes'][:3]]}"
        for v in results.response["violations"]
        if v.get("impact") in ("serious", "critical")
    ]
    assert not bad, f"axe on {what}:\n" + "\n".join(bad)


def test_follow_free_push_and_revoke_across_three_tablets(
    city: City, meeting: Meeting, server: AsgiServer, browser: Browser, artifacts_dir: Path
) -> None:
    first, second = server.call(lambda: list(Material.objects.filter(meeting=meeting)))
    path = f"/meetings/{meeting.pk}/view/"
    contexts = []
    try:
        chair_ctx, chair = open_viewer(browser, server, city.kacho.username, path, CHAIR)
        follow_ctx, follower = open_viewer(browser, server, city.drafter.username, path, TABLET)
        free_ctx, free = open_viewer(browser, server, city.kakaricho.username, path, TABLET)
        contexts = [chair_ctx, follow_ctx, free_ctx]
        expect(follower.locator("#viewer-mode")).to_have_text("発表者に追従中")
        expect(chair.get_by_role("button", name="発表者の画面に戻る")).to_have_count(0)

        # The chair shows the first material to everyone.
        chair.get_by_label("操作する資料").select_option(label="資料1")
        chair.get_by_role("button", name="選んだ資料を全員に表示").click()
        for p in (chair, follower, free):
            shows(p, first, 1)

        # 係長 browses freely (one tap); 起案 keeps following.
        free.get_by_role("button", name="自由に閲覧").click()
        expect(free.locator("#viewer-mode")).to_have_text("自由に閲覧中")
        back = free.get_by_role("button", name="発表者の画面に戻る")
        expect(back).to_be_visible()

        for number in (2, 3):
            started = time.monotonic()
            chair.get_by_role("button", name="次のページ ▶").click()
            shows(follower, first, number, timeout=FOLLOW_WITHIN_MS)
            took = time.monotonic() - started
            assert took < FOLLOW_WITHIN_MS / 1000, f"the follower took {took:.2f} s"
            shows(chair, first, number)
        expect(follower.locator("#viewer-page")).to_have_text("3 / 4 ページ")
        # The free browser has not moved; it turns its own pages.
        shows(free, first, 1)
        free.get_by_role("button", name="次のページ ▶").click()
        shows(free, first, 2)
        expect(free.locator("#viewer-page")).to_have_text("2 / 4 ページ")
        follower.screenshot(path=artifacts_dir / "meeting-follower-768x1024.png")
        free.screenshot(path=artifacts_dir / "meeting-free-768x1024.png")
        assert_accessible(free, "the viewer of a member browsing freely")

        back.click()
        shows(free, first, 3)
        expect(free.locator("#viewer-mode")).to_have_text("発表者に追従中")
        expect(back).to_be_hidden()

        # A material added during the meeting reaches every tablet; the chair pushes it.
        def add_material() -> Material:
            added = services.material_add(
                meeting=meeting, actor=city.kacho, title="追加資料", upload=upload(make_pdf(2))
            )
            render_version.call(added.current_version_id)
            added.refresh_from_db()
            return added

        added = server.call(add_material)
        for p in (chair, follower, free):
            expect(p.locator("#viewer-material option", has_text="追加資料")).to_have_count(1)
        chair.get_by_label("操作する資料").select_option(label="追加資料")
        chair.get_by_role("button", name="選んだ資料を全員に表示").click()
        shows(follower, added, 1)
        shows(free, added, 1)

        # 係長 goes back to 資料1 on their own; the chair revokes it: gone at once.
        free.get_by_label("資料", exact=True).select_option(label="資料1")
        shows(free, first, 1)
        chair.get_by_label("操作する資料").select_option(label="資料1")
        chair.get_by_role("button", name="選んだ資料を回収").click()
        dialog = chair.get_by_role("dialog")
        expect(dialog).to_contain_text("資料「資料1」を回収します")
        chair.screenshot(path=artifacts_dir / "meeting-chair-revoke-1024x1366.png")
        dialog.get_by_role("button", name="回収する").click()
        for p in (chair, follower, free):
            expect(p.locator("#viewer-material option", has_text="資料1")).to_have_count(0)
            expect(p.locator("#meeting-viewer")).not_to_have_attribute(
                "data-materials", re.compile(rf"(^|,){first.pk}(,|$)")
            )
        shows(free, added, 1)  # off 資料1, back on the presenter's page
        expect(free.locator(f"img[src*='/pages/{first.current_version_id}/']")).to_have_count(0)
        free.screenshot(path=artifacts_dir / "meeting-after-revoke-768x1024.png")

        # The chair's bar: presence and forced sync.
        chair.get_by_role("button", name=re.compile("出席状況")).click()
        presence = chair.locator("#presence-list")
        expect(presence.locator("li")).to_have_count(3)
        expect(presence).to_contain_text("起案 太郎")
        expect(presence.locator("li", has_text="係長 一郎")).to_contain_text("接続中")
        chair.get_by_role("button", name="強制同期（採決用）").click()
        expect(follower.locator("#viewer-mode")).to_contain_text("強制同期中")
        expect(follower.get_by_role("button", name="次のページ ▶")).to_be_disabled()
        chair.screenshot(path=artifacts_dir / "meeting-chair-1024x1366.png")
        follower.screenshot(path=artifacts_dir / "meeting-forced-768x1024.png")
        assert_accessible(chair, "the chair's viewer")
        assert_accessible(follower, "the viewer during forced sync")
        assert second.pk  # the other material stays listed
        expect(follower.locator("#viewer-material option", has_text="資料2")).to_have_count(1)
        for c in contexts:
            bad = [e for e in c.page_errors if "Content Security Policy" in e or "script" in e]
            assert not bad, bad
    finally:
        for c in contexts:
            c.close()


def test_the_viewer_reconnects_and_catches_up(
    city: City, meeting: Meeting, server: AsgiServer, browser: Browser, artifacts_dir: Path
) -> None:
    first, _second = server.call(lambda: list(Material.objects.filter(meeting=meeting)))
    context, page = open_viewer(
        browser, server, city.drafter.username, f"/meetings/{meeting.pk}/view/", TABLET
    )
    try:
        banner = page.locator("#viewer-connection")
        expect(banner).to_be_hidden()
        server.stop()
        expect(banner).to_be_visible(timeout=LIVE_TIMEOUT_MS)
        expect(banner).to_contain_text("再接続中")
        page.screenshot(path=artifacts_dir / "meeting-reconnecting-768x1024.png")
        # The chair moves while this tablet is cut off (three changes).
        from meetings import live

        for page_number in (2, 3):
            live.state_change(
                meeting.pk,
                material_id=first.pk,
                version_id=first.current_version_id,
                page=page_number,
            )
        live.state_change(meeting.pk, forced=True)
        server.start()
        expect(banner).to_be_hidden(timeout=15_000)
        shows(page, first, 3)
        expect(page.locator("#viewer-mode")).to_contain_text("強制同期中")
    finally:
        context.close()


def test_touch_zoom_and_private_notes_on_a_large_tablet(
    city: City, meeting: Meeting, server: AsgiServer, browser: Browser, artifacts_dir: Path
) -> None:
    first, _second = server.call(lambda: list(Material.objects.filter(meeting=meeting)))
    server.call(
        live_position, meeting.pk, first.pk, first.current_version_id, 1
    )  # the chair shows 資料1, page 1
    path = f"/meetings/{meeting.pk}/view/"
    context, page = open_viewer(browser, server, city.drafter.username, path, CHAIR)
    try:
        shows(page, first, 1)
        cdp = context.new_cdp_session(page)
        box = page.locator("#viewer-stage").bounding_box()
        assert box is not None
        mid_y = box["y"] + box["height"] / 2

        def touch(kind: str, *points: tuple[float, float]) -> None:
            cdp.send(
                "Input.dispatchTouchEvent",
                {"type": kind, "touchPoints": [{"x": x, "y": y} for x, y in points]},
            )

        # A swipe to the left turns the page (and leaves follow mode); a tap on the left
        # edge turns back.
        right, left = box["x"] + box["width"] * 0.8, box["x"] + box["width"] * 0.2
        touch("touchStart", (right, mid_y))
        for step in range(1, 6):
            touch("touchMove", (right - (right - left) * step / 5, mid_y))
        touch("touchEnd")
        shows(page, first, 2)
        expect(page.locator("#viewer-mode")).to_have_text("自由に閲覧中")
        page.touchscreen.tap(box["x"] + 20, mid_y)
        shows(page, first, 1)

        # Two fingers apart: the 2× image, zoomed; the 拡大 button returns to the page.
        # Around the drawn box in the lower left of the page.
        image = page.locator("#viewer-image").bounding_box()
        assert image is not None
        cx = image["x"] + image["width"] * 0.29
        cy = image["y"] + image["height"] * 0.71
        touch("touchStart", (cx - 40, cy), (cx + 40, cy))
        for step in range(1, 6):
            d = 40 + 8 * step
            touch("touchMove", (cx - d, cy), (cx + d, cy))
        touch("touchEnd")
        expect(page.locator("#viewer-image")).to_have_attribute("src", re.compile(r"\?z=2$"))
        expect(page.get_by_role("button", name="拡大")).to_have_attribute("aria-pressed", "true")
        page.wait_for_function(
            """() => document.getElementById("viewer-image").naturalWidth >= 2000
                     && document.getElementById("viewer-stage").scrollLeft > 0"""
        )
        page.screenshot(path=artifacts_dir / "meeting-zoomed-1024x1366.png")
        page.get_by_role("button", name="拡大").click()
        expect(page.locator("#viewer-image")).to_have_attribute("src", re.compile(r"/1\.jpg$"))

        # A private note on page 1, saved through the socket, there after a reload.
        page.get_by_role("button", name="メモ").click()
        note = page.get_by_label("このページのメモ")
        expect(note).to_be_enabled()
        note.fill("歳出の内訳を確認する")
        expect(page.locator("#viewer-note-status")).to_have_text("保存しました")
        page.screenshot(path=artifacts_dir / "meeting-notes-1024x1366.png")
        assert_accessible(page, "the viewer with the notes panel at 1024x1366")
        page.reload()
        expect(page.locator("#meeting-viewer")).to_have_attribute("data-socket", "open")
        page.get_by_role("button", name="メモ").click()
        expect(page.get_by_label("このページのメモ")).to_have_value("歳出の内訳を確認する")
    finally:
        context.close()


def live_position(meeting_id: int, material_id: int, version_id: int, page: int) -> None:
    from meetings import live

    state = live.state_change(meeting_id, material_id=material_id, version_id=version_id, page=page)
    live.broadcast(meeting_id, live.position_message(state))
