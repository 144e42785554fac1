"""/api/v1/documents/: the life of a 起案文書 through the API, visibility (404 for
people who may not see a document), validation errors, token auth and query counts."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from approvals.models import Attachment, Document
from approvals.selectors import document_visible_to
from org.models import Deputy, Staff
from tests.city import City, build_city
from tests.workflow.test_inbox_api import bulk_pending
from workflow.models import Action, Route, Step

TOKYO = ZoneInfo("Asia/Tokyo")
pytestmark = pytest.mark.django_db

DOCUMENTS = "/api/v1/documents/"


@pytest.fixture
def city() -> City:
    with time_machine.travel(dt.datetime(2026, 11, 26, 9, 0, tzinfo=TOKYO), tick=False):
        return build_city()


@pytest.fixture(autouse=True)
def _november_2026():
    with time_machine.travel(dt.datetime(2026, 11, 26, 10, 0, tzinfo=TOKYO), tick=True):
        yield


@pytest.fixture(autouse=True)
def _files_in_memory(settings) -> None:
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    }


def client_for(staff: Staff) -> APIClient:
    client = APIClient()
    client.force_authenticate(staff)
    return client


def draft(city: City, **fields) -> dict:
    body = {"title": "コピー用紙の購入について", "category": "buppin", "amount": 100_000, **fields}
    response = client_for(city.drafter).post(DOCUMENTS, body, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def approve_pending(city: City, document_id: int) -> None:
    """Each holder approves their pending step through the API, found in their inbox."""
    route = Route.objects.get(subject_id=document_id, status=Route.Status.ACTIVE)
    while (step := Step.objects.filter(route=route, status="pending").first()) is not None:
        client = client_for(step.assignee)
        inbox = client.get("/api/v1/inbox/").json()["results"]
        assert step.pk in [item["id"] for item in inbox]
        response = client.post(f"/api/v1/steps/{step.pk}/approve/", {}, format="json")
        assert response.status_code == 200, response.json()


# --- the lifecycle ------------------------------------------------------------------


def test_document_lifecycle_through_the_api(city: City) -> None:
    drafter = client_for(city.drafter)
    document = draft(city, body="A4 500枚×10箱")
    url = f"{DOCUMENTS}{document['id']}/"
    assert document["status"] == "draft"
    assert document["is_editable"] is True
    assert document["department"]["name"] == "総務課"
    assert document["category_name"] == "物品購入"

    edited = drafter.patch(url, {"amount": 120_000, "retention": "3"}, format="json")
    assert edited.status_code == 200
    assert edited.json()["amount"] == 120_000 and edited.json()["retention"] == "3"

    upload = SimpleUploadedFile("見積書.pdf", b"%PDF-1.4 quote", content_type="application/pdf")
    attached = drafter.post(f"{url}attachments/", {"file": upload}, format="multipart")
    assert attached.status_code == 201, attached.json()
    assert attached.json()["original_name"] == "見積書.pdf"
    assert attached.json()["after_decision"] is False
    listed = drafter.get(f"{url}attachments/").json()
    assert [a["sha256"] for a in listed["results"]] == [Attachment.objects.get().sha256]

    proposed = drafter.get(f"{url}proposed-route/").json()
    assert [(s["kind"], s["steps"][0]["post"]["name"]) for s in proposed] == [
        ("circulation", "係長"),
        ("circulation", "課長補佐"),
        ("decision", "課長"),
    ]

    submitted = drafter.post(f"{url}submit/", {}, format="json", HTTP_IDEMPOTENCY_KEY="s-1")
    assert submitted.status_code == 200
    assert submitted.json()["status"] == "in_review"
    assert submitted.json()["is_editable"] is False
    assert drafter.patch(url, {"title": "変更"}, format="json").status_code == 403

    approve_pending(city, document["id"])
    decided = drafter.get(url).json()
    assert decided["status"] == "decided"
    assert decided["number"] == "8総第1号"
    assert decided["decided_by"]["id"] == city.kacho.pk

    [round_] = drafter.get(f"{url}route/").json()
    assert round_["round"] == 1 and round_["status"] == "approved"
    assert [s["kind"] for s in round_["stages"]] == ["circulation", "circulation", "decision"]
    assert [s["steps"][0]["status"] for s in round_["stages"]] == [
        "approved",
        "approved",
        "decided",
    ]
    assert [a["kind"] for a in round_["actions"]] == ["submit", "approve", "approve", "decide"]

    later = SimpleUploadedFile("納品書.pdf", b"%PDF-1.4 delivery", content_type="application/pdf")
    after = drafter.post(f"{url}attachments/", {"file": later}, format="multipart")
    assert after.json()["after_decision"] is True

    early = drafter.post(f"{url}issue/", {"issued_on": "2026-11-01"}, format="json")
    assert early.status_code == 400
    assert "施行日は決裁日以降です" in early.json()["detail"]
    issued = drafter.post(f"{url}issue/", {"issued_on": "2026-11-27"}, format="json")
    assert issued.status_code == 200
    assert issued.json()["status"] == "issued" and issued.json()["issued_on"] == "2026-11-27"
    completed = client_for(city.kacho).post(f"{url}complete/", {}, format="json")
    assert completed.status_code == 200
    assert completed.json()["status"] == "completed"
    assert completed.json()["completed_on"] == "2026-11-26"


def test_withdraw_edit_and_submit_again(city: City) -> None:
    drafter = client_for(city.drafter)
    document = draft(city)
    url = f"{DOCUMENTS}{document['id']}/"
    not_yet = drafter.post(f"{url}withdraw/", {}, format="json")
    assert not_yet.status_code == 409
    assert "回議に回されていません" in not_yet.json()["detail"]
    drafter.post(f"{url}submit/", {}, format="json")
    assert client_for(city.kakaricho).post(f"{url}withdraw/", {}, format="json").status_code == 403
    withdrawn = drafter.post(f"{url}withdraw/", {"comment": "金額誤り"}, format="json")
    assert withdrawn.status_code == 200
    assert withdrawn.json()["status"] == "withdrawn"
    assert client_for(city.kakaricho).get("/api/v1/inbox/count/").json() == {"count": 0}
    assert drafter.patch(url, {"amount": 90_000}, format="json").status_code == 200
    assert drafter.post(f"{url}submit/", {}, format="json").status_code == 200
    rounds = drafter.get(f"{url}route/").json()
    assert [(r["round"], r["status"]) for r in rounds] == [(2, "active"), (1, "withdrawn")]
    twice = drafter.post(f"{url}submit/", {}, format="json")
    assert twice.status_code == 409
    assert "既に" in twice.json()["detail"]


def test_repeated_submit_request_id_starts_one_route(city: City) -> None:
    document = draft(city)
    url = f"{DOCUMENTS}{document['id']}/submit/"
    drafter = client_for(city.drafter)
    first = drafter.post(url, {"client_request_id": "submit-1"}, format="json")
    assert first.status_code == 200
    retry = drafter.post(url, {"client_request_id": "submit-1"}, format="json")
    # document_submit checks the document's status before route_start looks the request
    # id up, so a retry is refused (409) rather than answered with the first result.
    assert retry.status_code in (200, 409)
    assert Route.objects.filter(subject_id=document["id"]).count() == 1
    assert Action.objects.filter(client_request_id="submit-1").count() == 1


# --- who may see what ----------------------------------------------------------------


def test_outsider_gets_404_everywhere(city: City) -> None:
    document = draft(city)
    client_for(city.drafter).post(f"{DOCUMENTS}{document['id']}/submit/", {}, format="json")
    url = f"{DOCUMENTS}{document['id']}/"
    outsider = client_for(city.outsider)
    for path in ("", "route/", "attachments/", "proposed-route/"):
        response = outsider.get(f"{url}{path}")
        assert response.status_code == 404, path
        assert response.json() == {"detail": "見つかりません。 (Not found.)", "code": "not_found"}
    for path in ("submit/", "withdraw/", "issue/", "complete/"):
        assert outsider.post(f"{url}{path}", {}, format="json").status_code == 404, path
    assert outsider.patch(url, {"title": "x"}, format="json").status_code == 404
    upload = SimpleUploadedFile("x.txt", b"x")
    assert (
        outsider.post(f"{url}attachments/", {"file": upload}, format="multipart").status_code == 404
    )
    assert outsider.get(DOCUMENTS).json()["count"] == 0
    assert outsider.get(f"{DOCUMENTS}{10**30}/").status_code == 404
    # Everyone on the route sees it; the approver cannot edit it.
    approver = client_for(city.kakaricho)
    assert approver.get(url).status_code == 200
    assert [d["id"] for d in approver.get(DOCUMENTS).json()["results"]] == [document["id"]]


def test_the_list_agrees_with_document_visible_to(city: City) -> None:
    """The list's queryset restates selectors.document_visible_to; they must not drift."""
    draft(city, title="下書き")
    submitted = draft(city, title="回議中")
    client_for(city.drafter).post(f"{DOCUMENTS}{submitted['id']}/submit/", {}, format="json")
    draft(city, title="秘文書", confidentiality="confidential")
    client_for(city.outsider).post(
        DOCUMENTS, {"title": "企画課の文書", "category": "buppin"}, format="json"
    )
    # A deputy registered after submission sees the item while the holder is away.
    deputy = city.kikaku_kacho
    Deputy.objects.create(
        principal=city.kakaricho, deputy=deputy, order=1, start=dt.date(2020, 4, 1)
    )
    city.absent(city.kakaricho)
    people = (city.drafter, city.kakaricho, city.kacho, city.bucho, city.outsider, deputy)
    for staff in people:
        listed = {d["id"] for d in client_for(staff).get(DOCUMENTS).json()["results"]}
        expected = {
            d.pk for d in Document.objects.all() if document_visible_to(document=d, staff=staff)
        }
        assert listed == expected, staff
    assert [d["title"] for d in client_for(deputy).get(DOCUMENTS).json()["results"]] == ["回議中"]
    assert client_for(city.bucho).get(DOCUMENTS).json()["count"] == 0


