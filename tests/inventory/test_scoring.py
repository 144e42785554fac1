"""The priority formula with the default weights, worked by hand; weights change the
ranking; the explanation on a procedure's page shows the numbers the score used."""

from __future__ import annotations

import re

import pytest
from django.utils import timezone

from inventory.models import PriorityWeights, Procedure, ProcedureVolume
from inventory.scoring import Inputs, Quadrant, Weights, score
from inventory.selectors import current_weights, ranking
from inventory.services import weights_new_version

pytestmark = pytest.mark.django_db


def make(procedure_id: str, cases: int, **fields) -> Procedure:
    now = timezone.now()
    p = Procedure.objects.create(
        procedure_id=procedure_id,
        name=fields.pop("name", procedure_id),
        created_at=now,
        updated_at=now,
        **fields,
    )
    ProcedureVolume.objects.create(
        procedure=p, fiscal_year=2024, total=cases, online=0, offline=cases
    )
    return p


def easy(procedure_id: str = "A", cases: int = 1200, staff: int = 15, resident: int = 30):
    """No system yet, nothing else in the way: D = 1 + 1 = 2."""
    return make(
        procedure_id,
        cases,
        staff_minutes=staff,
        resident_minutes=resident,
        identity_check="4",
        fee="1",
    )


def hard(procedure_id: str = "B"):
    """On the 26-procedure list; law change, seal + certificate, fee without online
    payment, in person; has a system: D = 1 + 3 + 2 + 1 + 3 = 10."""
    return make(
        procedure_id,
        800,
        staff_minutes=20,
        resident_minutes=40,
        concern="1",
        identity_check="1",
        fee="2",
        payment_methods=["1-1"],
        in_person_required=True,
        system_application="電子申請サービス",
        on_childcare_care_list=True,
    )


def test_default_weights_are_the_domain_formula() -> None:
    w = Weights()
    assert (w.expected_online_share, w.base_difficulty, w.national_multiplier) == (0.5, 1, 1.5)
    assert (w.w_law_change, w.w_seal_certificate, w.w_paper_original) == (3, 2, 2)
    assert (w.w_no_online_payment, w.w_in_person, w.w_no_system) == (1, 3, 1)
    assert (w.staff_saving_share, w.resident_saving_share) == (1, 1)


def test_hand_computed_easy_procedure() -> None:
    p = easy()
    s = score(Inputs.of(p, 1200), Weights())
    # E = 1200 × 0.5 × (15 + 30) / 60 = 450; D = 1 + 1 (no system) = 2; P = 450 / 2
    assert s.effect == pytest.approx(450.0)
    assert s.difficulty == pytest.approx(2.0)
    assert s.multiplier == 1.0
    assert s.priority == pytest.approx(225.0)
    assert [t.label for t in s.terms if t.flag] == ["システムなし"]
    assert s.quadrant == Quadrant.BATCH  # 450 h < 500 h, D 2 < 4


def test_hand_computed_hard_procedure_on_a_national_list() -> None:
    p = hard()
    s = score(Inputs.of(p, 800), Weights())
    # E = 800 × 0.5 × 60 / 60 = 400; D = 1 + 3 + 2 + 1 + 3 = 10; P = 400 × 1.5 / 10 = 60
    assert s.effect == pytest.approx(400.0)
    assert s.difficulty == pytest.approx(10.0)
    assert s.multiplier == 1.5
    assert s.priority == pytest.approx(60.0)
    assert {t.label for t in s.terms if t.flag} == {
        "制度改正が必要",
        "押印＋印鑑証明",
        "オンライン納付なし",
        "対面が必要",
    }
    assert s.quadrant == Quadrant.DEFER


def test_paper_original_and_online_procedures() -> None:
    paper = make(
        "C", 3000, staff_minutes=10, resident_minutes=50, concern="4", system_application="X"
    )
    s = score(Inputs.of(paper, 3000), Weights())
    # E = 3000 × 0.5 × 60 / 60 = 1500; D = 1 + 2 = 3; P = 500; big and easy: quick win
    assert (s.effect, s.difficulty, s.priority) == (1500.0, 3.0, 500.0)
    assert s.quadrant == Quadrant.QUICK_WIN
    online = make("D", 50_000, staff_minutes=10, resident_minutes=50, online_status="1")
    s = score(Inputs.of(online, 50_000), Weights())
    assert s.effect == 0.0 and s.priority == 0.0  # nothing left to gain by going online


