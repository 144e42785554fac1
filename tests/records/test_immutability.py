"""Nothing is lost: records, their versions and files under retention cannot be deleted
or have their content changed — not through the ORM, the admin, the API, nor (on
PostgreSQL) by SQL around the application."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import DatabaseError, connection, transaction
from django.test import Client
from django.utils import timezone

from org.models import Staff
from records.models import (
    DisposalBatch,
    DisposalItem,
    DisposalRegisterEntry,
    Record,
    RecordFile,
    RecordVersion,
    UnderRetention,
)
from tests.city import build_city

from .factories_files import closed_file, plain_record, schedule

URLS = "tests.records.files_urlconf"
SHA_A = "a" * 64
SHA_B = "b" * 64


@pytest.fixture
def city(db):
    city = build_city()
    schedule(city.records_officer)
    return city


@pytest.fixture
def kept(city):
    """A signed record with one version, in a closed 5年 file."""
    file = closed_file(city.soumu_ka, "5", dt.date(2026, 6, 1), city.kacho)
    record = plain_record(city.soumu_ka, "公用車の修繕について", "8総第1号")
    RecordVersion.objects.create(
        record=record,
        reason="signed",
        file="records/aa/a.pdf",
        sha256=SHA_A,
        size=10,
        created_at=timezone.now(),
    )
    Record.objects.filter(pk=record.pk).update(file=file)
    record = Record.objects.get(pk=record.pk)
    record.sha256, record.pdf.name, record.status = SHA_A, "records/aa/a.pdf", "signed"
    record.save()
    return record, file


def _approved_batch_for(file: RecordFile, action: str = "transfer") -> DisposalBatch:
    """What the database asks before a file may be destroyed or transferred."""
    batch = DisposalBatch.objects.create(
        title="目録",
        fiscal_year=2026,
        status=DisposalBatch.Status.APPROVED,
        created_by=Staff.objects.order_by("pk").first(),
        created_at=timezone.now(),
    )
    DisposalItem.objects.create(batch=batch, file=file, action=action)
    return batch


def _mark(file: RecordFile, status: str) -> None:
    if status in (RecordFile.Status.DESTROYED, RecordFile.Status.TRANSFERRED):
        _approved_batch_for(file)
    RecordFile.objects.filter(pk=file.pk).update(status=status)


# --- ORM -----------------------------------------------------------------------------


def test_orm_refuses_deletes_under_retention(kept) -> None:
    record, file = kept
    version = record.versions.get()
    for call in (
        record.delete,
        version.delete,
        file.delete,
        Record.objects.all().delete,
        RecordVersion.objects.all().delete,
        RecordFile.objects.all().delete,
    ):
        with pytest.raises(UnderRetention):
            call()
    assert Record.objects.count() == 1 and RecordVersion.objects.count() == 1
    assert RecordFile.objects.filter(pk=file.pk).exists()


def test_orm_refuses_content_change_without_a_version(kept) -> None:
    record, _file = kept
    record.sha256 = SHA_B
    with pytest.raises(UnderRetention):
        record.save()
    with pytest.raises(UnderRetention):
        Record.objects.filter(pk=record.pk).update(sha256=SHA_B)
    record = Record.objects.get(pk=record.pk)
    record.pdf.name = "records/other.pdf"
    with pytest.raises(UnderRetention):
        record.save(update_fields=["pdf"])
    version = record.versions.get()
    version.sha256 = SHA_B
    with pytest.raises(UnderRetention):
        version.save()
    with pytest.raises(UnderRetention):
        RecordVersion.objects.update(size=1)
    assert Record.objects.get(pk=record.pk).sha256 == SHA_A


def test_renewal_path_adds_a_version_first_and_metadata_stays_editable(kept) -> None:
    record, _file = kept
    RecordVersion.objects.create(
        record=record,
        reason="renewed",
        file="records/bb/b.pdf",
        sha256=SHA_B,
        size=11,
        created_at=timezone.now(),
    )
    record.sha256, record.pdf.name = SHA_B, "records/bb/b.pdf"
    record.save(update_fields=["sha256", "pdf"])
    record.title = "公用車の修繕について（訂正）"
    record.save(update_fields=["title"])
    assert Record.objects.get(pk=record.pk).sha256 == SHA_B


def test_gone_files_may_be_deleted(kept) -> None:
    record, file = kept
    _mark(file, RecordFile.Status.DESTROYED)
    RecordVersion.objects.filter(record=record).delete()
    Record.objects.filter(pk=record.pk).delete()
    DisposalItem.objects.filter(file=file).delete()  # the batch's own line goes first
    RecordFile.objects.get(pk=file.pk).delete()
    assert not RecordFile.objects.filter(pk=file.pk).exists()


# --- admin and API -----------------------------------------------------------------------


def _admin(city) -> Client:
    from org.models import Staff

    client = Client()
    client.force_login(Staff.objects.get(username="city-admin"))
    return client


def test_admin_is_read_only(city, kept) -> None:
    record, file = kept
    client = _admin(city)
    for name, obj in (("record", record), ("recordfile", file)):
        assert client.get(f"/admin/records/{name}/{obj.pk}/delete/").status_code == 403
        page = client.get(f"/admin/records/{name}/{obj.pk}/change/")
        assert page.status_code == 200 and b'name="_save"' not in page.content
        response = client.post(
            f"/admin/records/{name}/",
            {"action": "delete_selected", "_selected_action": [obj.pk], "post": "yes"},
        )
        assert response.status_code in (200, 302, 403)
    assert Record.objects.filter(pk=record.pk).exists()
    assert RecordFile.objects.filter(pk=file.pk).exists()


@pytest.mark.urls(URLS)
def test_api_is_read_only_with_a_japanese_405(city, kept) -> None:
    record, file = kept
    client = Client()
    client.force_login(city.records_officer)
    for url in (f"/api/v1/records/{record.pk}/", f"/api/v1/record-files/{file.pk}/"):
        assert client.get(url).status_code == 200
        for method in (client.delete, client.put, client.patch):
            response = method(url, data={}, content_type="application/json")
            assert response.status_code == 405
            assert "変更・削除できません" in response.json()["detail"]
    listing = client.get("/api/v1/record-files/").json()
    assert listing["results"][0]["period_end"] == "2032-03-31"
    assert Record.objects.filter(pk=record.pk).exists()


@pytest.mark.urls(URLS)
def test_api_hides_files_and_records_from_others(city, kept) -> None:
    record, file = kept
    client = Client()
    client.force_login(city.outsider)
    assert client.get(f"/api/v1/record-files/{file.pk}/").status_code == 404
    assert client.get(f"/api/v1/records/{record.pk}/").status_code == 404
    assert client.get("/api/v1/record-files/").json()["results"] == []


@pytest.mark.urls(URLS)
@pytest.mark.parametrize("n", [3, 30])
def test_api_list_query_count(city, n, django_assert_max_num_queries) -> None:
    for i in range(n):
        closed_file(city.soumu_ka, "1", dt.date(2020, 4, 1) + dt.timedelta(days=i * 30), city.kacho)
        plain_record(city.soumu_ka, f"文書{i}")
    client = Client()
    client.force_login(city.records_officer)
    with django_assert_max_num_queries(8):
        assert client.get("/api/v1/record-files/").status_code == 200
    with django_assert_max_num_queries(8):
        assert client.get("/api/v1/records/").status_code == 200


# --- PostgreSQL triggers -------------------------------------------------------------------


def _sql_refused(sql: str, params: list) -> None:
    with (
        pytest.raises(
            DatabaseError, match=r"retention|append-only|sha256|disposal batch|destroyed"
        ),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(sql, params)


def test_triggers_refuse_raw_sql(need_postgres, kept) -> None:
    record, file = kept
    version = record.versions.get()
    _sql_refused("DELETE FROM records_recordversion WHERE id = %s", [version.pk])
    _sql_refused("UPDATE records_recordversion SET sha256 = %s WHERE id = %s", [SHA_B, version.pk])
    _sql_refused("DELETE FROM records_record WHERE id = %s", [record.pk])
    _sql_refused("DELETE FROM records_recordfile WHERE id = %s", [file.pk])
    _sql_refused("UPDATE records_record SET sha256 = %s WHERE id = %s", [SHA_B, record.pk])
    with connection.cursor() as cursor:  # metadata is not content
        cursor.execute("UPDATE records_record SET title = %s WHERE id = %s", ["訂正", record.pk])
        cursor.execute(
            "INSERT INTO records_recordversion (record_id, reason, file, sha256, size, created_at)"
            " VALUES (%s, 'renewed', 'records/bb/b.pdf', %s, 11, now())",
            [record.pk, SHA_B],
        )
        cursor.execute("UPDATE records_record SET sha256 = %s WHERE id = %s", [SHA_B, record.pk])
    assert Record.objects.get(pk=record.pk).sha256 == SHA_B


def test_triggers_allow_deleting_what_is_gone(need_postgres, kept) -> None:
    record, file = kept
    _mark(file, RecordFile.Status.TRANSFERRED)
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM records_recordversion WHERE record_id = %s", [record.pk])
        cursor.execute("DELETE FROM records_record WHERE id = %s", [record.pk])
        cursor.execute("DELETE FROM records_disposalitem WHERE file_id = %s", [file.pk])
        cursor.execute("DELETE FROM records_recordfile WHERE id = %s", [file.pk])
    assert not Record.objects.filter(pk=record.pk).exists()


def test_triggers_guard_the_ways_round(need_postgres, kept) -> None:
    record, file = kept
    # No approved batch: a file cannot be declared destroyed to slip past 0004.
    _sql_refused("UPDATE records_recordfile SET status = 'destroyed' WHERE id = %s", [file.pk])
    _sql_refused("UPDATE records_record SET pdf = '' WHERE id = %s", [record.pk])
    batch = _approved_batch_for(file, action="destroy")
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE records_recordfile SET status = 'destroyed' WHERE id = %s", [file.pk]
        )
        cursor.execute("UPDATE records_record SET pdf = '' WHERE id = %s", [record.pk])
    _sql_refused("UPDATE records_recordfile SET status = 'closed' WHERE id = %s", [file.pk])
    entry = DisposalRegisterEntry.objects.create(
        batch=batch,
        file=file,
        record=record,
        title=record.title,
        classification="x",
        fiscal_year=2020,
        start_date=dt.date(2021, 4, 1),
        end_date=dt.date(2026, 3, 31),
        approved_by="課長",
        destroyed_at=timezone.now(),
    )
    _sql_refused(
        "UPDATE records_disposalregisterentry SET title = %s WHERE id = %s", ["x", entry.pk]
    )
    _sql_refused("DELETE FROM records_disposalregisterentry WHERE id = %s", [entry.pk])


def test_disposal_register_is_append_only_in_the_orm(kept) -> None:
    record, file = kept
    batch = _approved_batch_for(file, action="destroy")
    entry = DisposalRegisterEntry.objects.create(
        batch=batch,
        file=file,
        record=record,
        title=record.title,
        classification="x",
        fiscal_year=2020,
        start_date=dt.date(2021, 4, 1),
        end_date=dt.date(2026, 3, 31),
        approved_by="課長",
        destroyed_at=timezone.now(),
    )
    entry.title = "改ざん"
    with pytest.raises(UnderRetention):
        entry.save()
    with pytest.raises(UnderRetention):
        entry.delete()