def test_only_the_drafter_edits_a_draft(city: City) -> None:
    document = draft(city)
    url = f"{DOCUMENTS}{document['id']}/"
    # A draft nobody else has been sent is invisible to them: 404, not 403.
    assert client_for(city.kacho).patch(url, {"title": "x"}, format="json").status_code == 404
    client_for(city.drafter).post(f"{url}submit/", {}, format="json")
    client_for(city.drafter).post(f"{url}withdraw/", {}, format="json")
    refused = client_for(city.kakaricho).patch(url, {"title": "x"}, format="json")
    assert refused.status_code == 403
    assert refused.json() == {
        "detail": "編集できるのは起案者だけです。 (Only the drafter may edit.)",
        "code": "not_allowed",
    }


# --- validation ---------------------------------------------------------------------


def test_validation_errors_are_400_in_japanese(city: City) -> None:
    drafter = client_for(city.drafter)
    missing = drafter.post(DOCUMENTS, {"category": "buppin"}, format="json")
    assert missing.status_code == 400
    body = missing.json()
    assert body["code"] == "invalid"
    assert body["errors"]["title"] == ["この項目は必須です。"]
    assert (
        body["detail"]
        == "入力内容に誤りがあります（title: この項目は必須です。） (Invalid input: title.)"
    )
    wrong = drafter.post(
        DOCUMENTS,
        {"title": "x", "category": "nothing", "amount": -1, "retention": "99"},
        format="json",
    )
    assert wrong.status_code == 400
    assert set(wrong.json()["errors"]) == {"category", "amount", "retention"}
    assert drafter.post(DOCUMENTS, {"title": "   ", "category": "buppin"}, format="json").json()[
        "errors"
    ]["title"] == ["この項目は空にできません。"]
    not_json = drafter.post(DOCUMENTS, "title=x", content_type="text/plain")
    assert not_json.status_code == 415
    assert not_json.json()["code"] == "unsupported_media_type"
    broken = drafter.post(DOCUMENTS, "{", content_type="application/json")
    assert broken.status_code == 400
    assert broken.json()["code"] == "parse_error"

    document = draft(city)
    url = f"{DOCUMENTS}{document['id']}/"
    empty = SimpleUploadedFile("empty.txt", b"")
    response = drafter.post(f"{url}attachments/", {"file": empty}, format="multipart")
    assert response.status_code == 400
    assert response.json()["errors"]["file"]
    assert drafter.post(f"{url}attachments/", {}, format="multipart").status_code == 400
    assert (
        drafter.post(f"{url}issue/", {"issued_on": "2026-02-30"}, format="json").status_code == 400
    )
    not_decided = drafter.post(f"{url}issue/", {}, format="json")
    assert not_decided.status_code == 400
    assert not_decided.json()["code"] == "invalid_request"
    assert Document.objects.count() == 1


