"""A document takes its classification from the schedule in force: the retention
follows it, and on decision the record is filed in its 簿冊."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from approvals.models import Document
from records.models import Record
from tests.city import build_city
from tests.records.factories_files import leaf, schedule
from workflow.models import Step
from workflow.services import step_approve

pytestmark = pytest.mark.django_db


def test_api_classification_sets_retention_and_files_the_record_on_decision() -> None:
    city = build_city()
    schedule(city.kacho)
    ten_years = leaf("10")
    api = APIClient()
    api.force_authenticate(city.kacho)  # 課長 drafts a 人件費 matter: decides it himself
    created = api.post(
        "/api/v1/documents/",
        {
            "title": "分類つき起案",
            "category": city.jinkenhi.code,
            "classification": ten_years.code,
            "retention": "1",
        },
        format="json",
    )
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["classification"] == ten_years.code and body["retention"] == "10"
    assert api.post(f"/api/v1/documents/{body['id']}/submit/", {}, format="json").status_code in (
        200,
        201,
    )
    document = Document.objects.get(pk=body["id"])
    while step := Step.objects.filter(route__subject_id=document.pk, status="pending").first():
        step_approve(step=step, actor=step.assignee)
    record = Record.objects.get(source_id=document.pk)
    assert record.file is not None and record.file.classification == ten_years
    assert record.file.department == document.department


def test_unknown_classification_code_is_a_clear_400() -> None:
    city = build_city()
    schedule(city.kacho)
    api = APIClient()
    api.force_authenticate(city.drafter)
    response = api.post(
        "/api/v1/documents/",
        {"title": "x", "category": city.buppin.code, "classification": "no-such-code"},
        format="json",
    )
    assert response.status_code == 400 and "classification" in str(response.json())
