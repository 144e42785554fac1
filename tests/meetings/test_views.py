"""The meeting pages: every page and action for each role, forms with bad input, upload
refusals through the page, the download rule, minutes filed as a record, the purge
command, and the cost of the list page.

Roles: the organiser (総務課長), the chair (課長補佐), a presenter (係長, the agenda item's
説明者), a member (主事), an outsider (another section) and someone signed out. A
non-participant gets 404 for the meeting and everything under it; a member gets 403 on
the organiser's side; signed out is a redirect to the login page.
"""

from __future__ import annotations

import datetime as dt
import io

import pytest
import time_machine
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from audit.services import audit_verify
from meetings import services
from meetings.models import (
    AgendaItem,
    Material,
    MaterialVersion,
    Meeting,
    Minutes,
    Participant,
    ViewerPage,
)
from meetings.records import minutes_record_payload, minutes_visible_to
from meetings.tasks import render_version
from records.models import Record
from tests.meetings.conftest import drain, make_pdf, upload
from tests.meetings.test_materials import encrypted_pdf, fetch
from tests.records.factories_files import leaf, schedule

pytestmark = pytest.mark.django_db

PERSONAS = ["organiser", "chair", "presenter", "member", "outsider", "anonymous"]
MANAGERS = {"organiser", "chair", "presenter"}
STATES = ["draft", "published", "in_session", "closed"]


def person(city, persona: str):
    return {
        "organiser": city.kacho,
        "chair": city.hosa,
        "presenter": city.kakaricho,
        "member": city.drafter,
        "outsider": city.outsider,
        "anonymous": None,
    }[persona]


def client_for(user) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def build(
    city,
    state: str = "published",
    *,
    allow_download: bool = True,
    confidential: bool = False,
    material_confidential: bool = False,
) -> tuple[Meeting, Material]:
    start = timezone.now() + dt.timedelta(days=1)
    meeting = services.meeting_create(
        actor=city.kacho,
        title="課内会議",
        starts_at=start,
        ends_at=start + dt.timedelta(hours=1),
        chair=city.hosa,
        allow_download=allow_download,
        confidential=confidential,
    )
    services.participants_add(meeting=meeting, actor=city.kacho, staff=[city.drafter])
    services.agenda_item_add(
        meeting=meeting, actor=city.kacho, title="予算について", presenter=city.kakaricho
    )
    material = services.material_add(
        meeting=meeting,
        actor=city.kacho,
        title="予算資料",
        upload=upload(make_pdf(2)),
        confidential=material_confidential,
    )
    if state != "draft":
        services.meeting_publish(meeting=meeting, actor=city.kacho)
        render_version.call(material.current_version_id)
    if state in ("in_session", "closed"):
        services.meeting_start(meeting=meeting, actor=city.kacho)
    if state == "closed":
        services.meeting_close(meeting=meeting, actor=city.kacho)
    meeting.refresh_from_db()
    material.refresh_from_db()
    return meeting, material


def get(client: Client, url: str) -> int:
    response = client.get(url)
    status = response.status_code
    drain(response)
    if status == 302:
        assert response["Location"], url
    return status


# --- who sees what ---------------------------------------------------------------------------

MANAGE_PAGES = {"edit", "participants", "material_add", "material_replace", "progress", "minutes"}


def pages(meeting: Meeting, material: Material) -> dict[str, str]:
    pk = meeting.pk
    return {
        "list": reverse("meetings:list"),
        "new": reverse("meetings:new"),
        "detail": reverse("meetings:meeting", args=[pk]),
        "edit": reverse("meetings:edit", args=[pk]),
        "participants": reverse("meetings:participants", args=[pk]),
        "material_add": reverse("meetings:material_add", args=[pk]),
        "material_replace": reverse("meetings:material_replace", args=[pk, material.pk]),
        "progress": reverse("meetings:materials_progress", args=[pk]),
        "original": reverse("meetings:material_original", args=[pk, material.pk]),
        "minutes": reverse("meetings:minutes", args=[pk]),
        "minutes_pdf": reverse("meetings:minutes_pdf", args=[pk]),
    }


