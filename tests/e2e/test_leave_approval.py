"""A leave request from filing to the reduced balance, in a real browser on a tablet.

The employee files a day of annual leave through the form; the 課長 signs in on a tablet
(768×1024 portrait), finds it in the inbox and decides it there after the confirmation
dialog; the employee's balance page then shows one day less. axe checks each page.

The inbox needs its WebSocket, so the pages are served over ASGI by uvicorn (as in
test_inbox_live.py); the dates are today's, in the current leave year.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, expect

from attendance.calendar import kinds_between
from attendance.leave import balance_minutes
from attendance.models import CalendarDay, LeaveRequest
from common.dates import today
from tests.attendance.office import build_office
from tests.city import PASSWORD, City

# The same uvicorn-in-a-thread server the live inbox test uses.
from tests.e2e.test_inbox_live import AsgiServer

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

VIEWPORT = {"width": 768, "height": 1024}
DAY = 465


def sign_in(page: Page, base: str, username: str, next_path: str) -> None:
    page.goto(f"{base}/login/?next={next_path}")
    page.get_by_label("ユーザー名").fill(username)
    page.get_by_label("パスワード").fill(PASSWORD)
    page.get_by_role("button", name="ログイン").click()
    expect(page).to_have_url(f"{base}{next_path}")


def assert_accessible(page: Page, what: str) -> None:
    """JIS X 8341-3 (WCAG 2.x AA): no serious or critical axe finding."""
    results = Axe().run(page)
    assert results.response["passes"], "axe ran no rules"
    bad = [
        f"[{v['impact']}] {v['id']}: {v['help']} at {[n.get('target') for n in v['nodes'][:3]]}"
        for v in results.response["violations"]
        if v.get("impact") in ("serious", "critical")
    ]
    assert not bad, f"axe on {what}:\n" + "\n".join(bad)


def a_working_day_this_year() -> dt.date:
    """The next working day in this calendar year (the leave year), else the last one."""
    now = today()
    kinds = kinds_between(dt.date(now.year, 1, 1), dt.date(now.year, 12, 31))
    days = sorted(d for d, kind in kinds.items() if kind == CalendarDay.Kind.WORKDAY)
    later = [d for d in days if d > now]
    return later[0] if later else days[-1]


@pytest.fixture
def office() -> City:
    return build_office(leave_year=today().year)


@pytest.fixture
def server(office: City, monkeypatch: pytest.MonkeyPatch) -> Iterator[AsgiServer]:
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    asgi = AsgiServer()
    asgi.start()
    try:
        yield asgi
    finally:
        asgi.stop()


def test_manager_approves_leave_in_the_inbox_and_the_balance_drops(
    office: City, server: AsgiServer, browser: Browser, artifacts_dir: Path
) -> None:
    base = server.url
    year = today().year
    day = a_working_day_this_year()
    assert balance_minutes(staff=office.drafter, leave_year=year) == 20 * DAY
    employee_ctx = browser.new_context(viewport=VIEWPORT, locale="ja-JP")
    manager_ctx = browser.new_context(viewport=VIEWPORT, locale="ja-JP")
    try:
        # The employee files a day of annual leave through the form.
        employee = employee_ctx.new_page()
        sign_in(employee, base, office.drafter.username, "/attendance/leave/new/")
        expect(employee.get_by_role("heading", name="休暇の申請", level=1)).to_be_visible()
        # The hours fields show only for the hourly units.
        expect(employee.get_by_label("開始時刻")).to_be_hidden()
        employee.get_by_label("時間", exact=True).check()
        expect(employee.get_by_label("開始時刻")).to_be_visible()
        employee.get_by_label("日", exact=True).check()
        expect(employee.get_by_label("開始時刻")).to_be_hidden()
        assert_accessible(employee, "the leave form")
        employee.get_by_role("combobox", name="休暇の種類").select_option(label="年次休暇")
        employee.get_by_label("日付（開始日）").fill(day.isoformat())
        employee.get_by_label("理由（任意）").fill("家族の用事")
        employee.get_by_role("button", name="申請する").click()
        expect(employee.get_by_text("休暇を申請しました。")).to_be_visible()
        expect(employee.locator(".doc-status")).to_contain_text("申請中")
        leave = LeaveRequest.objects.get(staff=office.drafter)
        assert leave.start_date == day and leave.minutes == DAY
        employee.screenshot(path=artifacts_dir / "leave-filed-768x1024.png", full_page=True)
        assert_accessible(employee, "the leave detail page")

        # The 課長 decides it from the inbox on the tablet.
        manager = manager_ctx.new_page()
        sign_in(manager, base, office.kacho.username, "/inbox/")
        expect(manager.locator("html")).to_have_attribute("data-inbox-socket", "open")
        row = manager.locator(".inbox-item", has_text="年次休暇（起案 太郎）")
        expect(row).to_be_visible()
        expect(row).to_contain_text("休暇の申請")
        manager.screenshot(path=artifacts_dir / "leave-inbox-768x1024.png", full_page=True)
        assert_accessible(manager, "the inbox with a leave request")
        row.get_by_role("button", name="決裁").click()
        dialog = manager.get_by_role("dialog")
        expect(dialog).to_contain_text("年次休暇（起案 太郎）")
        dialog.get_by_role("button", name="決裁する").click()
        expect(manager.get_by_text("決裁しました: 年次休暇（起案 太郎）")).to_be_visible()
        expect(manager.locator(".inbox-item", has_text="年次休暇（起案 太郎）")).to_have_count(0)
        leave.refresh_from_db()
        assert leave.status == LeaveRequest.Status.APPROVED

        # The team page shows the decided day in the 課長's month view.
        manager.goto(f"{base}/attendance/team/?month={day:%Y-%m}")
        expect(manager.locator(".team-table")).to_contain_text("起案 太郎")
        assert_accessible(manager, "the team month")

        # The employee's balance page: one day less, nothing pending.
        employee.goto(f"{base}/attendance/")
        expect(employee.locator("#leave-balance")).to_have_text("19日")
        expect(employee.locator("#leave-pending")).to_have_text("0日")
        expect(employee.get_by_role("table").first).to_contain_text("承認済")
        employee.screenshot(path=artifacts_dir / "leave-balance-768x1024.png", full_page=True)
        assert_accessible(employee, "the balance page")
        assert balance_minutes(staff=office.drafter, leave_year=year) == 19 * DAY
    finally:
        employee_ctx.close()
        manager_ctx.close()
