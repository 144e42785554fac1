"""Query counts of the records list pages and API lists: the same bound at 10 and 100
rows, so the cost does not grow with data (STYLE.md, "Guard query counts")."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.contenttypes.models import ContentType
from django.test import Client
from django.utils import timezone

from org.models import Department
from records import disposal
from records.models import DisposalBatch, Hold, Record, RecordFile
from tests.city import build_city

from .factories_files import leaf, schedule

pytestmark = [
    pytest.mark.django_db(transaction=False),
    pytest.mark.urls("tests.records.files_urlconf"),
]
D = dt.date
SIZES = [10, 100]

# The bounds: what each page costs today at either size (session, user, roles, then the
# page's own queries: 6, 9, 5, 5 and 6) plus 2 of headroom for the shared layout. An N+1
# would add at least 10 queries at the small size, so the bound still catches it.
CANDIDATES_MAX = 8
BATCH_MAX = 11
API_MAX = 7
FILE_DETAIL_MAX = 8


@pytest.fixture
def city(db):
    city = build_city()
    schedule(city.records_officer)
    return city


def login(staff) -> Client:
    client = Client()
    client.force_login(staff)
    return client


def expired_files(city, n: int, *, held: bool = True) -> list[RecordFile]:
    """n closed 1年 files of FY2019/2020 in two sections, expired, each with one ended
    hold (so the candidate list has holds to look at)."""
    classification = leaf("1")
    files = RecordFile.objects.bulk_create(
        RecordFile(
            department=city.soumu_ka if i % 2 else city.zaisei_ka,
            classification=classification,
            fiscal_year=2019 + i % 2,
            name=f"議会日程 {i}",
            creator_post="総務課長",
            manager_post="総務課長",
            retention="1",
            disposition="destroy",
            completed_on=D(2020 + i % 2, 3, 31),
            start_date=D(2020 + i % 2, 4, 1),
            period_end=D(2021 + i % 2, 3, 31),
            status=RecordFile.Status.CLOSED,
            created_at=timezone.now(),
        )
        for i in range(n)
    )
    if not held:
        return files
    hold = Hold.objects.create(
        kind=Hold.Kind.AUDIT,
        reason="監査",
        started_on=D(2022, 1, 1),
        ended_on=D(2022, 6, 30),
        keeps_until=D(2022, 6, 30),
        created_by=city.records_officer,
        created_at=timezone.now(),
    )
    hold.files.set(files)
    return files


def records_in(city, file: RecordFile | None, n: int) -> list[Record]:
    source_type = ContentType.objects.get_for_model(Department)
    start = Record.objects.count()
    return Record.objects.bulk_create(
        Record(
            source_type=source_type,
            source_id=100_000 + start + i,
            title=f"公文書 {i}",
            number=f"8総第{start + i + 1}号",
            department=city.soumu_ka,
            file=file,
            status=Record.Status.SIGNED,
            created_at=timezone.now(),
        )
        for i in range(n)
    )


@pytest.mark.parametrize("n", SIZES)
def test_disposal_candidate_list(city, n, django_assert_max_num_queries) -> None:
    expired_files(city, n)
    client = login(city.records_officer)
    with django_assert_max_num_queries(CANDIDATES_MAX):
        response = client.get("/records/disposal/")
    assert response.status_code == 200
    assert response.content.decode().count('name="files"') == n


@pytest.mark.parametrize("n", SIZES)
def test_disposal_batch_page(city, n, django_assert_max_num_queries) -> None:
    files = expired_files(city, n, held=False)
    batch = disposal.disposal_batch_create(
        fiscal_year=2026, files=files, actor=city.records_officer
    )
    disposal.disposal_batch_submit(batch=batch, actor=city.records_officer)
    assert DisposalBatch.objects.get(pk=batch.pk).status == DisposalBatch.Status.IN_REVIEW
    client = login(city.records_officer)
    with django_assert_max_num_queries(BATCH_MAX):
        response = client.get(f"/records/disposal/{batch.pk}/")
    assert response.status_code == 200
    page = response.content.decode()
    assert page.count("議会日程 ") == n and "財政課" in page


@pytest.mark.parametrize("n", SIZES)
def test_api_record_files(city, n, django_assert_max_num_queries) -> None:
    files = expired_files(city, n)
    records_in(city, files[0], 3)
    client = login(city.records_officer)
    with django_assert_max_num_queries(API_MAX):
        response = client.get("/api/v1/record-files/", {"limit": 200})
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == n and len(body["results"]) == n
    assert {r["record_count"] for r in body["results"]} == {0, 3}


@pytest.mark.parametrize("n", SIZES)
def test_api_records(city, n, django_assert_max_num_queries) -> None:
    files = expired_files(city, 2)
    records_in(city, files[0], n // 2)
    records_in(city, None, n - n // 2)
    client = login(city.records_officer)
    with django_assert_max_num_queries(API_MAX):
        response = client.get("/api/v1/records/", {"limit": 200})
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == n and len(body["results"]) == n
    assert body["results"][0]["department"]["name"] == "総務課"


@pytest.mark.parametrize("n", SIZES)
def test_file_detail_page(city, n, django_assert_max_num_queries) -> None:
    file = expired_files(city, 1)[0]
    records_in(city, file, n)
    client = login(city.records_officer)
    with django_assert_max_num_queries(FILE_DETAIL_MAX):
        response = client.get(f"/records/files/{file.pk}/")
    assert response.status_code == 200
    page = response.content.decode()
    assert page.count('name="records"') == n and "監査" in page
