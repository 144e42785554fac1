"""List pages cost the same number of queries at 10 rows and at 10× that."""

from __future__ import annotations

import pytest
from django.contrib.contenttypes.models import ContentType
from django.utils import timezone

from approvals.models import Document
from records.models import Record
from tests.city import build_city

pytestmark = pytest.mark.django_db


def make_documents(city, n: int) -> None:
    Document.objects.bulk_create(
        Document(
            title=f"起案 {i}",
            category=city.buppin,
            amount=1000 + i,
            drafter=city.drafter,
            department=city.soumu_ka,
            drafted_on=timezone.localdate(),
        )
        for i in range(n)
    )


def make_records(city, n: int) -> None:
    department_type = ContentType.objects.get_for_model(city.soumu_ka)
    Record.objects.bulk_create(
        Record(
            source_type=department_type,
            source_id=10_000 + Record.objects.count() + i,
            title=f"記録 {i}",
            number=f"8総第{i}号",
            department=city.soumu_ka,
            created_at=timezone.now(),
            status=Record.Status.SIGNED if i % 2 else Record.Status.PENDING,
        )
        for i in range(n)
    )


@pytest.mark.parametrize("path", ["/approvals/documents/", "/approvals/documents/?status=draft"])
def test_document_list_page(client, django_assert_max_num_queries, path: str) -> None:
    city = build_city()
    client.force_login(city.drafter)
    make_documents(city, 10)
    with django_assert_max_num_queries(12) as small:
        assert client.get(path).status_code == 200
    make_documents(city, 90)
    with django_assert_max_num_queries(len(small.captured_queries)):
        response = client.get(path)
    assert response.status_code == 200


def test_records_list_page(client, django_assert_max_num_queries) -> None:
    city = build_city()
    client.force_login(city.records_officer)
    make_records(city, 10)
    with django_assert_max_num_queries(12) as small:
        assert client.get("/records/").status_code == 200
    make_records(city, 190)
    with django_assert_max_num_queries(len(small.captured_queries)):
        response = client.get("/records/?flagged=1")
    assert response.status_code == 200
