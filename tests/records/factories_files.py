"""Helpers for the files/retention tests: a small schedule and files in given states."""

from __future__ import annotations

import datetime as dt

from django.contrib.contenttypes.models import ContentType
from django.utils import timezone

from org.models import Department, Staff
from records.files import file_complete, file_create, schedule_new_version
from records.models import Classification, ReceivedDocument, Record, RecordFile

ENTRIES = [
    {
        "code": "01",
        "name": "総務",
        "children": [
            {
                "code": "01-01",
                "name": "文書管理",
                "children": [
                    {
                        "code": "01-01-001",
                        "name": "例規",
                        "retention": "30",
                        "disposition": "transfer",
                    },
                    {
                        "code": "01-01-002",
                        "name": "照会回答",
                        "retention": "5",
                        "disposition": "destroy",
                    },
                    {
                        "code": "01-01-003",
                        "name": "議会日程",
                        "retention": "1",
                        "disposition": "destroy",
                    },
                    {
                        "code": "01-01-004",
                        "name": "写し",
                        "retention": "lt1",
                        "disposition": "destroy",
                    },
                    {
                        "code": "01-01-005",
                        "name": "永年文書",
                        "retention": "permanent",
                        "disposition": "transfer",
                    },
                    {
                        "code": "01-01-006",
                        "name": "契約",
                        "retention": "10",
                        "disposition": "destroy",
                    },
                    {
                        "code": "01-01-007",
                        "name": "行事",
                        "retention": "3",
                        "disposition": "destroy",
                    },
                ],
            }
        ],
    }
]


def schedule(actor):
    return schedule_new_version(
        actor=actor, version=1, effective_from=dt.date(2019, 4, 1), entries=ENTRIES
    )


def leaf(retention: str) -> Classification:
    return Classification.objects.filter(level=3, retention=retention).first()


def closed_file(
    department: Department, retention: str, completed_on: dt.date, actor, fy: int | None = None
) -> RecordFile:
    file = file_create(
        department=department,
        classification=leaf(retention),
        fiscal_year=fy or (completed_on.year if completed_on.month >= 4 else completed_on.year - 1),
        actor=actor,
    )
    return file_complete(file=file, completed_on=completed_on, actor=actor)


def plain_record(department: Department, title: str = "公文書", number: str = "") -> Record:
    """A record whose source is a received document (enough for filing and holds)."""
    n = ReceivedDocument.objects.count() + 1
    source = ReceivedDocument.objects.create(
        department=department,
        receipt_number=f"テスト収第{n}号",
        received_on=dt.date(2026, 6, 1),
        sender="山形県",
        title=title,
        upload=f"received/test/{n}.pdf",
        original_name=f"{n}.pdf",
        sha256="0" * 64,
        size=1,
        registered_by=Staff.objects.first(),
        registered_at=timezone.now(),
    )
    return Record.objects.create(
        source_type=ContentType.objects.get_for_model(ReceivedDocument),
        source_id=source.pk,
        title=title,
        number=number or f"8総第{source.pk}号",
        department=department,
        created_at=timezone.now(),
    )
