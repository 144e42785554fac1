"""Two people, one step, the same instant: exactly one wins (PostgreSQL, real threads)."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from django.db import connection

from approvals.models import Document
from approvals.services import document_create, document_submit
from tests.city import City, build_city
from workflow.errors import AlreadyDecided
from workflow.models import Action, Route, Step
from workflow.services import step_approve, step_return

pytestmark = pytest.mark.django_db(transaction=True)


def race(*calls: Callable[[], object]) -> list[object]:
    """Run the calls in threads released together; return each result or exception."""
    barrier = threading.Barrier(len(calls))
    results: list[object] = [None] * len(calls)

    def run(i: int, call: Callable[[], object]) -> None:
        try:
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
def city(need_postgres) -> City:
    return build_city()


def decision_step(city: City, n: int = 0) -> Step:
    document = document_create(
        actor=city.drafter, title=f"同時決裁 {n}", category=city.jinkenhi, amount=1000
    )
    route = document_submit(document=document, actor=city.drafter)
    # 人件費 → 課長専決: approve up to the decision stage.
    while (
        step := Step.objects.filter(route=route, status="pending").first()
    ).stage.kind != "decision":
        step_approve(step=step, actor=step.assignee)
    return step


def test_holder_and_deputy_approve_at_once_one_wins(city: City) -> None:
    step = decision_step(city)
    city.absent(city.kacho)
    results = race(
        lambda: step_approve(step=step.pk, actor=city.kacho),
        lambda: step_approve(step=step.pk, actor=city.hosa),
    )
    winners = [r for r in results if isinstance(r, Step)]
    losers = [r for r in results if isinstance(r, AlreadyDecided)]
    assert len(winners) == 1 and len(losers) == 1, results
    assert Action.objects.filter(step=step, kind="decide").count() == 1
    assert Route.objects.get(pk=step.route_id).status == Route.Status.APPROVED


def test_same_person_double_tap_on_two_tablets(city: City) -> None:
    step = decision_step(city)
    results = race(
        lambda: step_approve(step=step.pk, actor=city.kacho),
        lambda: step_approve(step=step.pk, actor=city.kacho),
    )
    assert sum(isinstance(r, Step) for r in results) == 1
    assert sum(isinstance(r, AlreadyDecided) for r in results) == 1
    assert Document.objects.get().number.endswith("第1号")


def test_approve_and_return_at_once_one_wins(city: City) -> None:
    step = decision_step(city)
    city.absent(city.kacho)
    results = race(
        lambda: step_approve(step=step.pk, actor=city.hosa),
        lambda: step_return(step=step.pk, actor=city.kacho, comment="再検討を"),
    )
    assert sum(isinstance(r, Step) for r in results) == 1, results
    assert sum(isinstance(r, AlreadyDecided) for r in results) == 1, results
    route = Route.objects.get(pk=step.route_id)
    document = Document.objects.get()
    if route.status == Route.Status.APPROVED:
        assert document.status == Document.Status.DECIDED and document.number
    else:
        assert route.status == Route.Status.RETURNED
        assert document.status == Document.Status.RETURNED and not document.number


def test_fifty_simultaneous_decisions_get_fifty_consecutive_numbers(city: City) -> None:
    steps = [decision_step(city, n) for n in range(50)]
    results = race(*[(lambda s=s: step_approve(step=s.pk, actor=city.kacho)) for s in steps])
    assert all(isinstance(r, Step) for r in results), [
        r for r in results if not isinstance(r, Step)
    ]
    serials = sorted(Document.objects.values_list("number_serial", flat=True))
    assert serials == list(range(1, 51))
    numbers = set(Document.objects.values_list("number", flat=True))
    assert len(numbers) == 50
