"""Files (簿冊), the schedule, holds and received documents: the services, and the
records officers' pages (permissions, wiring, query counts)."""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client

from audit.models import AuditEvent
from records.files import (
    RecordsError,
    file_complete,
    file_create,
    file_for_document,
    file_update,
    hold_register,
    receipt_register,
    record_file_assign,
    record_file_by_classification,
    schedule_load_fixture,
)
from records.models import Classification, ClassificationSchedule, Hold, ReceivedDocument, Record
from tests.city import build_city

from .factories_files import closed_file, leaf, plain_record, schedule

pytestmark = pytest.mark.django_db(transaction=False)
URLS = "tests.records.files_urlconf"
SCHEDULE = Path(settings.BASE_DIR) / "fixtures" / "demo" / "schedule.json"
D = dt.date


@pytest.fixture
def city(db):
    city = build_city()
    schedule(city.records_officer)
    return city


def test_demo_schedule_fixture_loads_once(db) -> None:
    city = build_city()
    first = schedule_load_fixture(path=SCHEDULE, actor=city.records_officer)
    again = schedule_load_fixture(path=SCHEDULE, actor=city.records_officer)
    assert first.pk == again.pk and ClassificationSchedule.objects.count() == 1
    leaves = Classification.objects.filter(schedule=first, level=3)
    assert leaves.count() >= 60
    assert not leaves.filter(retention="").exists()
    assert leaves.filter(code="01-01-001", retention="30", disposition="transfer").exists()
    majors = set(Classification.objects.filter(level=1).values_list("name", flat=True))
    assert {
        "総務",
        "人事",
        "財政",
        "企画",
        "市民",
        "税務",
        "福祉",
        "子育て",
        "建設",
        "教育",
    } <= majors


def test_file_takes_retention_from_schedule_and_completion_sets_dates(city) -> None:
    file = file_create(
        department=city.soumu_ka, classification=leaf("5"), fiscal_year=2026, actor=city.kacho
    )
    assert (file.retention, file.disposition, file.status) == ("5", "destroy", "open")
    assert file.creator_post == "総務課長"
    file = file_complete(file=file, completed_on=D(2027, 3, 31), actor=city.kacho)
    assert (file.start_date, file.period_end) == (D(2027, 4, 1), D(2032, 3, 31))
    with pytest.raises(RecordsError):
        file_complete(file=file, completed_on=D(2027, 3, 31), actor=city.kacho)
    event = AuditEvent.objects.filter(action="records.file.completed").get()
    assert event.data["new"]["period_end"] == "2032-03-31"


def test_file_update_audits_old_and_new_and_refuses_retention_fields(city) -> None:
    file = closed_file(city.soumu_ka, "5", D(2026, 6, 1), city.kacho)
    file = file_update(file=file, actor=city.records_officer, location="書庫A-3", remarks="箱12")
    event = AuditEvent.objects.filter(action="records.file.updated").get()
    assert event.data["old"] == {"location": "文書管理システム", "remarks": ""}
    assert event.data["new"] == {"location": "書庫A-3", "remarks": "箱12"}
    for field, value in [
        ("retention", "1"),
        ("completed_on", D(2020, 1, 1)),
        ("status", "destroyed"),
    ]:
        with pytest.raises(RecordsError):
            file_update(file=file, actor=city.records_officer, **{field: value})
    file.refresh_from_db()
    assert (file.retention, file.status) == ("5", "closed")


def test_file_for_document_gets_or_creates_the_open_file(city) -> None:
    kwargs = {"department": city.zaisei_ka, "classification": leaf("10"), "fiscal_year": 2026}
    first = file_for_document(**kwargs)
    assert file_for_document(**kwargs).pk == first.pk
    record = plain_record(city.zaisei_ka)
    record_file_by_classification(
        record=record, classification=leaf("10"), fiscal_year=2026, actor=None
    )
    assert Record.objects.get(pk=record.pk).file_id == first.pk
    file_complete(file=first, completed_on=D(2027, 3, 31), actor=None)
    with pytest.raises(RecordsError):  # a closed file takes no more records
        record_file_assign(record=plain_record(city.zaisei_ka), file=first, actor=None)
    assert file_for_document(**kwargs).pk != first.pk  # a new volume once closed


def test_one_disclosure_hold_covers_the_files_of_all_records(city) -> None:
    a = file_for_document(department=city.soumu_ka, classification=leaf("5"), fiscal_year=2026)
    b = file_for_document(department=city.soumu_ka, classification=leaf("10"), fiscal_year=2026)
    records = [plain_record(city.soumu_ka, f"文書{i}") for i in range(3)]
    for record, file in zip(records, [a, a, b], strict=True):
        record_file_assign(record=record, file=file, actor=None)
    records = list(Record.objects.filter(pk__in=[r.pk for r in records]))
    hold = hold_register(
        kind=Hold.Kind.DISCLOSURE,
        records=records,
        reason="情報公開請求",
        reference="公開第3号",
        started_on=D(2026, 11, 1),
        actor=city.records_officer,
    )
    assert Hold.objects.count() == 1
    assert set(hold.files.values_list("pk", flat=True)) == {a.pk, b.pk}
    assert hold.records.count() == 3 and hold.keeps_until is None


def _upload(name: str = "letter.pdf") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, b"%PDF-1.7\n% received\n", content_type="application/pdf")


