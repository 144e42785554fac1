"""The ranking scores plain value rows (inventory/selectors.py); the explanation on a
procedure's page scores the model instance. Both must give the same score, term for
term, for every kind of procedure and under any weights."""

from __future__ import annotations

import pytest
from django.utils import timezone

from inventory.models import Procedure, ProcedureVolume
from inventory.scoring import Inputs, Weights, score
from inventory.selectors import current_weights, ranking
from tests.inventory.conftest import bulk_procedures

pytestmark = pytest.mark.django_db


def edge_cases(department) -> None:
    """What the bulk rows do not cover: online payment, blank or spaced system names,
    each national list, 懸念点 2/3/4, no counts for the year, an empty count."""
    now = timezone.now()
    cases = [
        # fee due, one online method among offline ones: payment is possible online
        {"fee": "2", "payment_methods": ["1-1", "2-3"], "system_application": "X"},
        # fee due, offline methods only
        {"fee": "2", "payment_methods": ["1-1", "1-4"], "system_application": "X"},
        {"fee": "2", "payment_methods": [], "concern": "2"},
        {"fee": "1", "payment_methods": ["1-1"], "system_application": "   "},
        {"concern": "3", "system_application": "電子申請", "online_status": "1"},
        {"concern": "4", "on_disaster_list": True, "department": department},
        {"on_moving_list": True, "in_person_required": True, "identity_check": "1"},
        {"on_childcare_care_list": True, "online_status": "3"},
        {"online_status": "1", "system_application": ""},
    ]
    for i, fields in enumerate(cases):
        p = Procedure.objects.create(
            procedure_id=f"E-{i:02d}",
            name=f"境界 {i}",
            staff_minutes=10 + i,
            resident_minutes=30,
            created_at=now,
            updated_at=now,
            **fields,
        )
        if i == 0:
            continue  # no counts at all: 0 cases
        total = None if i == 1 else 500 * i
        ProcedureVolume.objects.create(procedure=p, fiscal_year=2024, total=total)


def by_instances(weights: Weights, department=None) -> list[tuple[int, object]]:
    """The ranking worked out the slow way: model instances, `Inputs.of`, `score`."""
    cases = dict(
        ProcedureVolume.objects.filter(fiscal_year=2024).values_list("procedure_id", "total")
    )
    procedures = Procedure.objects.all()
    if department is not None:
        procedures = procedures.filter(department=department)
    scored = [(p, score(Inputs.of(p, cases.get(p.pk)), weights)) for p in procedures]
    scored.sort(key=lambda ps: (-ps[1].priority, -ps[1].effect, ps[0].procedure_id))
    return [(p.pk, s) for p, s in scored]


WHAT_IFS = [
    {},
    {"expected_online_share": 0.8, "national_multiplier": 2, "w_law_change": 0.3},
    {"w_in_person": 0, "w_no_system": 0.7, "base_difficulty": 0},  # difficulty may be 0
    {"staff_saving_share": 0.35, "resident_saving_share": 0.1, "w_paper_original": 5},
]


@pytest.mark.parametrize("overrides", WHAT_IFS)
def test_value_rows_score_as_instances_do(dx_city, overrides) -> None:
    bulk_procedures(120, department=dx_city.city.soumu_ka)
    edge_cases(dx_city.city.zaisei_ka)
    weights = current_weights(overrides)
    rows = ranking(weights=weights, fiscal_year_=2024)
    expected = by_instances(weights)
    assert [r.position for r in rows] == list(range(1, len(expected) + 1))
    assert [r.procedure.pk for r in rows] == [pk for pk, _s in expected]
    for r, (_pk, s) in zip(rows, expected, strict=True):
        assert r.score == s, r.procedure.procedure_id  # inputs, numbers and terms alike
    # The department filter reads the same rows.
    zaisei = dx_city.city.zaisei_ka
    assert [
        (r.procedure.pk, r.score)
        for r in ranking(weights=weights, fiscal_year_=2024, department=zaisei)
    ] == by_instances(weights, zaisei)


def test_ranked_rows_show_name_department_and_link(dx_city) -> None:
    edge_cases(dx_city.city.zaisei_ka)
    rows = {r.procedure.procedure_id: r for r in ranking(weights=Weights(), fiscal_year_=2024)}
    disaster = Procedure.objects.get(procedure_id="E-05")
    shown = rows["E-05"].procedure
    assert (shown.pk, shown.name, shown.department_name) == (
        disaster.pk,
        disaster.name,
        dx_city.city.zaisei_ka.name,
    )
    assert shown.get_absolute_url() == disaster.get_absolute_url()
    assert rows["E-00"].procedure.department_name is None
    assert rows["E-00"].score.inputs.annual_cases == 0
