"""The inventory's server-drawn SVG charts in a real browser: they render, are named
for assistive technology, and the pages pass axe (no serious or critical violations)."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.city import PASSWORD
from tests.e2e.test_login_axe import assert_accessible, new_context, sign_in
from tests.inventory.conftest import bulk_procedures, make_dx_city

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_dashboard_and_ranking_charts_render_and_pass_axe(
    browser: Browser, live_server, artifacts_dir: Path
) -> None:
    world = make_dx_city()
    bulk_procedures(60, department=world.city.soumu_ka)
    bulk_procedures(40, start=60, department=world.city.zaisei_ka, fiscal_year=2023)
    context = new_context(browser, 1024, 1366)
    page = context.new_page()
    try:
        page.goto(live_server.url + "/login/")
        sign_in(page, world.dx.username, PASSWORD)
        page.goto(live_server.url + "/inventory/")
        expect(page.get_by_role("heading", name="DX推進の指標", level=1)).to_be_visible()
        charts = page.locator("svg[role=img]")
        expect(charts).to_have_count(5)
        for name in ("所管課別 オンライン化率", "オンライン利用率の推移", "電子決裁率の推移"):
            chart = page.get_by_role("img", name=name)
            expect(chart).to_be_visible()
            box = chart.bounding_box()
            assert box is not None and box["width"] > 200 and box["height"] > 50
        # The bars are drawn: one rect a department with procedures, above the background.
        assert page.locator("#chart-online rect").count() >= 3
        expect(page.locator("table.data-table").first).to_contain_text("総務課")
        page.screenshot(path=artifacts_dir / "inventory-dashboard.png", full_page=True)
        assert_accessible(page, "the inventory dashboard")

        page.goto(live_server.url + "/inventory/ranking/")
        matrix = page.get_by_role("img", name="効果と難易度の4象限")
        expect(matrix).to_be_visible()
        assert page.locator("#chart-matrix circle").count() == 100
        first = page.locator("#ranking-table tbody tr").first.get_attribute("data-procedure")
        # What-if through htmx: the table is replaced in place, nothing saved.
        page.get_by_label("重み: 対面が必要").fill("0")
        page.get_by_label("重み: 制度改正が必要").fill("0")
        page.get_by_role("button", name="試算する").click()
        expect(page.locator("#ranking-results")).to_contain_text("試算中（保存されていません）")
        expect(page.get_by_role("img", name="効果と難易度の4象限")).to_be_visible()
        assert "w_in_person=0" in page.url
        assert first is not None
        page.screenshot(path=artifacts_dir / "inventory-ranking.png", full_page=True)
        assert_accessible(page, "the ranking with a what-if")

        page.goto(live_server.url + "/inventory/procedures/")
        assert_accessible(page, "the procedure list")
        page.locator("#ranking-table, table.data-table").first.get_by_role("link").first.click()
        expect(page.get_by_role("heading", name="優先度の算定")).to_be_visible()
        assert_accessible(page, "a procedure with its score explained")
    finally:
        context.close()