def test_receipt_numbers_are_gap_free_per_fiscal_year_and_department(city, media) -> None:
    def register(dept, day):
        return receipt_register(
            department=dept,
            sender="山形県 総務部長",
            title="照会について",
            received_on=day,
            upload=_upload(),
            actor=city.records_officer,
        ).receipt_number

    assert register(city.zaisei_ka, D(2026, 5, 1)) == "8財収第1号"
    assert register(city.zaisei_ka, D(2026, 6, 1)) == "8財収第2号"
    assert register(city.soumu_ka, D(2026, 6, 1)) == "8総収第1号"
    assert register(city.zaisei_ka, D(2027, 4, 1)) == "9財収第1号"
    received = ReceivedDocument.objects.get(receipt_number="8財収第2号")
    record = Record.objects.get(number="8財収第2号")
    assert record.source == received
    payload = received.record_payload()
    assert payload.attachments[0].content_type == "application/pdf"
    assert payload.attachments[0].read().startswith(b"%PDF")
    assert received.record_visible_to(city.zaisei_kacho)
    assert not received.record_visible_to(city.outsider)


@pytest.mark.django_db(transaction=True)
def test_concurrent_receipts_take_distinct_numbers(need_postgres, media) -> None:
    city = build_city()
    numbers: list[str] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            numbers.append(
                receipt_register(
                    department=city.zaisei_ka,
                    sender="国土交通省",
                    title="通知",
                    received_on=D(2026, 6, 1),
                    upload=_upload(),
                    actor=city.records_officer,
                ).receipt_number
            )
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sorted(numbers) == sorted(f"8財収第{i}号" for i in range(1, 7))


# --- pages ---------------------------------------------------------------------------


def login(staff) -> Client:
    client = Client()
    client.force_login(staff)
    return client


@pytest.mark.urls(URLS)
def test_pages_are_for_records_officers_only(city) -> None:
    file = closed_file(city.soumu_ka, "5", D(2026, 6, 1), city.kacho)
    urls = [
        "/records/files/",
        f"/records/files/{file.pk}/",
        "/records/files/holds/new/",
        "/records/files/receipts/new/",
    ]
    for url in urls:
        assert login(city.kacho).get(url).status_code == 404
        assert login(city.records_officer).get(url).status_code == 200


@pytest.mark.urls(URLS)
def test_file_detail_shows_dates_in_wareki_and_seireki(city) -> None:
    file = closed_file(city.soumu_ka, "5", D(2027, 3, 31), city.kacho, fy=2026)
    page = login(city.records_officer).get(f"/records/files/{file.pk}/").content.decode()
    assert "令和9年4月1日" in page and "2027/04/01" in page  # 起算日
    assert "令和14年3月31日" in page and "2032/03/31" in page  # 満了日


@pytest.mark.urls(URLS)
def test_search_finds_records_and_registers_a_hold_from_the_page(city) -> None:
    file = file_for_document(department=city.soumu_ka, classification=leaf("5"), fiscal_year=2026)
    record = plain_record(city.soumu_ka, "公用車の修繕について", "8総第77号")
    record_file_assign(record=record, file=file, actor=None)
    client = login(city.records_officer)
    page = client.get("/records/files/", {"q": "公用車"}).content.decode()
    assert "8総第77号" in page and file.name in page
    response = client.post(
        "/records/files/holds/new/",
        {
            "kind": "disclosure",
            "reason": "情報公開請求",
            "reference": "公開第9号",
            "started_on": "2026-11-20",
            "records": [record.pk],
        },
    )
    assert response.status_code == 302
    hold = Hold.objects.get()
    assert list(hold.files.all()) == [file]
    response = client.post(
        f"/records/files/holds/{hold.pk}/decide/", {"day": "2026-12-10", "file": file.pk}
    )
    hold.refresh_from_db()
    assert response.status_code == 302 and hold.keeps_until == D(2027, 12, 10)


@pytest.mark.urls(URLS)
def test_receipt_page_registers_an_upload(city, media) -> None:
    response = login(city.records_officer).post(
        "/records/files/receipts/new/",
        {
            "department": city.zaisei_ka.pk,
            "received_on": "2026-11-20",
            "sender": "山形県",
            "title": "補助金の交付決定について",
            "upload": _upload(),
        },
    )
    assert response.status_code == 302
    assert ReceivedDocument.objects.get().receipt_number == "8財収第1号"


@pytest.mark.urls(URLS)
@pytest.mark.parametrize("files", [3, 30])
def test_file_list_query_count_does_not_grow(city, files, django_assert_max_num_queries) -> None:
    for i in range(files):
        file = closed_file(
            city.soumu_ka, "1", D(2020, 4, 1) + dt.timedelta(days=i * 30), city.kacho
        )
        record = plain_record(city.soumu_ka, f"文書{i}")
        Record.objects.filter(pk=record.pk).update(file=file)
        hold_register(
            kind="litigation",
            files=[file],
            reason="訴訟",
            started_on=D(2026, 1, 1),
            actor=city.records_officer,
        )
    client = login(city.records_officer)
    with django_assert_max_num_queries(12):
        response = client.get("/records/files/", {"q": "文書"})
    assert response.status_code == 200
    assert response.content.decode().count("/records/files/") >= min(files, 50)


def test_demo_load_is_idempotent_and_fills_the_disposal_list(db) -> None:
    from records import demo
    from records.retention import files_due_for_disposal

    city = build_city()
    record = plain_record(city.soumu_ka, "決裁済みの文書")
    first = demo.load()
    assert first.past_files == len(demo.PAST_FILES) and first.filed == 1
    again = demo.load()
    assert (again.past_files, again.filed) == (0, 0)
    assert Record.objects.get(pk=record.pk).file is not None
    due = files_due_for_disposal(day=D(2026, 11, 26))
    assert due.count() == 4
    assert {f.classification.code for f in due} == {
        "02-01-002",
        "01-06-002",
        "01-06-004",
        "01-03-003",
    }
