"""The file actions on the file page (完結, edit, 延長) and `manage.py close_files`:
permissions and wiring through the client; the rules themselves are the services'."""

from __future__ import annotations

import datetime as dt
import io
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.messages import get_messages
from django.core.management import CommandError, call_command
from django.test import Client

from audit.models import AuditEvent
from records.files import file_create, record_file_assign
from records.models import Record, RecordFile
from tests.city import build_city

from .factories_files import closed_file, leaf, plain_record, schedule

pytestmark = [
    pytest.mark.django_db(transaction=False),
    pytest.mark.urls("tests.records.files_urlconf"),
]
D = dt.date
JST = ZoneInfo("Asia/Tokyo")


@pytest.fixture
def city(db):
    city = build_city()
    schedule(city.records_officer)
    return city


def login(staff) -> Client:
    client = Client()
    client.force_login(staff)
    return client


def said(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def open_file(city, retention: str = "5", fy: int = 2026) -> RecordFile:
    return file_create(
        department=city.soumu_ka, classification=leaf(retention), fiscal_year=fy, actor=None
    )


# --- 完結 ------------------------------------------------------------------------------


def test_officer_completes_a_file_and_the_page_shows_both_calendars(city) -> None:
    file = open_file(city)
    client = login(city.records_officer)
    page = client.get(f"/records/files/{file.pk}/").content.decode()
    assert f"/records/files/{file.pk}/complete/" in page and "csrfmiddlewaretoken" in page
    response = client.post(f"/records/files/{file.pk}/complete/", {"completed_on": "2027-03-31"})
    assert response.status_code == 302 and response.url == f"/records/files/{file.pk}/"
    assert any("完結しました" in m for m in said(response))
    file.refresh_from_db()
    assert (file.status, file.start_date, file.period_end) == (
        "closed",
        D(2027, 4, 1),
        D(2032, 3, 31),
    )
    assert AuditEvent.objects.filter(action="records.file.completed").count() == 1
    page = client.get(f"/records/files/{file.pk}/").content.decode()
    assert "令和9年4月1日" in page and "2027/04/01" in page  # 起算日
    assert "令和14年3月31日" in page and "2032/03/31" in page  # 満了日
    assert f"/records/files/{file.pk}/complete/" not in page  # closed: no form


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"completed_on": "2027-13-45"}, "完結日を正しく入力"),
        ({}, "完結日を正しく入力"),
        ({"completed_on": "2025-06-01"}, "完結日が簿冊の年度より前です"),
    ],
)
def test_bad_completion_input_is_a_message(city, data, expected) -> None:
    file = open_file(city)
    response = login(city.records_officer).post(f"/records/files/{file.pk}/complete/", data)
    assert response.status_code == 302
    assert any(expected in m for m in said(response))
    file.refresh_from_db()
    assert file.status == "open"


def test_completing_a_closed_file_again_is_refused_with_a_message(city) -> None:
    file = closed_file(city.soumu_ka, "5", D(2026, 6, 1), None)
    response = login(city.records_officer).post(
        f"/records/files/{file.pk}/complete/", {"completed_on": "2027-03-31"}
    )
    assert response.status_code == 302
    assert any("既に完結" in m and "already closed" in m for m in said(response))


def test_file_actions_are_post_only_and_need_csrf(city) -> None:
    file = open_file(city)
    client = login(city.records_officer)
    for action in ("complete", "edit", "extend"):
        assert client.get(f"/records/files/{file.pk}/{action}/").status_code == 405
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(city.records_officer)
    response = strict.post(f"/records/files/{file.pk}/complete/", {"completed_on": "2027-03-31"})
    assert response.status_code == 403
    file.refresh_from_db()
    assert file.status == "open"