def expected(persona: str, state: str, page: str) -> int:
    if persona == "anonymous":
        return 302
    if page in ("list", "new"):
        return 200
    sees = persona in MANAGERS or (persona == "member" and state != "draft")
    if not sees:
        return 404
    if page in MANAGE_PAGES and persona not in MANAGERS:
        return 403
    if page in ("edit", "material_add", "material_replace") and state == "closed":
        return 302  # back to the meeting with a message
    if page == "minutes":
        return 200 if state in ("in_session", "closed") else 302
    if page == "original":
        return 404 if state == "draft" else 200
    if page == "minutes_pdf":
        return 404  # no minutes yet
    return 200


@pytest.mark.parametrize("state", STATES)
def test_every_page_for_every_role(city, state: str) -> None:
    meeting, material = build(city, state)
    wrong = []
    for persona in PERSONAS:
        client = client_for(person(city, persona))
        for page, url in pages(meeting, material).items():
            got = get(client, url)
            want = expected(persona, state, page)
            if got != want:
                wrong.append(f"{persona:10} {page:18} got {got}, expected {want}")
    assert not wrong, "\n".join(wrong)


def test_signed_out_goes_to_login(city, client) -> None:
    meeting, material = build(city)
    for url in pages(meeting, material).values():
        response = client.get(url)
        assert response.status_code == 302 and "/login/" in response["Location"], url


def actions(meeting: Meeting, material: Material, city) -> dict[str, tuple[str, dict]]:
    pk = meeting.pk
    return {
        "publish": (reverse("meetings:publish", args=[pk]), {}),
        "start": (reverse("meetings:start", args=[pk]), {}),
        "close": (reverse("meetings:close", args=[pk]), {}),
        "agenda_add": (reverse("meetings:agenda_add", args=[pk]), {"title": "追加の議題"}),
        "participants": (
            reverse("meetings:participants", args=[pk]),
            {"people": [city.outsider.pk], "role": "member"},
        ),
        "participant_remove": (
            reverse("meetings:participant_remove", args=[pk, city.drafter.pk]),
            {},
        ),
        "revoke": (reverse("meetings:material_revoke", args=[pk, material.pk]), {}),
        "minutes": (reverse("meetings:minutes", args=[pk]), {"text": "議事"}),
        "minutes_file": (reverse("meetings:minutes_file", args=[pk]), {}),
        "edit": (
            reverse("meetings:edit", args=[pk]),
            {
                "title": "乗っ取り",
                "kind": "kanai",
                "day": "2030-01-01",
                "start": "10:00",
                "end": "11:00",
            },
        ),
    }


@pytest.mark.parametrize("persona", ["member", "outsider", "anonymous"])
@pytest.mark.parametrize("state", ["draft", "published"])
def test_actions_refused_to_members_and_outsiders(city, persona: str, state: str) -> None:
    meeting, material = build(city, state)
    client = client_for(person(city, persona))
    sees = persona == "member" and state != "draft"
    for name, (url, data) in actions(meeting, material, city).items():
        response = client.post(url, data)
        if persona == "anonymous":
            assert response.status_code == 302 and "/login/" in response["Location"], name
        else:
            assert response.status_code == (403 if sees else 404), name
    meeting.refresh_from_db()
    material.refresh_from_db()
    assert meeting.status == state and meeting.title == "課内会議"
    assert not material.is_revoked
    assert Participant.objects.filter(meeting=meeting).count() == 4
    assert AgendaItem.objects.filter(meeting=meeting).count() == 1
    assert not Minutes.objects.exists()


