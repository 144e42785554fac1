"""The schedule round-trips through `manage.py schedule`: export, edit, load as the next
version from a future date; never into the past once one is in force."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from audit.models import AuditEvent
from records.models import Classification, ClassificationSchedule
from tests.city import build_city
from tests.records.factories_files import schedule

pytestmark = pytest.mark.django_db


def test_export_edit_and_load_the_next_version(tmp_path, admin_client) -> None:
    city = build_city()
    first = schedule(city.kacho)
    path = tmp_path / "schedule.json"
    call_command("schedule", "--export", str(path), stdout=StringIO())
    data = json.loads(path.read_text("utf-8"))
    leaves = first.classifications.filter(level=3).count()
    data["entries"][0]["children"][0]["children"][0]["retention"] = "30"
    path.write_text(json.dumps(data, ensure_ascii=False), "utf-8")
    call_command("schedule", "--load", str(path), "--actor", "city-admin", stdout=StringIO())
    second = ClassificationSchedule.objects.get(version=first.version + 1)
    assert second.classifications.filter(level=3).count() == leaves
    assert Classification.objects.filter(schedule=second, retention="30").exists()
    assert AuditEvent.objects.filter(action="records.schedule.created").count() == 2
    data["version"] += 1
    data["effective_from"] = "2020-04-01"
    path.write_text(json.dumps(data, ensure_ascii=False), "utf-8")
    with pytest.raises(CommandError, match="明日以降"):
        call_command("schedule", "--load", str(path), "--actor", "city-admin", stdout=StringIO())
    assert admin_client.get("/admin/records/classificationschedule/").status_code == 200
    page = admin_client.get(f"/admin/records/classificationschedule/{second.pk}/change/")
    assert page.status_code == 200 and b'name="_save"' not in page.content
