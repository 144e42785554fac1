"""Two people, one change to the inventory, the same instant: exactly one wins, or both
apply one after the other with nothing lost (PostgreSQL, real threads).

Each test releases its calls together (`race`, as in tests/workflow/test_concurrency.py)
and checks what a lock or a unique constraint in inventory/services.py (or
inventory/exchange.py) guarantees: one proposal under decision per procedure, one
procedure per 手続ID, one weights version per day, one row of counts per year, one
decision of a proposal, one import of the same new 手続ID. A loser always gets a message
(`InventoryError` or the engine's `AlreadyDecided`), never a database error.
"""

from __future__ import annotations

import datetime as dt
import itertools
import threading
from collections.abc import Callable

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.models import QuerySet
from django.utils import timezone

from audit.models import AuditEvent
from inventory import exchange
from inventory.models import (
    BusinessProcess,
    PaperDecisionCount,
    PriorityDecision,
    PriorityWeights,
    Procedure,
    ProcedureVolume,
)
from inventory.services import (
    InventoryError,
    decision_propose,
    decision_withdraw,
    paper_count_set,
    procedure_create,
    procedure_update,
    process_save,
    volume_set,
    weights_new_version,
)
from org.importing import RawRoster, RawRow
from org.models import Staff
from tests.city import _person
from tests.inventory.conftest import DxCity, make_dx_city
from workflow.errors import AlreadyDecided
from workflow.models import Route, Step
from workflow.services import step_approve

pytestmark = pytest.mark.django_db(transaction=True)


def race(*calls: Callable[[], object]) -> list[object]:
    """Run the calls in threads released together; return each result or exception."""
    barrier = threading.Barrier(len(calls))
    results: list[object] = [None] * len(calls)

    def run(i: int, call: Callable[[], object]) -> None:
        try:
            connection.ensure_connection()  # connect first, so the calls start together
            barrier.wait(timeout=30)
            results[i] = call()
        except Exception as exc:
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return results


@pytest.fixture
def dx(need_postgres) -> DxCity:
    return make_dx_city()


def another_member(dx: DxCity, n: int = 2) -> Staff:
    city = dx.city
    return _person(
        f"dx-member-{n}", "推進", f"{n}郎", city.kikaku_ka, city.posts["shuji"], "dx_office"
    )


def a_procedure(procedure_id: str = "R-1") -> Procedure:
    now = timezone.now()
    return Procedure.objects.create(
        procedure_id=procedure_id,
        name="住民票の写しの交付請求",
        staff_minutes=10,
        resident_minutes=30,
        created_at=now,
        updated_at=now,
    )


def won(results: list[object], kind: type) -> list[object]:
    return [r for r in results if isinstance(r, kind)]


def events(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("seq"))


def assert_one_wins(results: list[object], kind: type, loser: type = InventoryError) -> None:
    assert len(won(results, kind)) == 1, results
    assert len(won(results, loser)) == 1, results


def assert_applied_in_turn(applied: list[AuditEvent], first_old: object) -> AuditEvent:
    """Every call applied, one after the other: each one's "old" is what the one before
    wrote (without a lock they read the same old value: a lost update). Returns the last."""
    assert applied and applied[0].data["old"] == first_old, [e.data for e in applied]
    for before, after in itertools.pairwise(applied):
        assert after.data["old"] == before.data["new"], [e.data for e in applied]
    return applied[-1]


# --- procedures -----------------------------------------------------------------------


