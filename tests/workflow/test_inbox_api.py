"""/api/v1/ for the approval engine: inbox, step actions, comments, 後閲 — wiring,
permissions, error bodies and idempotency. The rules themselves are in test_engine.py."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.utils import timezone
from rest_framework.response import Response
from rest_framework.test import APIClient

from approvals.models import Document
from approvals.services import document_create, document_submit
from org.models import Staff
from tests.city import City, build_city, bulk_pending
from workflow.models import (
    Action,
    PostReview,
    Route,
    Step,
)
from workflow.selectors import inbox_for

TOKYO = ZoneInfo("Asia/Tokyo")
pytestmark = pytest.mark.django_db

INBOX = "/api/v1/inbox/"


@pytest.fixture
def city() -> City:
    with time_machine.travel(dt.datetime(2026, 11, 26, 9, 0, tzinfo=TOKYO), tick=False):
        return build_city()


@pytest.fixture(autouse=True)
def _november_2026():
    with time_machine.travel(dt.datetime(2026, 11, 26, 10, 0, tzinfo=TOKYO), tick=True):
        yield


def client_for(staff: Staff) -> APIClient:
    client = APIClient()
    client.force_authenticate(staff)
    return client


def submitted(city: City, amount: int = 100_000, title: str = "コピー用紙の購入について") -> Route:
    """A 物品購入 document on its route: 係長 → 課長補佐 → 課長 (決裁)."""
    document = document_create(actor=city.drafter, title=title, category=city.buppin, amount=amount)
    return document_submit(document=document, actor=city.drafter)


def pending_step(route: Route) -> Step:
    return Step.objects.filter(route=route, status=Step.Status.PENDING).get()


def act(staff: Staff, step: Step | int, verb: str, **body: object) -> Response:
    pk = step.pk if isinstance(step, Step) else step
    return client_for(staff).post(f"/api/v1/steps/{pk}/{verb}/", body, format="json")


# --- the inbox ----------------------------------------------------------------------


def test_inbox_lists_pending_steps_in_engine_order(city: City) -> None:
    first = submitted(city, title="一件目")
    second = submitted(city, title="二件目")
    Step.objects.filter(route=second).update(due_at=timezone.now() + dt.timedelta(hours=1))
    response = client_for(city.kakaricho).get(INBOX)
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    assert [r["id"] for r in body["results"]] == [s.pk for s in inbox_for(staff=city.kakaricho)]
    assert [r["title"] for r in body["results"]] == ["二件目", "一件目"]
    item = body["results"][1]
    assert item["route"] == first.pk
    assert item["kind"] == "approvals.document"
    assert item["kind_name"] == "起案文書"
    assert item["department"]["name"] == "総務課"
    assert item["submitted_by"]["name"] == "起案 太郎"
    assert item["stage_kind"] == "circulation"
    assert item["as_deputy"] is False
    assert item["due_at"] is not None
    count = client_for(city.kakaricho).get("/api/v1/inbox/count/")
    assert count.json() == {"count": 2}
    assert client_for(city.outsider).get(INBOX).json()["count"] == 0


def test_inbox_filters_and_rejects_an_unknown_kind(city: City) -> None:
    submitted(city)
    client = client_for(city.kakaricho)
    assert client.get(INBOX, {"kind": "approvals.document"}).json()["count"] == 1
    assert client.get(INBOX, {"department": city.kikaku_ka.pk}).json()["count"] == 0
    response = client.get(INBOX, {"kind": "approvals.nothing"})
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert "不明な種類です" in response.json()["detail"]


def test_deputy_sees_and_decides_for_an_absent_holder_then_post_review(city: City) -> None:
    route = submitted(city)
    assert act(city.kakaricho, pending_step(route), "approve").status_code == 200
    assert act(city.hosa, pending_step(route), "approve").status_code == 200
    decision = pending_step(route)
    refused = act(city.hosa, decision, "approve")  # 課長 is present
    assert refused.status_code == 403
    assert refused.json()["code"] == "not_allowed"
    city.absent(city.kacho)
    [item] = client_for(city.hosa).get(INBOX).json()["results"]
    assert item["id"] == decision.pk
    assert item["as_deputy"] is True
    assert item["stage_kind"] == "decision"
    decided = act(city.hosa, decision, "approve", comment="課長出張のため代決")
    assert decided.status_code == 200
    assert decided.json()["status"] == "decided"
    assert decided.json()["mode"] == "deputy"
    assert decided.json()["route"]["status"] == "approved"

    reviews = client_for(city.kacho).get("/api/v1/post-reviews/").json()
    assert reviews["count"] == 1
    review = reviews["results"][0]
    assert review["reason"] == "deputy"
    assert review["acted_by"]["id"] == city.hosa.pk
    url = f"/api/v1/post-reviews/{review['id']}/complete/"
    assert client_for(city.hosa).post(url, {}, format="json").status_code == 403
    done = client_for(city.kacho).post(url, {"comment": "確認しました"}, format="json")
    assert done.status_code == 200
    assert done.json()["done_at"] is not None
    again = client_for(city.kacho).post(url, {}, format="json")
    assert again.status_code == 409
    assert client_for(city.kacho).get("/api/v1/post-reviews/").json()["count"] == 0


# --- acting on steps ----------------------------------------------------------------


def test_double_approve_is_409_with_the_already_message(city: City) -> None:
    step = pending_step(submitted(city))
    assert act(city.kakaricho, step, "approve").status_code == 200
    second = act(city.kakaricho, step, "approve")
    assert second.status_code == 409
    body = second.json()
    assert body["code"] == "already_decided"
    assert "既に" in body["detail"]
    assert "(Someone else has already acted" in body["detail"]


def test_a_repeated_request_id_acts_once(city: City) -> None:
    route = submitted(city)
    step = pending_step(route)
    client = client_for(city.kakaricho)
    url = f"/api/v1/steps/{step.pk}/approve/"
    body = {"client_request_id": "tablet-7f3a", "comment": "了"}
    first = client.post(url, body, format="json")
    retry = client.post(url, body, format="json")
    assert first.status_code == retry.status_code == 200
    assert first.json() == retry.json()
    assert Action.objects.filter(route=route, kind=Action.Kind.APPROVE).count() == 1
    # The header does the same; the second call would otherwise hit the next step.
    nxt = pending_step(route)
    headers = {"HTTP_IDEMPOTENCY_KEY": "hosa-1"}
    hosa = client_for(city.hosa)
    for _ in range(2):
        response = hosa.post(f"/api/v1/steps/{nxt.pk}/approve/", {}, format="json", **headers)
        assert response.status_code == 200
    assert Action.objects.filter(route=route, kind=Action.Kind.APPROVE).count() == 2


def test_request_id_header_must_agree_and_fit(city: City) -> None:
    step = pending_step(submitted(city))
    client = client_for(city.kakaricho)
    url = f"/api/v1/steps/{step.pk}/approve/"
    mismatch = client.post(url, {"client_request_id": "a"}, format="json", HTTP_IDEMPOTENCY_KEY="b")
    assert mismatch.status_code == 400
    assert "一致しません" in mismatch.json()["errors"]["Idempotency-Key"][0]
    too_long = client.post(url, {"client_request_id": "x" * 65}, format="json")
    assert too_long.status_code == 400
    assert "client_request_id" in too_long.json()["errors"]
    assert Action.objects.filter(kind=Action.Kind.APPROVE).count() == 0


def test_return_and_reject_need_a_reason(city: City) -> None:
    route = submitted(city)
    step = pending_step(route)
    missing = act(city.kakaricho, step, "return")
    assert missing.status_code == 400
    body = missing.json()
    assert body["code"] == "invalid"
    assert body["errors"]["comment"] == ["差戻しの理由を入力してください。"]
    assert body["detail"].startswith("入力内容に誤りがあります（comment: 差戻しの理由")
    blank = act(city.kakaricho, step, "reject", comment="   ")
    assert blank.json()["errors"]["comment"] == ["却下の理由を入力してください。"]
    bad_target = act(city.kakaricho, step, "return", comment="再考を", to_step=10**9)
    assert bad_target.status_code == 400
    assert "to_step" in bad_target.json()["errors"]
    returned = act(city.kakaricho, step, "return", comment="金額を確認してください")
    assert returned.status_code == 200
    assert returned.json()["status"] == "returned"
    assert Document.objects.get(pk=route.subject_id).status == Document.Status.RETURNED


def test_return_to_an_earlier_step(city: City) -> None:
    route = submitted(city)
    first = pending_step(route)
    act(city.kakaricho, first, "approve")
    second = pending_step(route)
    response = act(city.hosa, second, "return", comment="係長に戻します", to_step=first.pk)
    assert response.status_code == 200
    assert pending_step(route).pk == first.pk


def test_reject_ends_the_route(city: City) -> None:
    route = submitted(city)
    response = act(city.kakaricho, pending_step(route), "reject", comment="不要です")
    assert response.status_code == 200
    assert response.json()["route"]["status"] == "rejected"


def test_withdraw_approval_and_pull_up(city: City) -> None:
    route = submitted(city)
    first = pending_step(route)
    act(city.kakaricho, first, "approve")
    taken_back = act(city.kakaricho, first, "withdraw-approval")
    assert taken_back.status_code == 200
    assert taken_back.json()["status"] == "pending"
    not_mine = act(city.hosa, first, "withdraw-approval")
    assert not_mine.status_code == 403
    assert "引き戻せる" in not_mine.json()["detail"]
    present = act(city.hosa, first, "pull-up")
    assert present.status_code == 403
    assert "不在" in present.json()["detail"]
    city.absent(city.kakaricho)
    pulled = act(city.hosa, first, "pull-up")
    assert pulled.status_code == 200
    assert pulled.json()["status"] == "skipped"
    assert pulled.json()["mode"] == "pulled_up"
    assert PostReview.objects.get(step=first).reviewer == city.kakaricho


def test_outsider_cannot_act_and_missing_steps_are_404(city: City) -> None:
    route = submitted(city)
    step = pending_step(route)
    for verb, body in [
        ("approve", {}),
        ("return", {"comment": "x"}),
        ("reject", {"comment": "x"}),
        ("pull-up", {}),
        ("withdraw-approval", {}),
    ]:
        response = act(city.outsider, step, verb, **body)
        assert response.status_code == 403, verb
        assert response.json()["code"] == "not_allowed"
    assert act(city.kakaricho, 10**9, "approve").status_code == 404
    assert act(city.kakaricho, 10**30, "approve").status_code == 404
    step.refresh_from_db()
    assert step.status == Step.Status.PENDING


def test_comments_on_a_route(city: City) -> None:
    route = submitted(city)
    url = f"/api/v1/routes/{route.pk}/comments/"
    assert client_for(city.outsider).post(url, {"comment": "?"}, format="json").status_code == 404
    assert client_for(city.kakaricho).post(url, {}, format="json").status_code == 400
    posted = client_for(city.kakaricho).post(
        url, {"comment": "単価を確認しました"}, format="json", HTTP_IDEMPOTENCY_KEY="c-1"
    )
    assert posted.status_code == 201
    assert posted.json()["kind"] == "comment"
    assert posted.json()["actor"]["id"] == city.kakaricho.pk
    again = client_for(city.kakaricho).post(
        url, {"comment": "単価を確認しました"}, format="json", HTTP_IDEMPOTENCY_KEY="c-1"
    )
    assert again.json()["id"] == posted.json()["id"]
    assert Action.objects.filter(route=route, kind=Action.Kind.COMMENT).count() == 1
    assert (
        client_for(city.kakaricho)
        .post("/api/v1/routes/999999999/comments/", {"comment": "x"}, format="json")
        .status_code
        == 404
    )


def test_anonymous_requests_are_refused(city: City) -> None:
    client = APIClient()
    for url in (INBOX, "/api/v1/inbox/count/", "/api/v1/post-reviews/"):
        response = client.get(url)
        assert response.status_code in (401, 403)
        assert response.json()["code"] == "not_authenticated"
    step = pending_step(submitted(city))
    assert client.post(f"/api/v1/steps/{step.pk}/approve/", {}, format="json").status_code in (
        401,
        403,
    )


# --- query counts -------------------------------------------------------------------


@pytest.mark.parametrize("rows", [10, 1000])
def test_inbox_query_count_does_not_grow(
    city: City, rows: int, django_assert_max_num_queries
) -> None:
    bulk_pending(city, rows, assignee=city.kacho)
    client = client_for(city.kacho)
    with django_assert_max_num_queries(INBOX_QUERIES):
        response = client.get(INBOX, {"limit": 200})
    assert response.status_code == 200
    assert response.json()["count"] == rows
    assert len(response.json()["results"]) == min(rows, 200)


# Absences (deputy principals), count, page — plus a ContentType lookup on a cold cache.
INBOX_QUERIES = 4
