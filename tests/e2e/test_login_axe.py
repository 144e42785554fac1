"""Sign-in in a real browser at tablet sizes, with axe checking each page.

JIS X 8341-3 (WCAG 2.x AA): a serious or critical axe finding fails the test.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.org.factories import AssignmentFactory, DepartmentFactory, PostFactory, StaffFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PASSWORD = "kessai-tablet-2025"
# Tablet portrait, as the managers hold them: iPad-class and iPad Pro-class.
VIEWPORTS = [(768, 1024), (1024, 1366)]
BLOCKING_IMPACTS = ("serious", "critical")


def new_context(browser: Browser, width: int, height: int) -> BrowserContext:
    # No bypass_csp: axe is injected with page.evaluate(), which the page's strict
    # Content-Security-Policy does not govern in Chromium, so the pages are checked
    # exactly as served, CSP included. (Should a Chromium update start blocking the
    # injection, page.evaluate raises and `bypass_csp=True` here is the remedy.)
    return browser.new_context(viewport={"width": width, "height": height}, locale="ja-JP")


def blocking_violations(page: Page) -> list[dict]:
    results = Axe().run(page)
    assert results.response["passes"], "axe ran no rules: was it injected?"
    return [v for v in results.response["violations"] if v.get("impact") in BLOCKING_IMPACTS]


def describe(violations: list[dict]) -> str:
    lines = []
    for v in violations:
        lines.append(f"[{v['impact']}] {v['id']}: {v['help']} ({v.get('helpUrl', '')})")
        for node in v.get("nodes", [])[:5]:
            lines.append(f"    at {node.get('target')}: {node.get('failureSummary', '')}")
            lines.append(f"       {node.get('html', '')[:200]}")
    return "\n".join(lines)


def assert_accessible(page: Page, what: str) -> None:
    violations = blocking_violations(page)
    assert not violations, f"axe: serious/critical violations on {what}:\n{describe(violations)}"


def sign_in(page: Page, username: str, password: str) -> None:
    page.get_by_label("ユーザー名").fill(username)
    page.get_by_label("パスワード").fill(password)
    page.get_by_role("button", name="ログイン").click()


@pytest.mark.parametrize(("width", "height"), VIEWPORTS, ids=lambda v: str(v))
def test_login_and_home_have_no_serious_accessibility_violations(
    browser: Browser, live_server, artifacts_dir: Path, width: int, height: int
) -> None:
    department = DepartmentFactory(code="zaisei", name="財政課")
    post = PostFactory(code="kakaricho", name="係長", rank=70)
    staff = StaffFactory(
        username="e2e-tablet", last_name="瀬戸", first_name="花子", password=PASSWORD
    )
    AssignmentFactory(staff=staff, department=department, post=post)

    context = new_context(browser, width, height)
    page = context.new_page()
    try:
        page.goto(live_server.url + "/")
        # Anonymous: every page but the login asks for a login first.
        expect(page).to_have_url(f"{live_server.url}/login/?next=/")
        expect(page.get_by_role("heading", name="ログイン", level=1)).to_be_visible()
        page.screenshot(path=artifacts_dir / f"login-{width}x{height}.png", full_page=True)
        assert_accessible(page, f"the login page at {width}x{height}")

        sign_in(page, "e2e-tablet", PASSWORD)
        expect(page).to_have_url(f"{live_server.url}/")
        expect(page.get_by_role("heading", name="ホーム", level=1)).to_be_visible()
        facts = page.locator("dl.facts")
        expect(facts).to_contain_text("瀬戸 花子")
        expect(facts).to_contain_text("総務部 財政課")
        expect(facts).to_contain_text("係長")
        page.screenshot(path=artifacts_dir / f"home-{width}x{height}.png", full_page=True)
        assert_accessible(page, f"the home page at {width}x{height}")
    finally:
        context.close()


def test_wrong_password_shows_the_japanese_error(
    browser: Browser, live_server, artifacts_dir: Path
) -> None:
    StaffFactory(username="e2e-typo", password=PASSWORD)

    context = new_context(browser, 768, 1024)
    page = context.new_page()
    try:
        page.goto(live_server.url + "/login/")
        sign_in(page, "e2e-typo", PASSWORD + "x")
        alert = page.get_by_role("alert")
        expect(alert).to_contain_text("ユーザー名またはパスワードが正しくありません。")
        # Still on the login page, not signed in, and the typed name is kept.
        expect(page.get_by_role("heading", name="ログイン", level=1)).to_be_visible()
        expect(page.get_by_label("ユーザー名")).to_have_value("e2e-typo")
        page.screenshot(path=artifacts_dir / "login-error-768x1024.png", full_page=True)
        assert_accessible(page, "the login page showing an error")
    finally:
        context.close()