@pytest.mark.parametrize("persona", ["organiser", "chair", "presenter"])
def test_the_organiser_side_runs_the_meeting(city, persona: str) -> None:
    meeting, _material = build(city, "draft")
    client = client_for(person(city, persona))
    detail = reverse("meetings:meeting", args=[meeting.pk])
    for step, status in (("publish", "published"), ("start", "in_session"), ("close", "closed")):
        response = client.post(reverse(f"meetings:{step}", args=[meeting.pk]), follow=True)
        assert response.redirect_chain[-1][0] == detail
        meeting.refresh_from_db()
        assert meeting.status == status
    # A second close is refused with the service's message, never a 500.
    response = client.post(reverse("meetings:close", args=[meeting.pk]), follow=True)
    assert "公開済みか開催中の会議だけ終了できます" in response.content.decode()


def test_list_shows_mine_only_and_drafts_to_the_organiser_side(city) -> None:
    meeting, _ = build(city, "draft")
    other, _ = build(city, "published")
    Meeting.objects.filter(pk=other.pk).update(
        title="先週の会議",
        starts_at=timezone.now() - dt.timedelta(days=7),
        ends_at=timezone.now() - dt.timedelta(days=7, hours=-1),
    )
    body = client_for(city.kacho).get(reverse("meetings:list")).content.decode()
    assert "課内会議" in body and "先週の会議" in body
    body = client_for(city.drafter).get(reverse("meetings:list")).content.decode()
    assert "先週の会議" in body and meeting.get_absolute_url() not in body
    body = client_for(city.outsider).get(reverse("meetings:list")).content.decode()
    assert "予定されている会議はありません" in body and "先週の会議" not in body


# --- forms -----------------------------------------------------------------------------------


def meeting_data(**changes) -> dict:
    data = {
        "title": "課内会議（定例）",
        "kind": "kanai",
        "day": "2030-06-03",
        "start": "10:00",
        "end": "11:30",
        "place": "第1会議室",
        "chair": "",
        "classification": "",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def test_create_a_meeting(city) -> None:
    client = client_for(city.kacho)
    response = client.post(reverse("meetings:new"), meeting_data(chair=city.hosa.pk))
    meeting = Meeting.objects.get()
    assert response.status_code == 302 and response["Location"] == meeting.get_absolute_url()
    local = timezone.localtime(meeting.starts_at)
    assert (local.date(), local.hour, local.minute) == (dt.date(2030, 6, 3), 10, 0)
    assert meeting.organiser == city.kacho and meeting.chair == city.hosa
    assert meeting.department == city.soumu_ka and meeting.status == "draft"
    assert services.can_present(city.hosa, meeting)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"title": "  "}, "この項目は必須です"),
        ({"title": None}, "この項目は必須です"),
        ({"day": "2030-02-30"}, "日付を正しく入力してください"),
        ({"end": "09:00"}, "終了予定時刻は開始時刻より後にしてください"),
        ({"confidential": "on", "allow_download": "on"}, "ダウンロードを許可できません"),
        ({"kind": "party"}, "正しく選択してください"),
    ],
    ids=["blank-title", "no-title", "bad-date", "end-before-start", "secret-download", "kind"],
)
def test_meeting_form_refuses_bad_input_in_japanese(city, changes: dict, message: str) -> None:
    response = client_for(city.kacho).post(reverse("meetings:new"), meeting_data(**changes))
    assert response.status_code == 200
    body = response.content.decode()
    assert "入力内容を確認してください" in body and message in body
    assert not Meeting.objects.exists()


def test_staff_without_a_department_cannot_create(city) -> None:
    from org.models import Staff

    nobody = Staff.objects.create_user(username="nobody", password="x")
    response = client_for(nobody).post(reverse("meetings:new"), meeting_data())
    assert response.status_code == 200
    assert "所属のない職員は会議を作成できません" in response.content.decode()


