"""Shared set-up for the inventory tests: the small city of tests/city.py with a DX
office (企画課, whose 課長 decides priorities) and one of its members."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

import pytest
from django.utils import timezone

from inventory.models import Procedure, ProcedureVolume
from inventory.services import weights_new_version
from org.models import Staff
from tests.city import City, _person, build_city


@dataclass
class DxCity:
    city: City
    dx: Staff  # 企画課 主事 with the dx_office role


def make_dx_city() -> DxCity:
    city = build_city()
    dx = _person("dx-member", "推進", "花子", city.kikaku_ka, city.posts["shuji"], "dx_office")
    weights_new_version(
        actor=dx,
        valid_from=dt.date(2020, 4, 1),
        note="テスト用の既定値",
        dx_department=city.kikaku_ka,
    )
    return DxCity(city, dx)


@pytest.fixture
def dx_city(db) -> DxCity:
    return make_dx_city()


def bulk_procedures(n: int, *, start: int = 0, department=None, fiscal_year: int = 2024) -> None:
    """`n` procedures with a year of counts each, made in bulk (two INSERTs)."""
    now = timezone.now()
    procedures = Procedure.objects.bulk_create(
        Procedure(
            procedure_id=f"B-{start + i:05d}",
            name=f"一括手続 {start + i}",
            department=department,
            online_status="1" if i % 3 == 0 else "2",
            concern="" if i % 3 == 0 else ("1", "3", "4", "6")[i % 4],
            identity_check=("1", "2", "4", "6")[i % 4],
            fee="2" if i % 5 == 0 else "1",
            seal=("never", "required", "abolished")[i % 3],
            seal_basis="ordinance" if i % 3 == 1 else "",
            attachments=["住民票"] if i % 2 else ["添付書類なし"],
            attachment_status=["1"] if i % 4 == 1 else [],
            in_person_required=i % 7 == 0,
            staff_minutes=5 + i % 40,
            resident_minutes=10 + i % 60,
            on_priority_list=i % 11 == 0,
            created_at=now,
            updated_at=now,
        )
        for i in range(n)
    )
    ProcedureVolume.objects.bulk_create(
        ProcedureVolume(
            procedure=p,
            fiscal_year=fiscal_year,
            total=100 + i * 3,
            online=(100 + i * 3) // 4,
            offline=(100 + i * 3) - (100 + i * 3) // 4,
        )
        for i, p in enumerate(procedures)
    )


__all__ = ["Decimal", "DxCity", "bulk_procedures", "make_dx_city"]
