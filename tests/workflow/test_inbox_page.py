"""The inbox page: only the viewer's items, constant query count, bulk approval, 後閲
and notices, filters and the live fragment."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.contenttypes.models import ContentType
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from approvals.models import Document
from approvals.services import document_create, document_submit
from org.models import Department
from tests.city import City, build_city, bulk_pending
from workflow.models import Action, Notification, PostReview, Route, Stage, Step
from workflow.services import step_approve

TOKYO = ZoneInfo("Asia/Tokyo")
pytestmark = pytest.mark.django_db

INBOX = "/inbox/"
# Measured (13 for 10 and for 1,000 items): session, user; counts by kind (+ absent
# principals, content types); departments of the items (+ absent principals); the page
# (+ absent principals, paginator count, rows, their subjects); 後閲; notices.
MAX_QUERIES = 13


@pytest.fixture
def city() -> City:
    with time_machine.travel(dt.datetime(2026, 11, 26, 9, 0, tzinfo=TOKYO), tick=False):
        return build_city()


@pytest.fixture(autouse=True)
def _november_2026():
    with time_machine.travel(dt.datetime(2026, 11, 26, 10, 0, tzinfo=TOKYO), tick=True):
        yield


def submit(city: City, title: str, *, actor=None, **kw) -> Document:
    document = document_create(
        actor=actor or city.drafter,
        title=title,
        category=kw.pop("category", city.buppin),
        amount=kw.pop("amount", 100_000),
        **kw,
    )
    document_submit(document=document, actor=document.drafter)
    return document


def pending_of(document: Document) -> Step:
    return Step.objects.get(route__subject_id=document.pk, status=Step.Status.PENDING)


def texts(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


# --- what the inbox shows --------------------------------------------------------------


def test_inbox_shows_only_the_viewers_items(client, city: City) -> None:
    mine = submit(city, "総務課の物品購入")  # first step: 総務課 係長
    theirs = submit(city, "企画課の物品購入", actor=city.outsider)  # 企画課長
    client.force_login(city.kakaricho)
    body = client.get(INBOX).content.decode()
    assert mine.title in body and theirs.title not in body
    assert "起案文書 1" in body  # the count by kind
    assert "総務課" in body and "起案 太郎" in body  # 起案課, 起案者
    assert "回議" in body and ">承認</button>" in body
    client.force_login(city.kikaku_kacho)
    body = client.get(INBOX).content.decode()
    assert theirs.title in body and mine.title not in body
    assert ">決裁</button>" in body


def test_confidential_documents_of_others_never_appear(client, city: City) -> None:
    secret = submit(
        city, "人事に関する秘密案件", actor=city.outsider, confidentiality="confidential"
    )
    assert pending_of(secret).assignee == city.kikaku_kacho
    for person in (city.kakaricho, city.kacho, city.hosa, city.bucho, city.zaisei_kacho):
        client.force_login(person)
        assert secret.title not in client.get(INBOX).content.decode()
        assert secret.title not in client.get(reverse("workflow:inbox_live")).content.decode()
    client.force_login(city.kikaku_kacho)
    body = client.get(INBOX).content.decode()
    assert secret.title in body and ">秘<" in body


def test_overdue_items_say_so_in_text(client, city: City) -> None:
    document = submit(city, "期限切れの案件")
    Step.objects.filter(pk=pending_of(document).pk).update(
        due_at=timezone.now() - dt.timedelta(hours=2)
    )
    client.force_login(city.kakaricho)
    assert "期限超過" in client.get(INBOX).content.decode()


def test_a_deputy_sees_the_absent_holders_step_marked_as_daiketsu(client, city: City) -> None:
    document = submit(city, "人件費の支出", category=city.jinkenhi, amount=None)
    # 係長 and 補佐 approve; the step then waits on 課長, who is away.
    for _ in range(2):
        step = pending_of(document)
        step_approve(step=step, actor=step.assignee)
    city.absent(city.kacho)
    client.force_login(city.hosa)
    body = client.get(INBOX).content.decode()
    assert document.title in body and "代決（課長 二郎 さんの代理）" in body
    step = pending_of(document)
    client.post(reverse("workflow:step_approve", args=[step.pk]), {"client_request_id": "deputy-1"})
    step.refresh_from_db()
    assert step.status == Step.Status.DECIDED and step.mode == Step.Mode.DEPUTY
    # The holder gets a 後閲 task and a notice on their inbox page, and clears both.
    client.force_login(city.kacho)
    body = client.get(INBOX).content.decode()
    assert "後閲済にする" in body and "代決されました" in body
    review = PostReview.objects.get(reviewer=city.kacho)
    client.post(reverse("workflow:post_review_done", args=[review.pk]))
    review.refresh_from_db()
    assert review.done_at is not None
    notice = Notification.objects.get(recipient=city.kacho, kind="post_review")
    client.post(reverse("workflow:notification_read", args=[notice.pk]))
    notice.refresh_from_db()
    assert notice.read_at is not None
    # Someone else's notice or review: 404, nothing changes.
    other = Notification.objects.filter(recipient=city.drafter).first()
    client.force_login(city.hosa)
    assert client.post(reverse("workflow:notification_read", args=[other.pk])).status_code == 404
    assert client.post(reverse("workflow:post_review_done", args=[review.pk])).status_code == 404


# --- cost does not grow with the inbox -------------------------------------------------


@pytest.mark.parametrize("n", [10, 1000])
def test_inbox_query_count_does_not_grow_with_items(
    client, city: City, django_assert_max_num_queries, n: int
) -> None:
    bulk_pending(city, n, assignee=city.kacho)
    # A deputy relation and an absence exist, so the deputy branch of the query runs too.
    client.force_login(city.kacho)
    with django_assert_max_num_queries(MAX_QUERIES):
        response = client.get(INBOX)
    assert response.status_code == 200
    body = response.content.decode()
    assert body.count('class="inbox-item') == min(n, 50)
    assert f"起案文書 {n}" in body
    with django_assert_max_num_queries(MAX_QUERIES):
        response = client.get(reverse("workflow:inbox_live"), {"page": "2"})
    assert response.status_code == 200


def test_pagination_and_filters_are_validated(client, city: City) -> None:
    bulk_pending(city, 60, assignee=city.kacho)
    client.force_login(city.kacho)
    first = client.get(INBOX).content.decode()
    assert "1 / 2 ページ" in first
    second = client.get(INBOX, {"page": "2"}).content.decode()
    assert second.count('class="inbox-item') == 10
    # Junk values: a message, every item, never an error page.
    response = client.get(INBOX, {"kind": "abc", "department": "999999", "page": "zz"})
    assert response.status_code == 200
    assert "絞り込みの条件が正しくない" in response.content.decode()
    kind = ContentType.objects.get_for_model(Document).pk
    body = client.get(INBOX, {"kind": kind, "department": city.soumu_ka.pk}).content.decode()
    assert body.count('class="inbox-item') == 50
    other = Department.objects.get(name="企画課")
    body = client.get(INBOX, {"department": other.pk}).content.decode()
    assert "絞り込みの条件が正しくない" in body  # not a department of any inbox item


def test_the_live_fragment_is_the_list_region_alone(client, city: City) -> None:
    submit(city, "ライブ更新の案件")
    client.force_login(city.kakaricho)
    response = client.get(reverse("workflow:inbox_live"), HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="inbox-live"') and "<html" not in body
    assert 'data-count="1"' in body and "ライブ更新の案件" in body
    # Forms in the fragment return to the inbox page, not to the fragment URL.
    assert 'name="next" value="/inbox/"' in body
    badge = client.get(reverse("workflow:inbox_badge")).content.decode()
    assert "1 件" in badge


# --- acting from the inbox -------------------------------------------------------------


def test_approve_from_the_inbox_with_a_request_id_acts_once(client, city: City) -> None:
    document = submit(city, "一回だけ承認")
    step = pending_of(document)
    client.force_login(city.kakaricho)
    url = reverse("workflow:step_approve", args=[step.pk])
    for _ in range(2):
        response = client.post(url, {"client_request_id": "double-tap", "next": "/inbox/"})
        assert response.status_code == 302 and response["Location"] == "/inbox/"
    assert Action.objects.filter(actor=city.kakaricho, kind="approve").count() == 1
    # Not the holder: the service's refusal as a message, never a 500.
    client.force_login(city.outsider)
    nxt = pending_of(document)
    response = client.post(reverse("workflow:step_approve", args=[nxt.pk]))
    assert response.status_code == 302
    assert any("権限がありません" in m for m in texts(response))
    # A GET does not act.
    assert client.get(reverse("workflow:step_approve", args=[nxt.pk])).status_code == 405


def test_bulk_approve_works_and_reports_failures(client, city: City) -> None:
    routine = [submit(city, f"定例の物品購入 {i}") for i in range(3)]
    important = submit(city, "重要な物品購入", important=True)
    stale = submit(city, "既に承認済みの案件")
    stale_step = pending_of(stale)
    step_approve(step=stale_step, actor=city.kakaricho)
    steps = [pending_of(d) for d in routine]
    ids = [s.pk for s in steps] + [pending_of(important).pk, stale_step.pk, 987654]

    client.force_login(city.kakaricho)
    response = client.post(
        reverse("workflow:bulk_approve"), {"steps": ids, "client_request_id": "bulk-1"}
    )
    assert response.status_code == 302
    messages = texts(response)
    assert "3 件を承認しました。" in messages
    assert any("重要な物品購入" in m and "一括承認できません" in m for m in messages)
    assert any("既に承認済みの案件" in m and "既に他の人が処理しました" in m for m in messages)
    assert any("987654" in m for m in messages)
    for s in steps:
        s.refresh_from_db()
        assert s.status == Step.Status.APPROVED and s.acted_by == city.kakaricho
    assert pending_of(important).assignee == city.kakaricho  # untouched
    # The same request again (a double tap): nothing acts twice.
    client.post(reverse("workflow:bulk_approve"), {"steps": ids, "client_request_id": "bulk-1"})
    assert Action.objects.filter(actor=city.kakaricho, kind="approve").count() == 4


def test_bulk_approve_refuses_mixed_kinds_and_empty_selection(client, city: City) -> None:
    document = submit(city, "通常の起案")
    doc_step = pending_of(document)
    # A second kind of subject in the same inbox (any model will do for the check).
    other_type = ContentType.objects.get_for_model(Department)
    route = Route.objects.create(
        subject_type=other_type,
        subject_id=city.soumu_ka.pk,
        title="別の種類の案件",
        department=city.soumu_ka,
        submitted_by=city.drafter,
        submitted_at=timezone.now(),
        current_stage=1,
    )
    stage = Stage.objects.create(route=route, position=1, kind="decision", status="active")
    other_step = Step.objects.create(
        route=route,
        stage=stage,
        person=city.kakaricho,
        assignee=city.kakaricho,
        status=Step.Status.PENDING,
        activated_at=timezone.now(),
    )
    client.force_login(city.kakaricho)
    response = client.post(
        reverse("workflow:bulk_approve"), {"steps": [doc_step.pk, other_step.pk]}
    )
    assert any("種類の異なる案件" in m for m in texts(response))
    doc_step.refresh_from_db()
    assert doc_step.status == Step.Status.PENDING
    response = client.post(reverse("workflow:bulk_approve"), {})
    assert any("案件を選択してください" in m for m in texts(response))
    # The inbox page still renders with a subject kind that has no page of its own.
    body = client.get(INBOX).content.decode()
    assert "別の種類の案件" in body and "通常の起案" in body