def test_two_proposals_for_one_procedure_only_one_is_under_decision(dx: DxCity) -> None:
    procedure = a_procedure()
    other = another_member(dx)
    results = race(
        lambda: decision_propose(
            actor=dx.dx, procedure=procedure.pk, rank=1, reason="件数が多い", score_snapshot={}
        ),
        lambda: decision_propose(
            actor=other, procedure=procedure.pk, rank=5, reason="効果が大きい", score_snapshot={}
        ),
    )
    assert_one_wins(results, PriorityDecision)
    assert "決裁中の優先順位案があります" in str(won(results, InventoryError)[0])
    decision = won(results, PriorityDecision)[0]
    assert list(PriorityDecision.objects.values_list("pk", "status")) == [
        (decision.pk, PriorityDecision.Status.IN_REVIEW)
    ]
    # One route, one pending step in the DX head's inbox, one audit event.
    assert Route.objects.count() == 1
    assert Step.objects.filter(status=Step.Status.PENDING).count() == 1
    assert len(events("inventory.decision.proposed")) == 1


def test_two_edits_of_one_procedure_apply_one_after_the_other(dx: DxCity) -> None:
    procedure = a_procedure()
    other = another_member(dx)
    results = race(
        lambda: procedure_update(procedure=procedure.pk, actor=dx.dx, staff_minutes=20),
        lambda: procedure_update(procedure=procedure.pk, actor=other, staff_minutes=35),
    )
    assert len(won(results, Procedure)) == 2, results
    last = assert_applied_in_turn(events("inventory.procedure.updated"), {"staff_minutes": 10})
    procedure.refresh_from_db()
    assert procedure.staff_minutes == last.data["new"]["staff_minutes"]


def test_two_registrations_of_one_procedure_id_only_one_is_created(dx: DxCity) -> None:
    other = another_member(dx)
    results = race(
        lambda: procedure_create(actor=dx.dx, procedure_id="NEW-1", name="犬の登録"),
        lambda: procedure_create(actor=other, procedure_id="NEW-1", name="犬の登録申請"),
    )
    assert_one_wins(results, Procedure)
    assert "既に登録されています" in str(won(results, InventoryError)[0])
    assert Procedure.objects.filter(procedure_id="NEW-1").count() == 1
    assert len(events("inventory.procedure.created")) == 1


def test_two_procedures_renamed_to_one_id_only_one_gets_it(dx: DxCity) -> None:
    a, b = a_procedure("R-A"), a_procedure("R-B")
    other = another_member(dx)
    results = race(
        lambda: procedure_update(procedure=a.pk, actor=dx.dx, procedure_id="R-SAME"),
        lambda: procedure_update(procedure=b.pk, actor=other, procedure_id="R-SAME"),
    )
    assert_one_wins(results, Procedure)
    assert sorted(Procedure.objects.values_list("procedure_id", flat=True)) in (
        ["R-B", "R-SAME"],
        ["R-A", "R-SAME"],
    )
    assert len(events("inventory.procedure.updated")) == 1


def test_counts_for_one_year_sent_at_once_make_one_row(dx: DxCity) -> None:
    procedure = a_procedure()
    members = [dx.dx, another_member(dx), another_member(dx, 3)]
    for year in (2021, 2022, 2023, 2024):  # a few rounds: the window is narrow
        results = race(
            *[
                lambda actor=actor, n=n, year=year: volume_set(
                    procedure=procedure.pk,
                    actor=actor,
                    fiscal_year=year,
                    total=100 * n,
                    online=10 * n,
                    offline=90 * n,
                )
                for n, actor in enumerate(members, start=1)
            ]
        )
        assert len(won(results, ProcedureVolume)) == 3, (year, results)
        applied = [e for e in events("inventory.volume.set") if e.data["fiscal_year"] == year]
        last = assert_applied_in_turn(applied, None)
        row = ProcedureVolume.objects.get(procedure=procedure, fiscal_year=year)
        assert [row.total, row.online, row.offline] == last.data["new"]


# --- weights, paper decisions, business processes --------------------------------------


