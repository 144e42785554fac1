"""The 起案文書 pages through the test client: drafting to decision, the other actions,
errors shown in Japanese, and permissions (an outsider gets 404 everywhere)."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import URLPattern, get_resolver, reverse

from approvals.models import Attachment, Document
from approvals.services import document_create, document_submit
from org.models import Staff
from tests.city import City, build_city
from workflow.models import Action, PostReview, Route, Stage, Step
from workflow.services import step_approve

TOKYO = ZoneInfo("Asia/Tokyo")
pytestmark = pytest.mark.django_db

PDF_BYTES = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.fixture
def city() -> City:
    with time_machine.travel(dt.datetime(2026, 11, 26, 9, 0, tzinfo=TOKYO), tick=False):
        return build_city()


@pytest.fixture(autouse=True)
def _november_2026():
    with time_machine.travel(dt.datetime(2026, 11, 26, 10, 0, tzinfo=TOKYO), tick=True):
        yield


@pytest.fixture(autouse=True)
def _media_in_tmp(settings, tmp_path) -> None:
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "media")},
        },
    }


def detail_url(document: Document) -> str:
    return reverse("approvals:document", args=[document.pk])


def texts(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def pending_steps(document: Document) -> list[Step]:
    return list(
        Step.objects.filter(route__subject_id=document.pk, status=Step.Status.PENDING).order_by(
            "stage__position", "position"
        )
    )


def draft(city: City, **kw) -> Document:
    return document_create(
        actor=kw.pop("actor", city.drafter),
        title=kw.pop("title", "コピー用紙の購入について"),
        category=kw.pop("category", city.buppin),
        amount=kw.pop("amount", 100_000),
        **kw,
    )


def submitted(city: City, **kw) -> Document:
    document = draft(city, **kw)
    document_submit(document=document, actor=document.drafter)
    document.refresh_from_db()
    return document


# --- the whole way through the pages ---------------------------------------------------


def test_create_attach_submit_and_approve_to_decision_through_pages(client, city: City) -> None:
    client.force_login(city.drafter)
    assert client.get(reverse("approvals:document_new")).status_code == 200
    response = client.post(
        reverse("approvals:document_new"),
        {
            "title": "庁用封筒の購入について",
            "body": "庁用封筒を購入します。\n見積書を添付します。",
            "category": city.buppin.pk,
            "amount": "150000",
            "confidentiality": Document.Confidentiality.NORMAL,
            "retention": Document.Retention.Y5,
        },
    )
    document = Document.objects.get(title="庁用封筒の購入について")
    assert response.status_code == 302 and response["Location"] == detail_url(document)
    assert document.status == Document.Status.DRAFT and document.drafter == city.drafter

    # Attach a PDF and a spreadsheet: listed with size and sha256; the PDF previews inline.
    pdf = SimpleUploadedFile("見積書.pdf", PDF_BYTES, content_type="application/pdf")
    client.post(reverse("approvals:attachment_upload", args=[document.pk]), {"file": pdf})
    csv = SimpleUploadedFile("明細.csv", b"a,b\n1,2\n", content_type="text/csv")
    client.post(reverse("approvals:attachment_upload", args=[document.pk]), {"file": csv})
    pdf_att, csv_att = Attachment.objects.filter(document=document).order_by("pk")
    body = client.get(detail_url(document)).content.decode()
    assert pdf_att.sha256 in body and csv_att.sha256 in body
    assert "見積書.pdf" in body and "明細.csv" in body
    preview = client.get(reverse("approvals:attachment_preview", args=[document.pk, pdf_att.pk]))
    assert preview.status_code == 200
    assert preview["Content-Disposition"].startswith("inline")
    assert preview["Content-Type"] == "application/pdf"
    assert preview["X-Content-Type-Options"] == "nosniff"
    # Consuming the stream closes the file (the test client wraps it).
    assert b"".join(preview.streaming_content) == PDF_BYTES
    download = client.get(reverse("approvals:attachment_download", args=[document.pk, csv_att.pk]))
    assert download["Content-Disposition"].startswith("attachment")
    assert download["X-Content-Type-Options"] == "nosniff"
    assert b"".join(download.streaming_content) == b"a,b\n1,2\n"
    # A non-PDF has no inline preview.
    no_preview = client.get(reverse("approvals:attachment_preview", args=[document.pk, csv_att.pk]))
    assert no_preview.status_code == 404

    # The proposed route is shown before submitting.
    page = client.get(reverse("approvals:document_submit", args=[document.pk]))
    route_text = page.content.decode()
    for expected in ("回議", "係長", "課長補佐", "決裁", "総務課 課長"):
        assert expected in route_text
    response = client.post(
        reverse("approvals:document_submit", args=[document.pk]),
        {"client_request_id": "submit-1"},
    )
    assert response.status_code == 302
    document.refresh_from_db()
    assert document.status == Document.Status.IN_REVIEW

    # Each approver in turn, through the detail page.
    for approver, verb in ((city.kakaricho, "承認"), (city.hosa, "承認"), (city.kacho, "決裁")):
        client.force_login(approver)
        page = client.get(detail_url(document)).content.decode()
        assert f">{verb}</button>" in page
        (step,) = pending_steps(document)
        assert step.assignee == approver
        response = client.post(
            reverse("approvals:step_approve", args=[document.pk, step.pk]),
            {"comment": "了", "client_request_id": f"ok-{step.pk}"},
        )
        assert response.status_code == 302
        assert f"{verb}しました。" in texts(response)

    document.refresh_from_db()
    assert document.status == Document.Status.DECIDED
    assert document.number == "8総第1号"
    client.force_login(city.drafter)
    page = client.get(detail_url(document)).content.decode()
    assert "決裁済" in page and "8総第1号" in page and "令和8年11月26日" in page
    assert "課長 二郎" in page  # the decider in the timeline and the facts

    # After the decision: 施行 and 完結 by the drafter, and a late attachment.
    late = SimpleUploadedFile("契約書.pdf", PDF_BYTES + b"%late", content_type="application/pdf")
    client.post(reverse("approvals:attachment_upload", args=[document.pk]), {"file": late})
    assert Attachment.objects.get(original_name="契約書.pdf").after_decision
    client.post(reverse("approvals:document_issue", args=[document.pk]), {"on": "2026-11-27"})
    client.post(reverse("approvals:document_complete", args=[document.pk]), {"on": "2026-11-30"})
    document.refresh_from_db()
    assert document.status == Document.Status.COMPLETED
    assert document.issued_on == dt.date(2026, 11, 27)
    assert document.completed_on == dt.date(2026, 11, 30)


def test_double_submit_with_the_same_request_id_acts_once(client, city: City) -> None:
    document = submitted(city)
    (step,) = pending_steps(document)
    client.force_login(city.kakaricho)
    url = reverse("approvals:step_approve", args=[document.pk, step.pk])
    first = client.post(url, {"client_request_id": "tap-1"})
    second = client.post(url, {"client_request_id": "tap-1"})
    assert first.status_code == second.status_code == 302
    assert Action.objects.filter(actor=city.kakaricho, kind=Action.Kind.APPROVE).count() == 1
    assert [m for m in texts(second) if "既に" in m] == []


# --- return, reject, withdraw ----------------------------------------------------------


def test_return_needs_a_reason_then_goes_back_to_the_drafter(client, city: City) -> None:
    document = submitted(city)
    (step,) = pending_steps(document)
    client.force_login(city.kakaricho)
    url = reverse("approvals:step_return", args=[document.pk, step.pk])
    response = client.post(url, {"comment": "  "})
    assert response.status_code == 302
    assert any("理由を入力してください" in m for m in texts(response))
    document.refresh_from_db()
    assert document.status == Document.Status.IN_REVIEW

    client.post(url, {"comment": "金額の根拠を添付してください。"})
    document.refresh_from_db()
    assert document.status == Document.Status.RETURNED
    # The drafter fixes and resubmits: a second round, the first kept in the timeline.
    client.force_login(city.drafter)
    page = client.get(detail_url(document)).content.decode()
    assert "金額の根拠を添付してください。" in page and "差戻し" in page
    response = client.post(
        reverse("approvals:document_edit", args=[document.pk]),
        {
            "title": document.title,
            "body": "根拠を追記しました。",
            "category": city.buppin.pk,
            "amount": "100000",
            "confidentiality": "normal",
            "retention": "5",
        },
    )
    assert response.status_code == 302
    document.refresh_from_db()
    assert document.body == "根拠を追記しました。"
    client.post(reverse("approvals:document_submit", args=[document.pk]), {})
    document.refresh_from_db()
    assert document.status == Document.Status.IN_REVIEW
    page = client.get(detail_url(document)).content.decode()
    assert "第1回" in page and "第2回" in page


def test_return_to_an_earlier_step(client, city: City) -> None:
    document = submitted(city)
    (first,) = pending_steps(document)
    step_approve(step=first, actor=city.kakaricho)
    (second,) = pending_steps(document)
    client.force_login(city.hosa)
    page = client.get(detail_url(document)).content.decode()
    assert f'value="{first.pk}"' in page  # offered as a return target
    client.post(
        reverse("approvals:step_return", args=[document.pk, second.pk]),
        {"comment": "係長の確認をもう一度", "to_step": str(first.pk)},
    )
    (again,) = pending_steps(document)
    assert again.pk == first.pk and again.assignee == city.kakaricho
    document.refresh_from_db()
    assert document.status == Document.Status.IN_REVIEW


def test_reject_needs_a_reason_and_ends_the_document(client, city: City) -> None:
    document = submitted(city)
    (step,) = pending_steps(document)
    client.force_login(city.kakaricho)
    url = reverse("approvals:step_reject", args=[document.pk, step.pk])
    response = client.post(url, {"comment": ""})
    assert any("理由" in m for m in texts(response))
    document.refresh_from_db()
    assert document.status == Document.Status.IN_REVIEW
    client.post(url, {"comment": "今年度は予算がありません。"})
    document.refresh_from_db()
    assert document.status == Document.Status.REJECTED
    # Acting again on the finished route is a clear message, not an error page.
    response = client.post(
        reverse("approvals:step_approve", args=[document.pk, step.pk]), {}, follow=True
    )
    assert response.status_code == 200
    assert "既に他の人が処理しました" in response.content.decode()


def test_drafter_withdraws_and_approver_takes_back_an_approval(client, city: City) -> None:
    document = submitted(city)
    (first,) = pending_steps(document)
    client.force_login(city.kakaricho)
    client.post(reverse("approvals:step_approve", args=[document.pk, first.pk]), {})
    page = client.get(detail_url(document)).content.decode()
    assert "承認を引き戻す" in page
    client.post(reverse("approvals:step_withdraw_approval", args=[document.pk, first.pk]), {})
    (again,) = pending_steps(document)
    assert again.pk == first.pk

    client.force_login(city.drafter)
    response = client.post(
        reverse("approvals:document_withdraw", args=[document.pk]), {"comment": "出し直します"}
    )
    assert "取り下げました" in " ".join(texts(response))
    document.refresh_from_db()
    assert document.status == Document.Status.WITHDRAWN
    assert pending_steps(document) == []
    assert client.get(reverse("approvals:document_edit", args=[document.pk])).status_code == 200


def test_approver_adds_a_consultation_after_own_step_and_comments(client, city: City) -> None:
    document = submitted(city)
    (step,) = pending_steps(document)
    client.force_login(city.kakaricho)
    response = client.post(
        reverse("approvals:stage_add", args=[document.pk]),
        {"kind": Stage.Kind.CONSULTATION, "departments": [city.zaisei_ka.pk]},
    )
    assert "経路に段を追加しました。" in texts(response)
    added = Stage.objects.get(route__subject_id=document.pk, added_by=city.kakaricho)
    assert added.position == step.stage.position + 1 and added.kind == "consultation"
    client.post(reverse("approvals:route_comment", args=[document.pk]), {"comment": "財政課へ"})
    assert Action.objects.filter(kind=Action.Kind.COMMENT, comment="財政課へ").exists()
    # Missing choices are explained, not a crash.
    response = client.post(
        reverse("approvals:stage_add", args=[document.pk]), {"kind": Stage.Kind.INFORMATION}
    )
    assert any("職員を選んでください" in m for m in texts(response))


def test_superior_pulls_up_past_an_absent_subordinate(client, city: City) -> None:
    # Round 1 reached 課長, so 課長 may see the document; round 2 waits on an absent 係長.
    document = submitted(city)
    for _ in range(2):
        (step,) = pending_steps(document)
        step_approve(step=step, actor=step.assignee)
    (at_kacho,) = pending_steps(document)
    client.force_login(city.kacho)
    client.post(
        reverse("approvals:step_return", args=[document.pk, at_kacho.pk]), {"comment": "再考"}
    )
    document_submit(document=document, actor=city.drafter)
    city.absent(city.kakaricho)
    (stuck,) = pending_steps(document)
    page = client.get(detail_url(document)).content.decode()
    assert "引上げ" in page
    client.post(reverse("approvals:step_pull_up", args=[document.pk, stuck.pk]), {})
    stuck.refresh_from_db()
    assert stuck.status == Step.Status.SKIPPED and stuck.mode == Step.Mode.PULLED_UP
    assert PostReview.objects.filter(step=stuck, reviewer=city.kakaricho).exists()


# --- validation and errors -------------------------------------------------------------


def test_validation_errors_are_shown_in_japanese(client, city: City) -> None:
    client.force_login(city.drafter)
    response = client.post(
        reverse("approvals:document_new"),
        {"title": "   ", "amount": "-5", "confidentiality": "normal", "retention": "5"},
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert "入力内容を確認してください。" in body
    assert "この項目は必須です。" in body  # 事案の区分
    assert "0 以上でなければなりません" in body  # 金額
    assert not Document.objects.exists()


def test_a_matter_the_table_does_not_cover_is_explained_on_the_submit_page(
    client, city: City
) -> None:
    document = draft(city, category=city.jinkenhi, amount=None)
    Document.objects.filter(pk=document.pk).update(category=city.buppin, amount=None)
    client.force_login(city.drafter)
    page = client.get(reverse("approvals:document_submit", args=[document.pk]))
    assert page.status_code == 200
    # 物品購入 with no amount is 0円: covered. Remove the table instead.
    from approvals.models import AuthorityTable

    AuthorityTable.objects.all().delete()
    page = client.get(reverse("approvals:document_submit", args=[document.pk]))
    assert "事務決裁規程が登録されていません。" in page.content.decode()
    response = client.post(reverse("approvals:document_submit", args=[document.pk]), {})
    assert response.status_code == 200
    document.refresh_from_db()
    assert document.status == Document.Status.DRAFT


def test_edit_is_refused_once_submitted(client, city: City) -> None:
    document = submitted(city)
    client.force_login(city.drafter)
    response = client.get(reverse("approvals:document_edit", args=[document.pk]))
    assert response.status_code == 302
    assert any("編集できません" in m for m in texts(response))


# --- permissions -----------------------------------------------------------------------


def _document_urls(document: Document, step: Step, stage: Stage, attachment: Attachment):
    """Every approvals URL for this document, filled in from its pattern."""
    values = {
        "pk": document.pk,
        "step_pk": step.pk,
        "stage_pk": stage.pk,
        "attachment_pk": attachment.pk,
    }
    urls = []
    for entry in get_resolver().url_patterns:
        if getattr(entry, "namespace", None) != "approvals":
            continue
        for pattern in entry.url_patterns:
            assert isinstance(pattern, URLPattern)
            names = re.findall(r"<(?:\w+:)?(\w+)>", str(pattern.pattern))
            if "pk" not in names:
                continue
            urls.append(reverse(f"approvals:{pattern.name}", kwargs={n: values[n] for n in names}))
    return urls


def test_outsider_gets_404_on_the_detail_page_and_every_action(client, city: City) -> None:
    document = submitted(city)
    attachment = Attachment.objects.create(
        document=document,
        original_name="a.txt",
        size=1,
        sha256="0" * 64,
        uploaded_by=city.drafter,
        uploaded_at=document.created_at,
    )
    (step,) = pending_steps(document)
    urls = _document_urls(document, step, step.stage, attachment)
    assert len(urls) >= 15
    client.force_login(city.outsider)
    for url in urls:
        response = client.get(url)
        assert response.status_code in (404, 405), url
        assert client.post(url, {"comment": "x", "on": "2026-11-26"}).status_code in (
            404,
            405,
        ), url
        if response.status_code == 405:
            assert client.post(url, {"comment": "x"}).status_code == 404, url
    # Nothing happened on the route.
    assert Action.objects.filter(actor=city.outsider).count() == 0
    # Other managers (not on the route) are outsiders too.
    client.force_login(city.kikaku_kacho)
    assert client.get(detail_url(document)).status_code == 404


def test_my_documents_lists_only_mine_and_filters_by_status(client, city: City) -> None:
    mine = submitted(city, title="自分の起案")
    draft(city, title="自分の下書き")
    draft(city, actor=city.outsider, title="他人の起案")
    client.force_login(city.drafter)
    body = client.get(reverse("approvals:document_list")).content.decode()
    assert "自分の起案" in body and "自分の下書き" in body and "他人の起案" not in body
    body = client.get(reverse("approvals:document_list"), {"status": "in_review"}).content.decode()
    assert mine.title in body and "自分の下書き" not in body
    # An unknown status is ignored, not an error.
    assert client.get(reverse("approvals:document_list"), {"status": "zzz"}).status_code == 200


def test_attachments_cannot_be_deleted_or_replaced(client, city: City) -> None:
    document = draft(city)
    client.force_login(city.drafter)
    pdf = SimpleUploadedFile("a.pdf", PDF_BYTES, content_type="application/pdf")
    client.post(reverse("approvals:attachment_upload", args=[document.pk]), {"file": pdf})
    attachment = Attachment.objects.get(document=document)
    names = {
        p.name
        for e in get_resolver().url_patterns
        if getattr(e, "namespace", None) == "approvals"
        for p in e.url_patterns
    }
    # Upload, download and preview: no way to delete or replace an attachment.
    assert {n for n in names if "attachment" in n} == {
        "attachment_upload",
        "attachment_download",
        "attachment_preview",
    }
    assert not [n for n in names if "delete" in n or "replace" in n]
    base = reverse("approvals:attachment_download", args=[document.pk, attachment.pk])
    for path in (base + "delete/", base + "replace/", base + "remove/"):
        assert client.post(path).status_code == 404
    assert client.delete(base).status_code == 405
    assert client.post(base, {"file": pdf}).status_code == 405
    assert Attachment.objects.filter(pk=attachment.pk).exists()


def test_only_people_on_the_route_see_a_confidential_document(client, city: City) -> None:
    document = submitted(city, confidentiality=Document.Confidentiality.CONFIDENTIAL)
    client.force_login(city.kakaricho)
    assert client.get(detail_url(document)).status_code == 200
    for person in (city.outsider, city.zaisei_kacho, city.bucho):
        client.force_login(person)
        assert client.get(detail_url(document)).status_code == 404
    assert Route.objects.get(subject_id=document.pk).confidential
    assert Staff.objects.filter(pk=city.kacho.pk).exists()
