"""manage.py seed_scale: a small run makes consistent data (the benchmark relies on it)."""

from __future__ import annotations

import io

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.management import CommandError, call_command
from django.db.models import Count, Q

from approvals.models import Document
from approvals.services import format_number
from org.models import Staff
from workflow.models import Route, Stage, Step
from workflow.selectors import absent_principals_of, inbox_for

pytestmark = pytest.mark.django_db

SMALL = {"staff": 30, "documents": 300, "busy_manager_items": 20}


@pytest.fixture
def seeded(settings) -> str:
    settings.DEBUG = True
    out = io.StringIO()
    call_command("seed_scale", stdout=out, **SMALL)
    return out.getvalue()


def test_sizes_and_summary(seeded: str) -> None:
    assert Staff.objects.filter(employee_number__startswith="SC").count() == 30
    assert Document.objects.count() == 300
    assert "seed_scale done" in seeded
    assert "documents 300" in seeded


def test_every_document_has_exactly_one_round_one_route(seeded: str) -> None:
    ct = ContentType.objects.get_for_model(Document)
    routes = Route.objects.filter(subject_type=ct)
    assert routes.count() == Document.objects.count()
    per_doc = routes.values("subject_id").annotate(n=Count("pk"))
    assert {r["subject_id"] for r in per_doc} == set(Document.objects.values_list("pk", flat=True))
    assert all(r["n"] == 1 for r in per_doc)
    assert set(routes.values_list("round", flat=True)) == {1}
    # One step per stage, the last stage the decision.
    assert Stage.objects.annotate(n=Count("steps")).exclude(n=1).count() == 0
    for route in routes.prefetch_related("stages"):
        kinds = [s.kind for s in sorted(route.stages.all(), key=lambda s: s.position)]
        assert kinds[-1] == Stage.Kind.DECISION
        assert set(kinds[:-1]) <= {Stage.Kind.CIRCULATION}


def test_pending_steps_match_documents_in_review(seeded: str) -> None:
    in_review = Document.objects.filter(status=Document.Status.IN_REVIEW)
    pending = Step.objects.pending()
    assert pending.count() == in_review.count()
    assert set(pending.values_list("route__subject_id", flat=True)) == set(
        in_review.values_list("pk", flat=True)
    )
    # Exactly one pending step per route in review, fully set, on the current stage.
    per_route = pending.values("route").annotate(n=Count("pk"))
    assert all(r["n"] == 1 for r in per_route)
    assert not pending.filter(Q(assignee=None) | Q(activated_at=None)).exists()
    for step in pending.select_related("route", "stage"):
        assert step.route.status == Route.Status.ACTIVE
        assert step.stage.status == Stage.Status.ACTIVE
        assert step.route.current_stage == step.stage.position
        assert not step.route.steps.filter(
            stage__position__lt=step.stage.position, acted_at=None
        ).exists()
        assert (
            not step.route.steps.filter(stage__position__gt=step.stage.position)
            .exclude(status=Step.Status.WAITING)
            .exists()
        )
    busy = Staff.objects.get(username="busy-manager")
    assert pending.filter(assignee=busy).count() == SMALL["busy_manager_items"]


def test_decided_routes_have_every_step_acted(seeded: str) -> None:
    decided = Document.objects.filter(status=Document.Status.DECIDED)
    assert decided.count() > Document.objects.count() // 2
    routes = Route.objects.filter(subject_id__in=decided.values("pk"))
    assert set(routes.values_list("status", flat=True)) == {Route.Status.APPROVED}
    steps = Step.objects.filter(route__in=routes)
    assert not steps.filter(Q(acted_at=None) | Q(acted_by=None)).exists()
    assert set(steps.values_list("status", flat=True)) == {
        Step.Status.APPROVED,
        Step.Status.DECIDED,
    }
    assert steps.filter(status=Step.Status.DECIDED).count() == routes.count()
    assert (
        not steps.filter(status=Step.Status.DECIDED)
        .exclude(stage__kind=Stage.Kind.DECISION)
        .exists()
    )
    others = Document.objects.exclude(status=Document.Status.DECIDED)
    assert set(others.values_list("status", flat=True)) <= {
        Document.Status.IN_REVIEW,
        Document.Status.RETURNED,
        Document.Status.WITHDRAWN,
    }


def test_busy_manager_inbox_includes_deputy_items(seeded: str) -> None:
    busy = Staff.objects.get(username="busy-manager")
    absent = Staff.objects.get(username="absent-manager")
    assert absent_principals_of(deputy=busy) == [absent.pk]
    covered = Step.objects.pending().filter(assignee=absent, route__important=False).count()
    assert covered > 0
    expected = SMALL["busy_manager_items"] + covered
    inbox = inbox_for(staff=busy)
    assert inbox.count() == expected
    assert len(list(inbox)) == expected
    assert f"inbox count {expected}" in seeded


def test_decided_document_numbers_are_unique(seeded: str) -> None:
    decided = Document.objects.filter(status=Document.Status.DECIDED)
    assert not decided.filter(
        Q(number="") | Q(number_fiscal_year=None) | Q(number_serial=None) | Q(decided_at=None)
    ).exists()
    keys = list(decided.values_list("number_fiscal_year", "number_symbol", "number_serial"))
    assert len(keys) == len(set(keys))
    for doc in decided[:50]:
        assert doc.number == format_number(
            doc.number_fiscal_year, doc.number_symbol, doc.number_serial
        )
    assert not Document.objects.exclude(status=Document.Status.DECIDED).exclude(number="").exists()


def test_refused_without_debug_unless_forced(settings) -> None:
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DEBUG"):
        call_command("seed_scale", stdout=io.StringIO(), **SMALL)
    assert not Document.objects.exists()


def test_refuses_a_database_already_seeded(seeded: str) -> None:
    with pytest.raises(CommandError, match="already holds scale data"):
        call_command("seed_scale", stdout=io.StringIO(), **SMALL)