@pytest.mark.parametrize("who", ["outsider", "kacho", "zaisei_kacho"])
def test_only_officers_complete_or_edit(city, who) -> None:
    file = open_file(city)
    client = login(getattr(city, who))
    assert (
        client.post(f"/records/files/{file.pk}/complete/", {"completed_on": "2027-03-31"})
    ).status_code == 404
    assert (
        client.post(
            f"/records/files/{file.pk}/edit/",
            {
                "name": "x",
                "creator_post": "x",
                "manager_post": "x",
                "medium": "paper",
                "location": "x",
            },
        )
    ).status_code == 404
    file.refresh_from_db()
    assert (file.status, file.medium) == ("open", "electronic")
    assert login(city.records_officer).post("/records/files/999999/complete/").status_code == 404


# --- edit -----------------------------------------------------------------------------


def _metadata(**overrides: str) -> dict[str, str]:
    data = {
        "name": "例規（令和8年度）",
        "creator_post": "総務課長",
        "manager_post": "総務課長",
        "medium": "paper",
        "location": "書庫A-3",
        "remarks": "箱12",
    }
    return {**data, **overrides}


def test_officer_edits_metadata_audited(city) -> None:
    file = closed_file(city.soumu_ka, "5", D(2026, 6, 1), None)
    response = login(city.records_officer).post(f"/records/files/{file.pk}/edit/", _metadata())
    assert response.status_code == 302
    assert any("更新しました" in m for m in said(response))
    file.refresh_from_db()
    assert (file.name, file.medium, file.location, file.remarks) == (
        "例規（令和8年度）",
        "paper",
        "書庫A-3",
        "箱12",
    )
    event = AuditEvent.objects.filter(action="records.file.updated").get()
    assert event.data["new"]["location"] == "書庫A-3"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (_metadata(name=""), "名称"),
        (_metadata(medium="vellum"), "媒体"),
        (_metadata(location="x" * 201), "保存場所"),
        (_metadata(retention="1"), "この項目は変更できません: retention"),
        (_metadata(status="destroyed", completed_on="2020-01-01"), "completed_on, status"),
    ],
)
def test_bad_or_refused_edits_are_messages(city, data, expected) -> None:
    file = closed_file(city.soumu_ka, "5", D(2026, 6, 1), None)
    response = login(city.records_officer).post(f"/records/files/{file.pk}/edit/", data)
    assert response.status_code == 302
    assert any(expected in m for m in said(response)), said(response)
    file.refresh_from_db()
    assert (file.retention, file.status, file.location) == ("5", "closed", "文書管理システム")
    assert not AuditEvent.objects.filter(action="records.file.updated").exists()


# --- 延長 ------------------------------------------------------------------------------


def test_officer_extends_by_one_year_with_a_reason(city) -> None:
    file = closed_file(city.soumu_ka, "5", D(2026, 6, 1), None)
    client = login(city.records_officer)
    assert (
        f"/records/files/{file.pk}/extend/"
        in client.get(f"/records/files/{file.pk}/").content.decode()
    )
    response = client.post(f"/records/files/{file.pk}/extend/", {"reason": "訴訟の見込み"})
    assert response.status_code == 302 and response.url == f"/records/files/{file.pk}/"
    file.refresh_from_db()
    assert (file.extension_years, file.period_end) == (1, D(2033, 3, 31))
    event = AuditEvent.objects.filter(action="records.file.extended").get()
    assert event.data["reason"] == "訴訟の見込み"


def test_section_head_extends_own_file_only(city) -> None:
    own = closed_file(city.soumu_ka, "5", D(2026, 6, 1), None)
    other = closed_file(city.zaisei_ka, "5", D(2026, 6, 1), None)
    client = login(city.kacho)  # 総務課長
    response = client.post(f"/records/files/{own.pk}/extend/", {"reason": "事業継続中"})
    assert response.status_code == 302 and response.url == "/records/disposal/"
    assert client.post(f"/records/files/{other.pk}/extend/", {"reason": "x"}).status_code == 404
    assert (
        login(city.outsider).post(f"/records/files/{own.pk}/extend/", {"reason": "x"}).status_code
        == 404
    )
    own.refresh_from_db()
    other.refresh_from_db()
    assert (own.extension_years, other.extension_years) == (1, 0)