def test_edit_a_meeting(city) -> None:
    meeting, _ = build(city, "draft")
    client = client_for(city.kacho)
    url = reverse("meetings:edit", args=[meeting.pk])
    page = client.get(url).content.decode()
    assert 'value="課内会議"' in page
    initial = client.get(url).context["form"].initial
    data = meeting_data(
        title="課内会議（変更）",
        day=initial["day"].isoformat(),
        start=initial["start"].strftime("%H:%M"),
        end=initial["end"].strftime("%H:%M"),
        chair=city.drafter.pk,  # disabled: ignored
    )
    response = client.post(url, data)
    assert response.status_code == 302
    meeting.refresh_from_db()
    assert meeting.title == "課内会議（変更）" and meeting.place == "第1会議室"
    assert meeting.chair == city.hosa
    response = client.post(url, data, follow=True)
    assert "変更はありません" in response.content.decode()


def test_participants_added_by_person_department_and_group_and_removed(city) -> None:
    meeting, _ = build(city, "published")
    client = client_for(city.kacho)
    url = reverse("meetings:participants", args=[meeting.pk])
    response = client.post(url, {"role": "member"})
    assert "職員・所属・グループのいずれかを選んでください" in response.content.decode()
    response = client.post(url, {"departments": [city.zaisei_ka.pk], "role": "observer"})
    assert response.status_code == 302
    assert Participant.objects.get(meeting=meeting, staff=city.zaisei_kacho).role == "observer"
    group = Group.objects.create(name="予算委員")
    city.kikaku_kacho.groups.add(group)
    client.post(url, {"groups": [group.pk], "people": [city.outsider.pk], "role": "presenter"})
    assert services.can_present(city.kikaku_kacho, meeting)
    assert services.can_attend(city.outsider, meeting)
    body = client.get(url).content.decode()
    assert "グループ: 予算委員" in body and "所属: 財政課" in body
    response = client.post(
        reverse("meetings:participant_remove", args=[meeting.pk, city.outsider.pk]),
        follow=True,
    )
    assert "参加者から外しました" in response.content.decode()
    assert not services.can_attend(city.outsider, meeting)
    assert get(client_for(city.outsider), meeting.get_absolute_url()) == 404
    response = client.post(
        reverse("meetings:participant_remove", args=[meeting.pk, city.kacho.pk]), follow=True
    )
    assert "主催者は外せません" in response.content.decode()


def test_agenda_items(city) -> None:
    meeting, _ = build(city, "draft")
    client = client_for(city.kacho)
    url = reverse("meetings:agenda_add", args=[meeting.pk])
    response = client.post(url, {"title": " "}, follow=True)
    assert "議題を入力してください" in response.content.decode() or "必須" in (
        response.content.decode()
    )
    client.post(url, {"title": "人事異動について", "presenter": city.zaisei_kacho.pk})
    assert list(meeting.agenda.values_list("position", "title")) == [
        (1, "予算について"),
        (2, "人事異動について"),
    ]
    assert services.can_present(city.zaisei_kacho, meeting)
    assert "人事異動について" in client.get(meeting.get_absolute_url()).content.decode()