def test_two_weights_versions_for_one_day_only_one_is_kept(dx: DxCity) -> None:
    other = another_member(dx)
    day = dt.date(2025, 4, 1)
    results = race(
        lambda: weights_new_version(actor=dx.dx, valid_from=day, w_in_person=1),
        lambda: weights_new_version(actor=other, valid_from=day, w_in_person=5),
    )
    assert_one_wins(results, PriorityWeights)
    assert "版は既にあります" in str(won(results, InventoryError)[0])
    kept = PriorityWeights.objects.get(valid_from=day)
    assert kept.pk == won(results, PriorityWeights)[0].pk
    assert len(events("inventory.weights.created")) == 2  # the fixture's and the winner's


def test_first_paper_counts_sent_at_once_make_one_row(dx: DxCity) -> None:
    members = [dx.dx, another_member(dx), another_member(dx, 3)]
    department = dx.city.zaisei_ka
    for year in (2021, 2022, 2023, 2024):  # a few rounds: the window is narrow
        results = race(
            *[
                lambda actor=actor, n=n, year=year: paper_count_set(
                    actor=actor, department=department, fiscal_year=year, count=10 * n
                )
                for n, actor in enumerate(members, start=1)
            ]
        )
        assert len(won(results, PaperDecisionCount)) == 3, (year, results)
        applied = [
            e for e in events("inventory.paper_decisions.set") if e.data["fiscal_year"] == year
        ]
        last = assert_applied_in_turn(applied, None)
        row = PaperDecisionCount.objects.get(department=department, fiscal_year=year)
        assert row.count == last.data["new"]


def test_two_processes_with_one_number_only_one_is_created(dx: DxCity) -> None:
    other = another_member(dx)
    results = race(
        lambda: process_save(actor=dx.dx, number="P-9", name="住民異動事務"),
        lambda: process_save(actor=other, number="P-9", name="戸籍事務"),
    )
    assert_one_wins(results, BusinessProcess)
    assert "既に使われています" in str(won(results, InventoryError)[0])
    assert BusinessProcess.objects.count() == 1
    assert len(events("inventory.process.created")) == 1


def test_two_edits_of_one_process_apply_one_after_the_other(dx: DxCity) -> None:
    process = process_save(actor=dx.dx, number="P-1", name="住民異動事務", volume_q1=10)
    other = another_member(dx)
    results = race(
        lambda: process_save(actor=dx.dx, process=process.pk, volume_q1=20),
        lambda: process_save(actor=other, process=process.pk, volume_q1=30),
    )
    assert len(won(results, BusinessProcess)) == 2, results
    applied = events("inventory.process.updated")
    last = assert_applied_in_turn(applied, {"volume_q1": 10, "procedures": []})
    process.refresh_from_db()
    assert process.volume_q1 == last.data["new"]["volume_q1"]


# --- the decision on the workflow engine ------------------------------------------------


def proposed(dx: DxCity) -> tuple[PriorityDecision, Step]:
    decision = decision_propose(
        actor=dx.dx, procedure=a_procedure(), rank=2, reason="件数が多い", score_snapshot={}
    )
    step = Step.objects.get(
        route__subject_type=ContentType.objects.get_for_model(PriorityDecision),
        route__subject_id=decision.pk,
        status=Step.Status.PENDING,
    )
    return decision, step


def test_a_decision_approved_twice_at_once_is_decided_once(dx: DxCity) -> None:
    decision, step = proposed(dx)
    head = dx.city.kikaku_kacho
    results = race(
        lambda: step_approve(step=step.pk, actor=head),
        lambda: step_approve(step=step.pk, actor=head),
    )
    assert_one_wins(results, Step, AlreadyDecided)
    decision.refresh_from_db()
    assert decision.status == PriorityDecision.Status.DECIDED and decision.decided_by == head
    assert len(events("inventory.decision.decided")) == 1