@pytest.mark.parametrize(
    ("state", "data", "expected"),
    [
        ("closed", {"reason": ""}, "延長の理由を入力"),
        ("closed", {"reason": "x" * 301}, "延長の理由を入力"),
        ("open", {"reason": "必要"}, "完結済みで"),
    ],
)
def test_bad_extension_input_is_a_message(city, state, data, expected) -> None:
    if state == "open":
        file = open_file(city)
    else:
        file = closed_file(city.soumu_ka, "5", D(2026, 6, 1), None)
    response = login(city.kacho).post(f"/records/files/{file.pk}/extend/", data)
    assert response.status_code == 302
    assert any(expected in m for m in said(response)), said(response)
    file.refresh_from_db()
    assert file.extension_years == 0


# --- manage.py close_files -------------------------------------------------------------


def _filed(city, file: RecordFile, *, signed: bool, on: dt.date) -> Record:
    record = plain_record(file.department)
    record_file_assign(record=record, file=file, actor=None)
    Record.objects.filter(pk=record.pk).update(
        status="signed" if signed else "pending",
        created_at=dt.datetime.combine(on, dt.time(10), tzinfo=JST),
    )
    return record


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("close_files", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def year_end_files(city):
    ready = open_file(city, "5")
    _filed(city, ready, signed=True, on=D(2026, 6, 1))
    _filed(city, ready, signed=True, on=D(2027, 2, 1))
    late = open_file(city, "10")  # a record filed after the year end
    _filed(city, late, signed=True, on=D(2027, 4, 10))
    unsigned = open_file(city, "3")
    _filed(city, unsigned, signed=True, on=D(2026, 7, 1))
    _filed(city, unsigned, signed=False, on=D(2026, 8, 1))
    empty = open_file(city, "1")
    next_year = open_file(city, "5", fy=2027)
    _filed(city, next_year, signed=True, on=D(2027, 4, 20))
    return {"ready": ready, "late": late, "unsigned": unsigned, "empty": empty, "next": next_year}


@time_machine.travel(dt.datetime(2027, 5, 1, 9, 0, tzinfo=JST), tick=False)
def test_close_files_dry_run_changes_nothing(year_end_files) -> None:
    out = run("--fiscal-year", "2026", "--dry-run")
    assert "would close on 2027-03-31" in out and "2 file(s) would close, 2 left open" in out
    assert "not yet signed" in out and "no records" in out
    assert set(RecordFile.objects.values_list("status", flat=True)) == {"open"}
    assert not AuditEvent.objects.filter(action="records.file.completed").exists()


@time_machine.travel(dt.datetime(2027, 5, 1, 9, 0, tzinfo=JST), tick=False)
def test_close_files_closes_ready_files_once(year_end_files) -> None:
    out = run("--fiscal-year", "2026")
    files = {k: RecordFile.objects.get(pk=f.pk) for k, f in year_end_files.items()}
    assert (files["ready"].status, files["ready"].completed_on) == ("closed", D(2027, 3, 31))
    assert (files["ready"].start_date, files["ready"].period_end) == (
        D(2027, 4, 1),
        D(2032, 3, 31),
    )
    assert (files["late"].status, files["late"].completed_on) == ("closed", D(2027, 4, 10))
    assert files["late"].start_date == D(2028, 4, 1)
    assert [files[k].status for k in ("unsigned", "empty", "next")] == ["open"] * 3
    assert f"file {files['ready'].pk} " in out and "2 file(s) closed, 2 left open" in out
    assert AuditEvent.objects.filter(action="records.file.completed").count() == 2
    again = run("--fiscal-year", "2026")
    assert "0 file(s) closed, 2 left open" in again
    assert AuditEvent.objects.filter(action="records.file.completed").count() == 2


@time_machine.travel(dt.datetime(2027, 3, 31, 12, 0, tzinfo=JST), tick=False)
def test_close_files_refuses_a_year_that_has_not_ended(year_end_files) -> None:
    with pytest.raises(CommandError, match="まだ終わっていません"):
        run("--fiscal-year", "2026")
    assert set(RecordFile.objects.values_list("status", flat=True)) == {"open"}