def test_changing_a_weight_changes_the_ranking(dx_city) -> None:
    a = easy("A", cases=1000, staff=12, resident=12)  # E 200, D 2, P 100
    b = hard("B")  # E 400, D 10, ×1.5, P 60
    order = [r.procedure.pk for r in ranking(weights=current_weights())]
    assert order == [a.pk, b.pk]
    # Without the law-change and in-person weights B's D is 4: P = 400 × 1.5 / 4 = 150.
    what_if = current_weights({"w_law_change": 0, "w_in_person": 0})
    rows = ranking(weights=what_if)
    assert [r.procedure.pk for r in rows] == [b.pk, a.pk]
    assert rows[0].score.priority == pytest.approx(150.0)
    # A higher expected online share scales every effect alike: the order stays.
    assert [
        r.procedure.pk for r in ranking(weights=current_weights({"expected_online_share": 1}))
    ] == [a.pk, b.pk]
    # The same change as a new dated version moves the ranking from that day on.
    weights_new_version(
        actor=dx_city.dx, valid_from=timezone.localdate(), w_law_change=0, w_in_person=0
    )
    assert [r.procedure.pk for r in ranking(weights=current_weights())] == [b.pk, a.pk]


def test_what_if_on_the_page_moves_the_ranking_without_saving(client, dx_city) -> None:
    a = easy("A", cases=1000, staff=12, resident=12)
    b = hard("B")
    client.force_login(dx_city.city.outsider)  # reading is open to all staff
    versions = PriorityWeights.objects.count()
    body = client.get("/inventory/ranking/").content.decode()
    assert body.index(f'data-procedure="{a.procedure_id}"') < body.index(
        f'data-procedure="{b.procedure_id}"'
    )
    response = client.get(
        "/inventory/ranking/?w_law_change=0&w_in_person=0", HTTP_HX_REQUEST="true"
    )
    partial = response.content.decode()
    assert "<html" not in partial  # the htmx partial only
    assert partial.index(f'data-procedure="{b.procedure_id}"') < partial.index(
        f'data-procedure="{a.procedure_id}"'
    )
    assert "↑1" in partial and "↓1" in partial
    assert "試算中（保存されていません）" in partial
    assert PriorityWeights.objects.count() == versions
    # A bad value is ignored with its message, never a 500.
    response = client.get("/inventory/ranking/?expected_online_share=abc")
    assert response.status_code == 200
    assert "数値を入力してください" in response.content.decode()


def terms_on(body: str) -> dict[str, str]:
    return dict(re.findall(r'data-term="(\w+)">([^<]*)<', body))


def test_the_explanation_on_screen_matches_the_numbers(client, dx_city) -> None:
    p = hard("B")
    client.force_login(dx_city.city.drafter)
    body = client.get(f"/inventory/procedures/{p.pk}/").content.decode()
    s = score(Inputs.of(p, 800), current_weights())
    terms = terms_on(body)
    assert terms == {
        "cases": "800",
        "share": "0.5",
        "staff_minutes": "20",
        "resident_minutes": "40",
        "effect": "400.0",
        "difficulty": "10",
        "multiplier": "1.5",
        "priority": "60.0",
    }
    assert float(terms["effect"]) == pytest.approx(s.effect)
    assert float(terms["priority"]) == pytest.approx(s.priority)
    # Each difficulty term is listed with its weight and what it added.
    for label, added in [
        ("制度改正が必要", "3"),
        ("押印＋印鑑証明", "2"),
        ("対面が必要", "3"),
        ("オンライン納付なし", "1"),
        ("原本が紙の添付書類", "0"),
        ("システムなし", "0"),
    ]:
        assert re.search(
            rf"{label}</th><td>[^<]*</td><td class=\"num\">[\d.]+</td>"
            rf"<td class=\"num\">{added}</td>",
            body,
        ), label
    # A new version of the weights shows on the page at once.
    weights_new_version(actor=dx_city.dx, valid_from=timezone.localdate(), w_in_person=1)
    terms = terms_on(client.get(f"/inventory/procedures/{p.pk}/").content.decode())
    assert terms["difficulty"] == "8" and terms["priority"] == "75.0"
