"""Measured lead times equal those worked out by hand from a scripted set of approvals
with the clock moved by time-machine."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine

from approvals.models import Document
from approvals.services import document_create, document_submit
from inventory.measured import measure, measured_by_source, median, p90
from inventory.models import BusinessProcess, Procedure
from tests.inventory.conftest import make_dx_city
from workflow.models import Step
from workflow.services import step_approve, step_reject, step_return

pytestmark = pytest.mark.django_db
TOKYO = ZoneInfo("Asia/Tokyo")
T0 = dt.datetime(2026, 5, 11, 9, 0, tzinfo=TOKYO)  # FY2026
H = dt.timedelta(hours=1)


def at(moment: dt.datetime):
    return time_machine.travel(moment, tick=False)


def pending(document: Document) -> Step:
    return Step.objects.get(route__subject_id=document.pk, route__status="active", status="pending")


def test_percentiles_by_hand() -> None:
    assert median([]) is None and p90([]) is None
    assert median([2, 1, 30]) == 2 and p90([2, 1, 30]) == 30
    assert median([24, 1]) == 12.5 and p90([24, 1]) == 24
    assert p90(list(range(1, 11))) == 9  # ⌈0.9 × 10⌉ = 9th value
    assert p90(list(range(1, 12))) == 10  # ⌈9.9⌉ = 10th


@pytest.fixture
def scripted():
    """Three 物品購入 documents (50,000円: 係長 → 課長補佐 → 課長) and one 人件費."""
    with at(T0 - 24 * H):
        world = make_dx_city()
    city = world.city

    def draft(title: str, category=None):
        return document_create(
            actor=city.drafter, title=title, category=category or city.buppin, amount=50_000
        )

    # 1: straight through, 2 h + 24 h + 24 h = 50 h.
    with at(T0):
        d1 = draft("コピー用紙の購入")
        document_submit(document=d1, actor=city.drafter)
    for hours in (2, 26, 50):
        with at(T0 + hours * H):
            step_approve(step=pending(d1), actor=pending(d1).assignee)
    # 2: returned after 1 h, resubmitted at +3 h, then 1 h, 1 h, 5 h: 10 h in all.
    t1 = T0 + 72 * H
    with at(t1):
        d2 = draft("プリンタートナーの購入")
        document_submit(document=d2, actor=city.drafter)
    with at(t1 + 1 * H):
        step_return(step=pending(d2), actor=city.kakaricho, comment="見積書を添付")
    with at(t1 + 3 * H):
        document_submit(document=d2, actor=city.drafter)
    for hours in (4, 5, 10):
        with at(t1 + hours * H):
            step_approve(step=pending(d2), actor=pending(d2).assignee)
    # 3: rejected at the first step after 30 h.
    t2 = T0 + 120 * H
    with at(t2):
        d3 = draft("不要な備品の購入")
        document_submit(document=d3, actor=city.drafter)
    with at(t2 + 30 * H):
        step_reject(step=pending(d3), actor=city.kakaricho, comment="不要")
    # 4: another matter category, decided quickly (not in the 物品購入 figures).
    with at(t2):
        d4 = draft("時間外勤務手当の支出", category=city.jinkenhi)
        document_submit(document=d4, actor=city.drafter)
    while Step.objects.filter(route__subject_id=d4.pk, status="pending").exists():
        with at(t2 + 1 * H):
            step_approve(step=pending(d4), actor=pending(d4).assignee)
    # 5: 物品購入 decided in FY2027: not in FY2026.
    t3 = dt.datetime(2027, 3, 31, 16, 0, tzinfo=TOKYO)
    with at(t3):
        d5 = draft("年度末の購入")
        document_submit(document=d5, actor=city.drafter)
    for hours in (1, 2, 10):
        with at(t3 + hours * H):
            step_approve(step=pending(d5), actor=pending(d5).assignee)
    return world


def test_measured_lead_times_equal_the_hand_computed_ones(scripted) -> None:
    city = scripted.city
    m = measure(source="approvals.document", fiscal_year=2026, category_id=city.buppin.pk)
    assert sorted(m.lead_hours) == [10.0, 30.0, 50.0]
    assert (m.cases, m.decided, m.rejected) == (3, 2, 1)
    assert m.online_share == 1.0
    assert m.median_hours == 30.0  # the middle of 10, 30, 50
    assert m.p90_hours == 50.0  # ⌈0.9 × 3⌉ = 3rd
    # Per step (final rounds only): stage 1 [2, 1, 30], stage 2 [24, 1], stage 3 [24, 5].
    steps = {s.label.split(":")[0]: s for s in m.steps}
    assert sorted(steps["1"].hours) == [1.0, 2.0, 30.0]
    assert (steps["1"].median, steps["1"].p90) == (2.0, 30.0)
    assert sorted(steps["2"].hours) == [1.0, 24.0]
    assert (steps["2"].median, steps["2"].p90) == (12.5, 24.0)
    assert sorted(steps["3"].hours) == [5.0, 24.0]
    assert (steps["3"].median, steps["3"].p90) == (14.5, 24.0)
    assert "係長" in steps["1"].label and "課長" in steps["3"].label
    # Document 5, submitted on 31 March and decided at 02:00 on 1 April (Tokyo), counts
    # in FY2027 with its 10 hours; FY2026 without a category holds 1–4.
    later = measure(source="approvals.document", fiscal_year=2027, category_id=city.buppin.pk)
    assert later.lead_hours == [10.0]
    assert measure(source="approvals.document", fiscal_year=2026).cases == 4


def test_the_page_shows_measured_beside_self_reported(scripted, client) -> None:
    city = scripted.city
    from django.contrib.contenttypes.models import ContentType
    from django.utils import timezone

    now = timezone.now()
    doc_type = ContentType.objects.get_for_model(Document)
    procedure = Procedure.objects.create(
        procedure_id="IN-1",
        name="物品購入の決裁",
        source_type=doc_type,
        source_category=city.buppin,
        created_at=now,
        updated_at=now,
    )
    process = BusinessProcess.objects.create(
        number="B-1",
        name="物品購入事務",
        source_type=doc_type,
        source_category=city.buppin,
        created_at=now,
        updated_at=now,
    )
    client.force_login(city.outsider)
    for url in (f"/inventory/procedures/{procedure.pk}/", f"/inventory/processes/{process.pk}/"):
        body = client.get(url + "?fiscal_year=2026").content.decode()
        assert 'data-measured="cases">3<' in body
        assert 'data-measured="median">30.0 ' in body
        assert 'data-measured="p90">50.0 ' in body
    body = client.get("/inventory/measured/?fiscal_year=2026").content.decode()
    assert "起案文書の決裁（物品購入）" in body
    rows = {m.label: m for m in measured_by_source(fiscal_year=2026)}
    assert rows["起案文書の決裁（物品購入）"].cases == 3
    assert rows["起案文書の決裁（人件費）"].cases == 1