# --- materials --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "name", "message"),
    [
        (make_pdf(2)[:400] + b"garbage" * 50, "broken.pdf", "PDFとして読めません"),
        (encrypted_pdf(), "locked.pdf", "暗号化"),
        (b"", "empty.pdf", "空のファイル"),
        (b"PK\x03\x04 this is a zip, not a pdf" * 10, "renamed.pdf", "PDF、PNG、JPEG 以外"),
        (make_pdf(4), "long.pdf", "ページ数が多すぎます（4ページ、上限 3ページ）"),
    ],
    ids=["corrupt", "encrypted", "zero-bytes", "not-a-pdf", "too-many-pages"],
)
def test_upload_refusals_through_the_page(settings, city, media, data, name, message) -> None:
    settings.MEETINGS_MAX_PAGES = 3
    meeting, _ = build(city, "published")
    before = set(media.rglob("*"))
    response = client_for(city.kacho).post(
        reverse("meetings:material_add", args=[meeting.pk]),
        {"title": "新しい資料", "file": upload(data, name)},
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert message in body and "何も保存されていません" in body
    assert Material.objects.filter(meeting=meeting).count() == 1
    assert MaterialVersion.objects.count() == 1
    assert set(media.rglob("*")) == before


def test_upload_replace_and_revoke_through_the_pages(city) -> None:
    meeting, material = build(city, "published")
    client = client_for(city.kakaricho)
    response = client.post(
        reverse("meetings:material_add", args=[meeting.pk]),
        {
            "title": "追加資料",
            "file": upload(make_pdf(1), "tsuika.pdf"),
            "agenda_item": meeting.agenda.get().pk,
        },
    )
    assert response.status_code == 302 and response["Location"].endswith("#materials")
    added = Material.objects.get(title="追加資料")
    assert added.agenda_item.title == "予算について" and not added.confidential
    response = client.post(
        reverse("meetings:material_replace", args=[meeting.pk, material.pk]),
        {"file": upload(make_pdf(2, changed={2}), "v2.pdf")},
        follow=True,
    )
    assert "第2版を登録しました" in response.content.decode()
    v2 = material.versions.get(number=2)
    material.refresh_from_db()
    assert material.current_version.number == 1  # until version 2 is rendered
    render_version.call(v2.pk)
    material.refresh_from_db()
    assert material.current_version == v2
    response = client.post(
        reverse("meetings:material_replace", args=[meeting.pk, material.pk]),
        {"file": upload(b"not a pdf at all", "v3.pdf")},
    )
    assert "PDF、PNG、JPEG 以外" in response.content.decode()
    assert material.versions.count() == 2
    response = client.post(
        reverse("meetings:material_revoke", args=[meeting.pk, material.pk]), follow=True
    )
    assert "回収しました" in response.content.decode()
    material.refresh_from_db()
    assert material.is_revoked
    member_page = client_for(city.drafter).get(meeting.get_absolute_url()).content.decode()
    assert "予算資料" not in member_page and "追加資料" in member_page
    response = client.post(
        reverse("meetings:material_revoke", args=[meeting.pk, material.pk]), follow=True
    )
    assert "回収済みです" in response.content.decode()


def test_confidential_meeting_makes_every_material_confidential(city) -> None:
    meeting, _ = build(city, "draft", confidential=True, allow_download=True)
    assert meeting.allow_download is False
    client_for(city.kacho).post(
        reverse("meetings:material_add", args=[meeting.pk]),
        {"title": "秘資料", "file": upload(make_pdf(1)), "confidential": ""},
    )
    assert Material.objects.get(title="秘資料").confidential


def test_render_progress_is_polled_by_the_organiser_while_rendering(city) -> None:
    meeting, material = build(city, "draft")
    services.meeting_publish(meeting=meeting, actor=city.kacho)
    progress = reverse("meetings:materials_progress", args=[meeting.pk])
    organiser = client_for(city.kacho)
    page = organiser.get(meeting.get_absolute_url()).content.decode()
    assert f'hx-get="{progress}"' in page and 'hx-trigger="every 2s"' in page
    assert "変換待ち" in page
    member_page = client_for(city.drafter).get(meeting.get_absolute_url()).content.decode()
    assert "hx-get" not in member_page and "変換待ち" not in member_page
    assert get(client_for(city.drafter), progress) == 403
    MaterialVersion.objects.filter(pk=material.current_version_id).update(
        render_status="rendering", render_done=1, render_total=2
    )
    fragment = organiser.get(progress).content.decode()
    assert 'value="1"' in fragment and "1 / 2" in fragment and "every 2s" in fragment
    render_version.call(material.current_version_id)
    fragment = organiser.get(progress).content.decode()
    assert "変換済" in fragment and "hx-trigger" not in fragment


# --- the download rule -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "revoke", "status"),
    [
        ({"allow_download": True}, False, 200),
        ({"allow_download": False}, False, 404),
        ({"allow_download": True, "material_confidential": True}, False, 404),
        ({"allow_download": True, "confidential": True}, False, 404),
        ({"allow_download": True}, True, 404),
    ],
    ids=["allowed", "not-allowed", "confidential-material", "confidential-meeting", "revoked"],
)
def test_original_download_rule(city, options: dict, revoke: bool, status: int) -> None:
    meeting, material = build(city, "published", **options)
    if revoke:
        services.material_revoke(material=material, actor=city.kacho)
    url = reverse("meetings:material_original", args=[meeting.pk, material.pk])
    for who in (city.drafter, city.kacho):
        response = client_for(who).get(url)
        assert response.status_code == status
        if status == 200:
            body = drain(response)
            assert body.startswith(b"%PDF-")
            assert response["Content-Disposition"].startswith("attachment")
            assert response["Cache-Control"] == "private, no-store"
        else:
            drain(response)
    page = client_for(city.drafter).get(meeting.get_absolute_url()).content.decode()
    assert (url in page) == (status == 200)
    assert get(client_for(city.outsider), url) == 404