# --- authentication -----------------------------------------------------------------


def test_token_authentication(city: City) -> None:
    document = draft(city)
    token = Token.objects.create(user=city.drafter)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    listed = client.get(DOCUMENTS)
    assert listed.status_code == 200
    assert [d["id"] for d in listed.json()["results"]] == [document["id"]]
    submitted = client.post(f"{DOCUMENTS}{document['id']}/submit/", {}, format="json")
    assert submitted.status_code == 200  # no CSRF token needed with token auth
    client.credentials(HTTP_AUTHORIZATION="Token not-a-token")
    refused = client.get(DOCUMENTS)
    assert refused.status_code in (401, 403)
    assert refused.json()["code"] == "authentication_failed"


def test_anonymous_gets_401_or_403_and_unknown_paths_404_json(city: City) -> None:
    client = APIClient()
    response = client.get(DOCUMENTS)
    assert response.status_code in (401, 403)
    assert response.json()["code"] == "not_authenticated"
    assert client.post(DOCUMENTS, {}, format="json").status_code in (401, 403)
    unknown = client_for(city.drafter).get("/api/v1/no-such-thing/")
    assert unknown.status_code == 404
    assert unknown.json()["code"] == "not_found"


# --- query counts -------------------------------------------------------------------

# Absent principals (deputy visibility), count, page — plus a ContentType lookup on a
# cold cache.
DOCUMENT_LIST_QUERIES = 4


@pytest.mark.parametrize("rows", [10, 1000])
def test_document_list_query_count_does_not_grow(
    city: City, rows: int, django_assert_max_num_queries
) -> None:
    bulk_pending(city, rows, assignee=city.kacho)
    for staff in (city.kacho, city.drafter):  # visible through route grants / as drafter
        client = client_for(staff)
        with django_assert_max_num_queries(DOCUMENT_LIST_QUERIES):
            response = client.get(DOCUMENTS, {"limit": 200})
        assert response.status_code == 200
        assert response.json()["count"] == rows
        assert len(response.json()["results"]) == min(rows, 200)
