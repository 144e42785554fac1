"""/api/schema/ describes reality: generated requests (schemathesis 4, positive and
negative data) against the WSGI application never get a 5xx, and every answer — status,
content type and body — is one the schema documents.

The requests go in-process through `config.wsgi.application` on the test database, as a
drafter and as a manager, each with a real token. Path ids are drawn partly from the
objects that exist (so requests reach the services, not only 404s) and partly as
generated. Hypothesis is derandomized, so a run is the same run on SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import os
from collections import Counter
from collections.abc import Iterator
from zoneinfo import ZoneInfo

import hypothesis
import pytest
import schemathesis
import time_machine
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.validation import validate_schema
from hypothesis import HealthCheck, Phase
from hypothesis import strategies as st
from rest_framework.authtoken.models import Token
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from approvals.models import Document
from approvals.services import document_create, document_submit
from config.wsgi import application
from tests.city import City, build_city
from workflow.models import PostReview, Route, Step
from workflow.services import step_approve, step_pull_up, step_return

TOKYO = ZoneInfo("Asia/Tokyo")
pytestmark = pytest.mark.django_db

# Per operation, generation mode and role: 32 operations × 2 modes × 6 ≈ 260 requests
# for each of the two roles (hypothesis stops earlier when an operation has fewer
# distinct inputs). SCHEMATHESIS_EXAMPLES=100 runs a deeper search locally.
EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "6"))

# Every check that looks at one response. Left out: the checks that judge the input
# rather than the answer (`negative_data_rejection`, `positive_data_acceptance`: DRF
# ignores unknown/unparseable paging parameters and the engine rejects valid-looking
# bodies by state, both by design) and the stateful ones (`use_after_free`,
# `ensure_resource_availability`), which need links this schema does not declare.
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@pytest.fixture(autouse=True)
def _keep_the_test_connection() -> Iterator[None]:
    """The WSGI handler closes "old" connections at each request's start and end, which
    on PostgreSQL would close the test's transaction; Django's test client does this too."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture(autouse=True)
def _files_in_memory(settings) -> None:
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    }


@pytest.fixture
def city() -> Iterator[City]:
    with time_machine.travel(dt.datetime(2026, 11, 26, 9, 0, tzinfo=TOKYO), tick=True):
        city = build_city()
        yield city


def _documents_in_every_state(city: City) -> None:
    """A draft, one in review, one returned, one decided, one with a 後閲 pending."""

    def new(title: str, amount: int = 100_000) -> Document:
        return document_create(actor=city.drafter, title=title, category=city.buppin, amount=amount)

    new("起案中の文書")
    document_submit(document=new("回議中の文書"), actor=city.drafter)
    returned = document_submit(document=new("差戻しの文書"), actor=city.drafter)
    step_return(step=_pending(returned), actor=city.kakaricho, comment="再確認を")
    decided = document_submit(document=new("決裁済の文書"), actor=city.drafter)
    while (step := Step.objects.filter(route=decided, status="pending").first()) is not None:
        step_approve(step=step, actor=step.assignee)
    pulled = document_submit(document=new("引上げの文書"), actor=city.drafter)
    city.absent(city.kakaricho)
    step_pull_up(step=_pending(pulled), actor=city.hosa)


def _pending(route: Route) -> Step:
    return Step.objects.get(route=route, status="pending")


def _id_pool(path: str) -> list[int]:
    """Existing ids for an operation's `{id}`, in a stable order, so generated requests
    reach the services and the derandomized draws pick the same objects on every run."""
    if path.startswith("/api/v1/documents/"):
        return list(Document.objects.order_by("pk").values_list("pk", flat=True))
    if path.startswith("/api/v1/steps/"):
        return list(Step.objects.order_by("pk").values_list("pk", flat=True))
    if path.startswith("/api/v1/routes/"):
        return list(Route.objects.order_by("pk").values_list("pk", flat=True))
    if path.startswith("/api/v1/post-reviews/"):
        return list(PostReview.objects.order_by("pk").values_list("pk", flat=True))
    return []


def _realistic(case: schemathesis.Case, existing: int) -> None:
    """Point a generated case at data that exists: an existing id for `{id}`, a category
    code and a subject kind the database knows (the schema cannot enumerate them)."""
    if "id" in (case.path_parameters or {}):
        case.path_parameters["id"] = existing
    if isinstance(case.body, dict) and "category" in case.body:
        case.body["category"] = "buppin"
    if case.operation.path == "/api/v1/inbox/" and case.query and "kind" in case.query:
        case.query["kind"] = "approvals.document"


def test_schema_is_valid_and_documents_token_auth() -> None:
    GENERATOR_STATS.reset()
    schema = SchemaGenerator().get_schema(request=None, public=True)
    validate_schema(schema)
    assert not GENERATOR_STATS._warn_cache, list(GENERATOR_STATS._warn_cache)
    assert not GENERATOR_STATS._error_cache, list(GENERATOR_STATS._error_cache)
    assert schema["components"]["securitySchemes"]["tokenAuth"] == {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": 'Token-based authentication with required prefix "Token"',
    }
    operations = [(m, p) for p, item in schema["paths"].items() for m in item]
    assert len(operations) == 32  # 22 for approval, 10 for records (files and records)
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            assert {"tokenAuth": []} in operation["security"], (method, path)
            assert "403" in operation["responses"], (method, path)


@pytest.mark.parametrize("role", ["drafter", "manager"])
def test_generated_requests_conform_to_the_schema(city: City, role: str) -> None:
    _documents_in_every_state(city)
    staff = city.drafter if role == "drafter" else city.kakaricho
    headers = {"Authorization": f"Token {Token.objects.create(user=staff).key}"}
    schema = schemathesis.openapi.from_wsgi("/api/schema/", application, headers=headers)
    schema.validate()
    statuses: Counter[tuple[str, int]] = Counter()

    for result in schema.get_all_operations():
        operation = result.ok()
        pool = _id_pool(operation.path)
        # Negative data needs something to negate (GET /inbox/count/ has no input; the
        # security schemes show up as optional parameters but cannot be negated).
        inputs = [
            p for p in operation.iter_parameters() if "x-original-security-type" not in p.definition
        ]
        has_input = bool(inputs) or bool(operation.body)
        modes = [GenerationMode.POSITIVE, *([GenerationMode.NEGATIVE] if has_input else [])]
        for mode in modes:

            @hypothesis.settings(
                max_examples=EXAMPLES,
                derandomize=True,
                database=None,
                deadline=None,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            @hypothesis.given(
                case=operation.as_strategy(generation_mode=mode),
                # None: the case as generated; else made realistic (no pool: [0] only
                # switches the category/kind fix-ups on).
                existing=st.sampled_from([None, *(pool or [0])]),
            )
            def call(case: schemathesis.Case, existing: int | None) -> None:
                if existing is not None:
                    _realistic(case, existing)
                response = case.call(headers=headers)
                statuses[(case.operation.label, response.status_code)] += 1
                case.validate_response(response, checks=CHECKS, headers=headers)

            call()

    total = sum(statuses.values())
    succeeded = {label for (label, status), _n in statuses.items() if status < 300}
    print(f"\n{role}: {total} requests; 2xx on {len(succeeded)} operations")
    assert total >= 200
    assert not [key for key in statuses if key[1] >= 500]
    # Not only 404s and 400s: most operations were reached and answered successfully.
    assert len(succeeded) >= 10, sorted(statuses.items())