# --- minutes and the record ------------------------------------------------------------------


def test_minutes_text_pdf_and_refusals(city) -> None:
    meeting, _ = build(city, "in_session")
    client = client_for(city.kacho)
    url = reverse("meetings:minutes", args=[meeting.pk])
    response = client.post(url, {"text": "  "})
    assert "議事録の本文かPDFを指定してください" in response.content.decode()
    png = io.BytesIO()
    Image.new("RGB", (20, 20), "white").save(png, "PNG")
    response = client.post(url, {"text": "", "file": upload(png.getvalue(), "minutes.png")})
    assert "議事録のファイルはPDFにしてください" in response.content.decode()
    assert not Minutes.objects.exists()
    response = client.post(url, {"text": "1. 予算について 原案どおり了承。"})
    assert response.status_code == 302
    client.post(url, {"text": "1. 予算について 原案どおり了承。", "file": upload(make_pdf(1))})
    minutes = Minutes.objects.get()
    assert minutes.text.startswith("1. 予算") and minutes.file and minutes.sha256
    for who in (city.drafter, city.kacho):
        response = client_for(who).get(reverse("meetings:minutes_pdf", args=[meeting.pk]))
        assert response.status_code == 200
        assert drain(response).startswith(b"%PDF-")
    page = client_for(city.drafter).get(meeting.get_absolute_url()).content.decode()
    assert "原案どおり了承" in page


def test_minutes_filed_as_a_record(city) -> None:
    schedule(city.records_officer)
    classification = leaf("5")
    meeting, _ = build(city, "in_session")
    services.meeting_update(meeting=meeting, actor=city.kacho, classification=classification)
    client = client_for(city.kacho)
    services.minutes_save(meeting=meeting, actor=city.kacho, text="原案どおり了承。")
    file_url = reverse("meetings:minutes_file", args=[meeting.pk])
    response = client.post(file_url, follow=True)
    assert "会議の終了後です" in response.content.decode()
    services.meeting_close(meeting=meeting, actor=city.kacho)
    assert "議事録を公文書として登録する" in client.get(meeting.get_absolute_url()).content.decode()
    assert get(client_for(city.drafter), file_url) in (403, 405)
    response = client.post(file_url, follow=True)
    assert "公文書として登録しました" in response.content.decode()
    minutes = Minutes.objects.get()
    record = Record.objects.get()
    assert minutes.record == record and record.source == minutes
    assert record.title == "課内会議 議事録" and record.department == city.soumu_ka
    assert record.file.classification == classification
    assert record.file.department == city.soumu_ka
    response = client.post(file_url, follow=True)
    assert "登録済み" in response.content.decode() and Record.objects.count() == 1
    response = client.post(reverse("meetings:minutes", args=[meeting.pk]), {"text": "改ざん"})
    minutes.refresh_from_db()
    assert minutes.text == "原案どおり了承。"
    assert list(audit_verify()) == []


