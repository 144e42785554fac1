"""What the official PDF of a decided 起案文書 prints, gathered from the database."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from pypdf import PdfReader, PdfWriter

from approvals.models import Document
from approvals.records import document_record_payload
from approvals.services import (
    attachment_add,
    document_create,
    document_issue,
    document_submit,
    document_update,
)
from records.payload import RenderPayload
from records.rendering import HISTORY_NAME, render_record
from tests.city import City, build_city
from workflow.models import PostReview, Route, Stage, Step
from workflow.services import (
    StageSpec,
    StepSpec,
    post_review_complete,
    route_add_stage,
    step_approve,
    step_pull_up,
    step_return,
)

TOKYO = ZoneInfo("Asia/Tokyo")
pytestmark = pytest.mark.django_db


@pytest.fixture
def city() -> City:
    with time_machine.travel(dt.datetime(2026, 11, 26, 9, 0, tzinfo=TOKYO), tick=False):
        return build_city()


@pytest.fixture(autouse=True)
def _november_2026():
    with time_machine.travel(dt.datetime(2026, 11, 26, 10, 0, tzinfo=TOKYO), tick=True):
        yield


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "media")},
        },
    }


def blank_pdf(pages: int = 1) -> bytes:
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(595, 842)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def pending(route: Route) -> list[Step]:
    return list(
        Step.objects.filter(route=route, status=Step.Status.PENDING).order_by("stage__position")
    )


def approve_all(route: Route) -> None:
    while steps := pending(route):
        step_approve(step=steps[0], actor=steps[0].assignee)


def draft(city: City, **kw) -> Document:
    return document_create(
        actor=city.drafter,
        title=kw.pop("title", "コピー用紙の購入について"),
        category=city.buppin,
        amount=100_000,
        body="標記について、下記のとおり購入してよろしいか伺います。\n\n記\n\n１　品名　コピー用紙",
        **kw,
    )


@pytest.fixture
def decided(city: City) -> tuple[Document, bytes]:
    """係長 absent (課長 pulls the step up), then 課長 absent (補佐 decides as deputy);
    both complete their 後閲; a PDF was attached before submission."""
    document = draft(city)
    quote = blank_pdf(2)
    attachment_add(
        document=document,
        actor=city.drafter,
        upload=SimpleUploadedFile("見積書.pdf", quote, content_type="application/pdf"),
    )
    route = document_submit(document=document, actor=city.drafter)
    city.absent(city.kakaricho)
    first = pending(route)[0]
    step_pull_up(step=first, actor=city.kacho)
    step_approve(step=pending(route)[0], actor=city.hosa, comment="単価を確認しました")
    city.absent(city.kacho)
    decision = pending(route)[0]
    step_approve(step=decision, actor=city.hosa, comment="課長出張のため代決")
    post_review_complete(
        review=PostReview.objects.get(step=decision), actor=city.kacho, comment="確認しました"
    )
    post_review_complete(review=PostReview.objects.get(step=first), actor=city.kakaricho)
    document_issue(document=document, actor=city.drafter, issued_on=dt.date(2026, 11, 27))
    return Document.objects.get(pk=document.pk), quote


def test_fields_and_dates(decided: tuple[Document, bytes]) -> None:
    document, _ = decided
    p = document_record_payload(document)
    assert isinstance(p, RenderPayload)
    assert p.kind_label == "起案文書"
    assert p.number == "8総第1号" and p.title == "コピー用紙の購入について"
    assert p.drafter == "総務課 主事 起案 太郎"
    assert p.department == "総務部 総務課"
    assert p.dates == [
        ("起案日", dt.date(2026, 11, 26)),
        ("決裁日", dt.date(2026, 11, 26)),
        ("施行日", dt.date(2026, 11, 27)),
    ]
    assert (p.classification, p.retention, p.confidentiality) == ("物品購入", "5年", "通常")
    assert p.body.startswith("標記について")


def test_rows_show_deputy_pull_up_and_post_reviews(decided: tuple[Document, bytes]) -> None:
    document, _ = decided
    rows = document_record_payload(document).approvals
    assert [(r.stage, r.post, r.name, r.action, r.mode, r.on_behalf_of) for r in rows] == [
        ("起案", "総務課 主事", "起案 太郎", "起案", "", ""),
        ("回議", "総務課 係長", "課長 二郎", "引上げ", "引上げ（後閲）", "係長 一郎"),
        ("回議", "総務課 係長", "係長 一郎", "後閲", "後閲", ""),
        ("回議", "総務課長補佐", "補佐 三郎", "承認", "", ""),
        ("決裁", "総務課長", "補佐 三郎", "決裁", "代決", "課長 二郎"),
        ("決裁", "総務課長", "課長 二郎", "後閲", "後閲", ""),
    ]
    assert [r.family_name for r in rows] == ["起案", "課長", "係長", "補佐", "補佐", "課長"]
    assert all(r.at is not None for r in rows)
    # Each 後閲 follows the step it reviews, although it was done after the decision.
    assert rows[2].at > rows[4].at
    assert rows[3].comment == "単価を確認しました"
    assert rows[4].comment == "課長出張のため代決"
    assert rows[5].comment == "確認しました"


def test_attachments_are_read_from_storage(decided: tuple[Document, bytes]) -> None:
    document, quote = decided
    [item] = document_record_payload(document).attachments
    assert item.name == "見積書.pdf" and item.content_type == "application/pdf"
    assert item.size == len(quote) and item.sha256 == hashlib.sha256(quote).hexdigest()
    assert item.read() == quote


def test_history_covers_document_and_route_and_checks_alone(
    decided: tuple[Document, bytes],
) -> None:
    document, _ = decided
    payload = document_record_payload(document)
    history = json.loads(payload.history_json)
    actions = [e["action"] for e in history]
    for expected in (
        "approvals.document.created",
        "approvals.attachment.added",
        "workflow.submit",
        "workflow.pull_up",
        "workflow.approve",
        "workflow.decide",
        "workflow.post_review",
        "approvals.document.decided",
        "approvals.document.issued",
    ):
        assert expected in actions, expected
    assert [e["seq"] for e in history] == sorted(e["seq"] for e in history)
    decide = next(e for e in history if e["action"] == "workflow.decide")
    assert decide["actor"] == "補佐 三郎" and decide["target_type"] == "workflow.route"
    assert decide["data"]["mode"] == "deputy"
    for event in history:
        hashed = {k: v for k, v in event.items() if k not in ("actor", "target_type", "hash")}
        hashed.pop("prev_hash")
        canonical = json.dumps(hashed, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        assert (
            event["hash"] == hashlib.sha256((event["prev_hash"] + canonical).encode()).hexdigest()
        )
    # Deterministic: the same database gives the same bytes.
    assert document_record_payload(document).history_json == payload.history_json


def test_only_the_last_route_is_the_record_but_history_keeps_all(city: City) -> None:
    document = draft(city)
    first = document_submit(document=document, actor=city.drafter)
    step_return(step=pending(first)[0], actor=city.kakaricho, comment="見積書を添付してください")
    document_update(document=document, actor=city.drafter, body="見積書を添付しました")
    second = document_submit(document=document, actor=city.drafter)
    approve_all(second)
    payload = document_record_payload(document)
    assert [r.action for r in payload.approvals] == ["起案", "承認", "承認", "決裁"]
    assert "差戻し" not in {r.action for r in payload.approvals}
    history = json.loads(payload.history_json)
    routes = {e["target_id"] for e in history if e["target_type"] == "workflow.route"}
    assert routes == {str(first.pk), str(second.pk)}
    assert "workflow.return" in [e["action"] for e in history]


def test_query_count_does_not_grow_with_steps(city: City) -> None:
    small = draft(city, title="小")
    approve_all(document_submit(document=small, actor=city.drafter))

    big = draft(city, title="大")
    route = document_submit(document=big, actor=city.drafter)
    kacho = city.posts["kacho"]
    consult = StageSpec(
        Stage.Kind.CONSULTATION,
        [
            StepSpec(post=kacho, department=city.zaisei_ka),
            StepSpec(post=kacho, department=city.kikaku_ka),
            StepSpec(person=city.kikaku_bucho),
        ],
    )
    route_add_stage(route=route, actor=city.kakaricho, spec=consult)
    for i in range(2):
        attachment_add(
            document=big,
            actor=city.drafter,
            upload=SimpleUploadedFile(f"資料{i}.txt", f"資料{i}".encode(), "text/plain"),
        )
    approve_all(route)
    big_rows = document_record_payload(big).approvals
    assert len(big_rows) == len(document_record_payload(small).approvals) + 3
    assert ("合議", "企画部長", "企画部 七郎") in [(r.stage, r.post, r.name) for r in big_rows]

    with CaptureQueriesContext(connection) as few:
        document_record_payload(small)
    with CaptureQueriesContext(connection) as many:
        document_record_payload(big)
    assert len(many) == len(few) <= 7


def test_the_payload_renders(decided: tuple[Document, bytes]) -> None:
    document, _ = decided
    result = render_record(document_record_payload(document))
    reader = PdfReader(io.BytesIO(result.pdf))
    assert set(reader.attachments) == {HISTORY_NAME}  # 見積書.pdf is merged as pages
    history = json.loads(reader.attachments[HISTORY_NAME][0])
    assert "workflow.decide" in [e["action"] for e in history]
    assert "8総第1号" in reader.pages[0].extract_text()
