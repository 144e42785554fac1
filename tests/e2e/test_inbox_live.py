"""The live inbox in a real browser, over a real WebSocket.

A 課長 has the inbox open on a tablet (768×1024 portrait); a 課長補佐 of the same 課
drafts and submits a 人件費 matter (decided by the 課長, with nobody between), and the
item appears in the open inbox without a reload. The 課長 decides from the inbox after
the confirmation dialog; the drafter sees 決裁済 and the document number.

WebSockets need an ASGI server, so uvicorn serves `config.asgi.application` from a
thread; the in-memory SQLite test database is shared-cache, so it sees committed rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, expect

from approvals.models import Document
from approvals.services import document_create, document_submit
from tests.asgi_server import AsgiServer
from tests.city import PASSWORD, City, build_city

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

VIEWPORT = {"width": 768, "height": 1024}
LIVE_TIMEOUT_MS = 5_000
TITLE = "11月分時間外勤務手当の支出について"


@pytest.fixture
def city() -> City:
    return build_city()


@pytest.fixture
def asgi_server(city: City, monkeypatch: pytest.MonkeyPatch) -> Iterator[AsgiServer]:
    # Playwright's sync API runs an event loop in this thread (see tests/e2e/conftest.py);
    # set per test so the guard still protects the tests that run after this one.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    server = AsgiServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


def sign_in(page: Page, base: str, username: str, next_path: str) -> None:
    page.goto(f"{base}/login/?next={next_path}")
    page.get_by_label("ユーザー名").fill(username)
    page.get_by_label("パスワード").fill(PASSWORD)
    page.get_by_role("button", name="ログイン").click()
    expect(page).to_have_url(f"{base}{next_path}")


def assert_accessible(page: Page, what: str) -> None:
    results = Axe().run(page)
    assert results.response["passes"], "axe ran no rules"
    bad = [
        f"[{v['impact']}] {v['id']}: {v['help']} at {[n.get('target') for n in v['nodes'][:3]]}"
        for v in results.response["violations"]
        if v.get("impact") in ("serious", "critical")
    ]
    assert not bad, f"axe on {what}:\n" + "\n".join(bad)


def test_new_item_appears_live_and_is_decided_from_the_inbox(
    city: City, asgi_server: AsgiServer, browser: Browser, artifacts_dir: Path
) -> None:
    base = asgi_server.url
    manager_ctx = browser.new_context(viewport=VIEWPORT, locale="ja-JP")
    drafter_ctx = browser.new_context(viewport=VIEWPORT, locale="ja-JP")
    try:
        # The 課長 opens the inbox first; the socket connects.
        manager = manager_ctx.new_page()
        sign_in(manager, base, city.kacho.username, "/inbox/")
        expect(manager.get_by_role("heading", name="受信箱", level=1)).to_be_visible()
        expect(manager.locator("html")).to_have_attribute("data-inbox-socket", "open")
        expect(manager.get_by_text("処理待ちの案件はありません。")).to_be_visible()
        expect(manager.locator("#inbox-connection")).to_be_hidden()
        assert_accessible(manager, "the empty inbox")
        manager.evaluate("window.__sameDocument = true")

        # The 課長補佐 drafts and submits through the pages.
        drafter = drafter_ctx.new_page()
        sign_in(drafter, base, city.hosa.username, "/approvals/documents/new/")
        drafter.get_by_label("件名").fill(TITLE)
        drafter.get_by_label("本文").fill("11月分の時間外勤務手当を支出します。")
        drafter.get_by_label("事案の区分").select_option(label="人件費")
        drafter.get_by_label("金額（円）").fill("58000")
        drafter.get_by_role("button", name="下書きを保存").click()
        expect(drafter.get_by_role("heading", name=TITLE, level=1)).to_be_visible()
        drafter.get_by_role("link", name="回議に回す（経路を確認）").click()
        proposed = drafter.locator(".proposed-route")
        expect(proposed).to_contain_text("決裁")
        expect(proposed).to_contain_text("総務課 課長")
        drafter.screenshot(path=artifacts_dir / "submit-route-768x1024.png", full_page=True)
        assert_accessible(drafter, "the submit page")
        drafter.get_by_role("button", name="この経路で回議に回す").click()
        drafter.get_by_role("dialog").get_by_role("button", name="回議に回す").click()
        expect(drafter.get_by_text("回議に回しました。")).to_be_visible()
        expect(drafter.locator(".doc-status")).to_contain_text("回議中")

        # The open inbox shows the new item without a reload.
        row = manager.locator(".inbox-item", has_text=TITLE)
        expect(row).to_be_visible(timeout=LIVE_TIMEOUT_MS)
        assert manager.evaluate("window.__sameDocument === true"), "the inbox was reloaded"
        expect(row).to_contain_text("決裁")  # the stage kind
        expect(row).to_contain_text("総務課")
        expect(row).to_contain_text("補佐 三郎")
        expect(manager.locator("#inbox-live")).to_have_attribute("data-count", "1")
        manager.screenshot(path=artifacts_dir / "inbox-live-768x1024.png", full_page=True)
        assert_accessible(manager, "the inbox with an item")

        # Decide from the inbox: the big button asks first.
        row.get_by_role("button", name="決裁").click()
        dialog = manager.get_by_role("dialog")
        expect(dialog).to_be_visible()
        expect(dialog).to_contain_text(TITLE)
        manager.screenshot(path=artifacts_dir / "inbox-confirm-768x1024.png")
        dialog.get_by_role("button", name="決裁する").click()
        expect(manager.get_by_text(f"決裁しました: {TITLE}")).to_be_visible()
        expect(manager.locator(".inbox-item", has_text=TITLE)).to_have_count(0)

        # The drafter reloads the document: decided, with its number.
        document = Document.objects.get(title=TITLE)
        assert document.status == Document.Status.DECIDED and document.number
        drafter.reload()
        expect(drafter.locator(".doc-status")).to_contain_text("決裁済")
        expect(drafter.locator(".doc-number")).to_have_text(document.number)
        expect(drafter.locator(".timeline")).to_contain_text("課長 二郎")
        drafter.screenshot(path=artifacts_dir / "document-decided-768x1024.png", full_page=True)
        assert_accessible(drafter, "the decided document")
    finally:
        manager_ctx.close()
        drafter_ctx.close()


def test_inbox_reconnects_after_the_server_restarts_and_catches_up(
    city: City, asgi_server: AsgiServer, browser: Browser, artifacts_dir: Path
) -> None:
    context = browser.new_context(viewport=VIEWPORT, locale="ja-JP")
    try:
        page = context.new_page()
        sign_in(page, asgi_server.url, city.kacho.username, "/inbox/")
        expect(page.locator("html")).to_have_attribute("data-inbox-socket", "open")
        banner = page.locator("#inbox-connection")
        expect(banner).to_be_hidden()

        asgi_server.stop()
        expect(banner).to_be_visible(timeout=LIVE_TIMEOUT_MS)
        expect(banner).to_contain_text("再接続中")
        page.screenshot(path=artifacts_dir / "inbox-reconnecting-768x1024.png")
        # Something arrives while the tablet is cut off: nobody is told.
        document = document_create(
            actor=city.hosa, title="切断中に届いた案件", category=city.jinkenhi, amount=1000
        )
        document_submit(document=document, actor=city.hosa)

        asgi_server.start()
        # Back (backoff tops out at 10 s): the banner goes and the snapshot brings the item.
        expect(banner).to_be_hidden(timeout=15_000)
        expect(page.locator(".inbox-item", has_text="切断中に届いた案件")).to_be_visible(
            timeout=LIVE_TIMEOUT_MS
        )
    finally:
        context.close()