def test_minutes_need_a_classification_to_be_filed(city) -> None:
    meeting, _ = build(city, "in_session")
    services.minutes_save(meeting=meeting, actor=city.kacho, text="了承。")
    services.meeting_close(meeting=meeting, actor=city.kacho)
    client = client_for(city.kacho)
    assert "文書分類（議事録）が設定されていない" in (
        client.get(meeting.get_absolute_url()).content.decode()
    )
    response = client.post(reverse("meetings:minutes_file", args=[meeting.pk]), follow=True)
    assert "文書分類（議事録）」を設定してください" in response.content.decode()
    assert not Record.objects.exists()


def test_minutes_record_payload_and_who_reads_it(city) -> None:
    schedule(city.records_officer)
    meeting, _ = build(city, "in_session")
    services.meeting_update(meeting=meeting, actor=city.kacho, classification=leaf("5"))
    minutes = services.minutes_save(
        meeting=meeting, actor=city.kacho, text="原案どおり了承。", upload=upload(make_pdf(1))
    )
    services.meeting_close(meeting=meeting, actor=city.kacho)
    payload = minutes_record_payload(minutes)
    assert payload.kind_label == "議事録" and payload.title == "課内会議 議事録"
    assert "議長: 補佐 三郎" in payload.body and "原案どおり了承。" in payload.body
    assert "予算資料 第1版 2ページ" in payload.body
    assert payload.retention and payload.classification
    [pdf] = payload.attachments
    assert pdf.read().startswith(b"%PDF-") and pdf.sha256 == minutes.sha256
    assert b"meetings.meeting.closed" in payload.history_json
    assert minutes_visible_to(minutes, city.drafter)
    assert not minutes_visible_to(minutes, city.outsider)
    from records.rendering import render_record

    assert render_record(payload).pdf.startswith(b"%PDF-")


def test_the_minutes_record_is_read_and_signed_through_the_source(city) -> None:
    from records.payload import RecordSource
    from records.selectors import record_content_visible_to

    schedule(city.records_officer)
    meeting, _ = build(city, "in_session")
    services.meeting_update(meeting=meeting, actor=city.kacho, classification=leaf("5"))
    services.minutes_save(meeting=meeting, actor=city.kacho, text="了承。")
    services.meeting_close(meeting=meeting, actor=city.kacho)
    client_for(city.kacho).post(reverse("meetings:minutes_file", args=[meeting.pk]))
    record = Record.objects.get()
    assert record_content_visible_to(record=record, staff=city.drafter)
    assert not record_content_visible_to(record=record, staff=city.outsider)
    assert isinstance(record.source, RecordSource)
    assert get(client_for(city.drafter), reverse("records:record", args=[record.pk])) == 200


# --- retention ------------------------------------------------------------------------------


