"""The dashboard, the list and the ranking cost the same number of queries with 100
procedures and with 5,000 (rows made with bulk_create)."""

from __future__ import annotations

import pytest

from tests.inventory.conftest import bulk_procedures

pytestmark = pytest.mark.django_db

# Measured on SQLite (warm caches): dashboard 12, list 7, ranking 7 (10 with a what-if,
# which ranks twice to show the moves), exports 5.
BOUND = 12
PAGES = [
    "/inventory/",
    "/inventory/procedures/",
    "/inventory/procedures/?online_status=2&national=on&page=2",
    "/inventory/ranking/",
    "/inventory/ranking/?expected_online_share=0.8&w_in_person=1",
    "/inventory/exports/",
]


@pytest.mark.parametrize("path", PAGES)
def test_same_queries_at_100_and_5000_procedures(
    client, dx_city, django_assert_max_num_queries, path: str
) -> None:
    client.force_login(dx_city.dx)
    bulk_procedures(100, department=dx_city.city.soumu_ka)
    client.get(path)  # warm the per-process caches (content types) first
    with django_assert_max_num_queries(BOUND) as small:
        assert client.get(path).status_code == 200
    bulk_procedures(4900, start=100, department=dx_city.city.zaisei_ka)
    with django_assert_max_num_queries(BOUND) as large:
        response = client.get(path)
    assert response.status_code == 200
    assert len(large.captured_queries) == len(small.captured_queries), path
    print(f"{path}: {len(small.captured_queries)} queries at 100 and 5,000")
