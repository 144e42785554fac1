"""Demo data of the records capability: the classification schedule, the decided
documents' records filed in 簿冊, and closed files of earlier fiscal years so the
disposal list has content. Idempotent: running it twice changes nothing more.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import Group
from django.utils import timezone

from common.dates import fiscal_year
from org.models import Department, Staff
from org.roles import RECORDS_OFFICER

from .files import (
    file_complete,
    file_create,
    hold_decide,
    hold_register,
    record_file_by_classification,
    schedule_load_fixture,
)
from .models import Classification, ClassificationSchedule, Hold, Record, RecordFile

SCHEDULE = Path(settings.BASE_DIR) / "fixtures" / "demo" / "schedule.json"
DEMO_REMARK = "デモ: 過年度の完結簿冊"
# Decided documents whose department has no leaf of its own go here (照会回答, 5年/廃棄).
FALLBACK_CODE = "01-01-003"

# (classification code, fiscal year, completed on, hold) for the earlier files. With the
# demo's "today" in FY2026 the first four are due for disposal, the rest are not.
PAST_FILES: list[tuple[str, int, dt.date, str]] = [
    ("02-01-002", 2019, dt.date(2020, 3, 31), ""),  # 給与の支給 5年 → 2025-03-31
    ("01-06-002", 2019, dt.date(2020, 3, 31), ""),  # 物品購入契約 5年 → 2025-03-31
    ("01-06-004", 2021, dt.date(2022, 3, 31), ""),  # 庁舎の維持管理 3年 → 2025-03-31
    ("01-03-003", 2023, dt.date(2024, 3, 31), ""),  # 議会日程・連絡 1年 → 2025-03-31
    ("04-01-001", 2019, dt.date(2020, 3, 31), ""),  # 当初予算 30年/移管: not yet
    ("01-06-001", 2019, dt.date(2020, 3, 31), "litigation"),  # 工事請負契約 10年
    ("06-01-001", 2020, dt.date(2021, 3, 31), "disclosure"),  # 市民税の賦課 5年 + 請求
    ("01-02-004", 2020, dt.date(2021, 3, 31), "litigation-open"),  # 情報公開 5年, 訴訟中
]


@dataclass
class Loaded:
    schedule: ClassificationSchedule
    filed: int
    past_files: int


def _actor() -> Staff:
    officer = (
        Staff.objects.filter(groups__in=Group.objects.filter(name=RECORDS_OFFICER), is_active=True)
        .order_by("pk")
        .first()
    )
    actor = officer or Staff.objects.filter(is_superuser=True).order_by("pk").first()
    if actor is None:
        raise RuntimeError("load the demo organisation (demo_org) before the records demo")
    return actor


def _leaf_for(department: Department, leaves: list[Classification]) -> Classification:
    for leaf in leaves:
        if leaf.department_id == department.pk:
            return leaf
    parent = department.parent
    for leaf in leaves:
        if parent is not None and leaf.department_id == parent.pk:
            return leaf
    return next(leaf for leaf in leaves if leaf.code == FALLBACK_CODE)


def file_decided_records(*, schedule: ClassificationSchedule, actor: Staff) -> int:
    """Put every record not yet in a file into the open file of its department, the
    first 小分類 that department manages, and the fiscal year of its registration."""
    leaves = list(schedule.classifications.filter(level=3).order_by("sort_order"))
    filed = 0
    records = Record.objects.filter(file__isnull=True).select_related("department__parent")
    for record in records.order_by("created_at", "pk"):
        record_file_by_classification(
            record=record,
            classification=_leaf_for(record.department, leaves),
            fiscal_year=fiscal_year(timezone.localdate(record.created_at)),
            actor=actor,
        )
        filed += 1
    return filed


def _past_files(*, schedule: ClassificationSchedule, actor: Staff) -> int:
    if RecordFile.objects.filter(remarks=DEMO_REMARK).exists():
        return 0
    by_code = {c.code: c for c in schedule.classifications.filter(level=3)}
    any_ka = Department.objects.filter(level="ka").order_by("code").first()
    made = 0
    for code, fy, completed_on, hold in PAST_FILES:
        leaf = by_code[code]
        department = (
            Department.objects.filter(pk=leaf.department_id).first() if leaf.department_id else None
        ) or any_ka
        file = file_create(
            department=department,
            classification=leaf,
            fiscal_year=fy,
            actor=actor,
            remarks=DEMO_REMARK,
            medium=RecordFile.Medium.PAPER,
            location="本庁舎地下書庫",
        )
        file = file_complete(file=file, completed_on=completed_on, actor=actor)
        if hold == "litigation" or hold == "litigation-open":
            hold_register(
                kind=Hold.Kind.LITIGATION,
                files=[file],
                reason="損害賠償請求事件（係属中）",
                reference="令和6年(ワ)第123号",
                started_on=dt.date(2024, 10, 1),
                actor=actor,
            )
        elif hold == "disclosure":
            disclosure = hold_register(
                kind=Hold.Kind.DISCLOSURE,
                files=[file],
                reason="情報公開請求",
                reference="公開第45号",
                started_on=dt.date(2026, 1, 20),
                actor=actor,
            )
            hold_decide(hold=disclosure, decided_on=dt.date(2026, 2, 10), actor=actor)
        made += 1
    return made


def load() -> Loaded:
    """Schedule, filed records and past files; safe to run again."""
    actor = _actor()
    schedule = schedule_load_fixture(path=SCHEDULE, actor=actor)
    filed = file_decided_records(schedule=schedule, actor=actor)
    past = _past_files(schedule=schedule, actor=actor)
    return Loaded(schedule=schedule, filed=filed, past_files=past)