def test_purge_command_after_access_ends(city, settings, media, django_capture_on_commit_callbacks):
    settings.MEETINGS_CONFIDENTIAL_RETENTION_DAYS = 7
    meeting, material = build(city, "closed", confidential=True)
    meeting.refresh_from_db()
    version = material.current_version
    url = reverse("meetings:page_image", args=[meeting.pk, version.pk, 1])
    member = client_for(city.drafter)
    assert fetch(member, url)[0] == 200
    images = set(ViewerPage.objects.values_list("image", flat=True))
    assert images and all((media / name).exists() for name in images)
    out = io.StringIO()
    call_command("purge_meeting_renders", stdout=out)
    assert "0 件" in out.getvalue()  # still within the access period
    assert set(ViewerPage.objects.values_list("image", flat=True)) == images
    with time_machine.travel(meeting.access_until + dt.timedelta(minutes=1), tick=False):
        member = client_for(city.drafter)  # a new session: the old one has expired
        assert fetch(member, url)[0] == 404  # access ended, even before the purge
        with django_capture_on_commit_callbacks(execute=True):
            call_command("purge_meeting_renders", stdout=out)
        assert not ViewerPage.objects.exists()
        assert not any((media / name).exists() for name in images)
        assert fetch(member, url)[0] == 404
        assert fetch(client_for(city.kacho), url)[0] == 404
        # The organiser keeps the meeting page (minutes, filing); members do not.
        assert get(client_for(city.kacho), meeting.get_absolute_url()) == 200
        assert get(member, meeting.get_absolute_url()) == 404
    assert "削除しました" in out.getvalue()


# --- cost of the list page -------------------------------------------------------------------


def make_meetings(city, n: int) -> None:
    now = timezone.now()
    meetings = Meeting.objects.bulk_create(
        Meeting(
            title=f"会議 {i}",
            starts_at=now + dt.timedelta(days=i - n // 2),
            ends_at=now + dt.timedelta(days=i - n // 2, hours=1),
            department=city.soumu_ka,
            organiser=city.kacho if i % 2 else city.zaisei_kacho,
            status="published" if i % 3 else "closed",
        )
        for i in range(n)
    )
    Participant.objects.bulk_create(
        Participant(meeting=m, staff=city.drafter, role="member") for m in meetings
    )


def test_list_page_query_count_does_not_grow(city, django_assert_max_num_queries) -> None:
    client = client_for(city.drafter)
    make_meetings(city, 6)
    with django_assert_max_num_queries(8) as small:
        response = client.get(reverse("meetings:list"))
    assert response.status_code == 200 and "会議 5" in response.content.decode()
    make_meetings(city, 60)
    with django_assert_max_num_queries(len(small.captured_queries)):
        response = client.get(reverse("meetings:list"))
    assert response.status_code == 200
    assert len(response.context["upcoming"]) > 6


def test_detail_page_query_count_does_not_grow(city, django_assert_max_num_queries) -> None:
    meeting, _ = build(city, "published")
    client = client_for(city.kacho)
    with django_assert_max_num_queries(14) as small:
        client.get(meeting.get_absolute_url())
    for i in range(5):
        services.material_add(
            meeting=meeting, actor=city.kacho, title=f"資料{i}", upload=upload(make_pdf(1))
        )
    services.participants_add(meeting=meeting, actor=city.kacho, departments=[city.soumu_ka])
    with django_assert_max_num_queries(len(small.captured_queries)):
        assert client.get(meeting.get_absolute_url()).status_code == 200


# --- admin ----------------------------------------------------------------------------------


def test_admin_is_read_only(city) -> None:
    from org.models import Staff

    meeting, material = build(city, "published")
    admin = client_for(Staff.objects.get(username="city-admin"))
    for name in ("meeting", "material", "materialversion", "minutes"):
        assert admin.get(reverse(f"admin:meetings_{name}_changelist")).status_code == 200
        assert admin.get(reverse(f"admin:meetings_{name}_add")).status_code == 403
    page = admin.get(reverse("admin:meetings_meeting_change", args=[meeting.pk]))
    assert page.status_code == 200 and "予算資料" in page.content.decode()
    version = material.current_version
    page = admin.get(reverse("admin:meetings_materialversion_change", args=[version.pk]))
    assert page.status_code == 200 and 'type="file"' not in page.content.decode()
    MaterialVersion.objects.filter(pk=version.pk).update(render_status="failed")
    response = admin.post(
        reverse("admin:meetings_materialversion_changelist"),
        {"action": "render_again", "_selected_action": [version.pk]},
        follow=True,
    )
    assert "1 件の版のページ画像を作り直します" in response.content.decode()