def test_decide_and_withdraw_at_once_one_wins(dx: DxCity) -> None:
    decision, step = proposed(dx)
    results = race(
        lambda: step_approve(step=step.pk, actor=dx.city.kikaku_kacho),
        lambda: (
            decision_withdraw(decision=decision, actor=dx.dx, comment="出し直し") or "withdrawn"
        ),
    )
    assert len(won(results, AlreadyDecided)) == 1, results
    decision.refresh_from_db()
    route = Route.objects.get()
    if isinstance(results[0], Step):
        assert decision.status == PriorityDecision.Status.DECIDED
        assert route.status == Route.Status.APPROVED
    else:
        assert results[1] == "withdrawn"
        assert decision.status == PriorityDecision.Status.WITHDRAWN
        assert route.status == Route.Status.WITHDRAWN
    decided = events("inventory.decision.decided") + events("inventory.decision.withdrawn")
    assert len(decided) == 1


# --- the import ---------------------------------------------------------------------------


def roster(name: str, total: int, n: int = 50) -> exchange.Validated:
    headers = ["手続ID", "手続名", "総手続件数", "件数の年度"]
    rows = [
        RawRow(
            i + 2,
            {
                "手続ID": f"IMP-{i:03d}",
                "手続名": f"{name} {i}",
                "総手続件数": str(total),
                "件数の年度": "2024",
            },
        )
        for i in range(n)
    ]
    validated = exchange.national_validate(RawRoster(headers, rows))
    assert validated.ok, validated.problems
    return validated


def test_one_new_file_imported_twice_at_once_is_imported_once(dx: DxCity, monkeypatch) -> None:
    other = another_member(dx)
    first, second = roster("手続", 100), roster("手続", 200)
    # Both imports have looked for the IDs (none exists yet) before either inserts: on a
    # busy machine one import could otherwise commit before the other starts, and the
    # second would rightly be an update, which is not the race this test is about.
    both_looked = threading.Barrier(2)
    bulk_create = QuerySet.bulk_create

    def meet_then_create(self, objs, *args, **kwargs):
        if self.model is Procedure:
            both_looked.wait(timeout=30)
        return bulk_create(self, objs, *args, **kwargs)

    monkeypatch.setattr(QuerySet, "bulk_create", meet_then_create)
    results = race(
        lambda: exchange.national_import(actor=dx.dx, validated=first),
        lambda: exchange.national_import(actor=other, validated=second),
    )
    monkeypatch.undo()
    assert_one_wins(results, exchange.ImportResult)
    assert "何も取り込んでいません" in str(won(results, InventoryError)[0])
    winner = won(results, exchange.ImportResult)[0]
    assert (winner.created, winner.updated, winner.volumes) == (50, 0, 50)
    # All of one file, none of the other: 50 procedures, 50 counts, one audit event.
    assert Procedure.objects.count() == 50
    assert set(ProcedureVolume.objects.values_list("total", flat=True)) in ({100}, {200})
    assert len(events("inventory.import.done")) == 1


def test_two_imports_updating_the_same_procedures_apply_in_turn(dx: DxCity) -> None:
    # 1,500 rows: three UPDATE batches of 500, so rows are written in three statements.
    exchange.national_import(actor=dx.dx, validated=roster("手続", 1, n=1500))
    other = another_member(dx)
    first, second = roster("更新A", 100, n=1500), roster("更新B", 200, n=1500)
    second.rows.reverse()  # the other order: without the locks taken first, a deadlock
    results = race(
        lambda: exchange.national_import(actor=dx.dx, validated=first),
        lambda: exchange.national_import(actor=other, validated=second),
    )
    assert all(isinstance(r, exchange.ImportResult) for r in results), results
    assert [(r.created, r.updated) for r in results] == [(0, 1500), (0, 1500)]
    names = set(Procedure.objects.values_list("name", flat=True))
    totals = set(ProcedureVolume.objects.values_list("total", flat=True))
    # One file or the other throughout, never a mix.
    assert (names, totals) in (
        ({f"更新A {i}" for i in range(1500)}, {100}),
        ({f"更新B {i}" for i in range(1500)}, {200}),
    )
    assert ProcedureVolume.objects.count() == 1500
