"""The hand-written inbox query returns exactly what the ORM selector does."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.paginator import Paginator

from approvals.models import Document
from approvals.services import document_create, document_submit
from org.models import Deputy
from tests.city import build_city
from workflow.models import Step
from workflow.selectors import InboxList, inbox_for, inbox_page, subject_url

pytestmark = pytest.mark.django_db


def test_inbox_page_matches_inbox_for_with_deputies_filters_and_offsets() -> None:
    city = build_city()
    Deputy.objects.create(
        principal=city.zaisei_kacho, deputy=city.kakaricho, order=1, start=dt.date(2020, 4, 1)
    )
    for n in range(7):
        document = document_create(
            actor=city.drafter, title=f"案件{n}", category=city.buppin, amount=1000
        )
        document_submit(document=document, actor=city.drafter)
    # Three steps for 財政課長 (one important), whose deputy is our 係長 while away.
    for n, important in enumerate([False, False, True]):
        document = document_create(
            actor=city.zaisei_kacho, title=f"財政{n}", category=city.jinkenhi, important=important
        )
        document_submit(document=document, actor=city.zaisei_kacho)
    Step.objects.filter(status="pending", route__title__startswith="財政").update(
        assignee=city.zaisei_kacho
    )
    Step.objects.filter(route__title="案件3", status="pending").update(due_at=None)
    city.absent(city.zaisei_kacho)
    viewer = city.kakaricho
    expected = list(inbox_for(staff=viewer).values_list("pk", flat=True))
    assert len(expected) == 9  # 7 own + 2 deputised (the important one is not)
    assert [i.step_id for i in inbox_page(staff=viewer)] == expected
    assert [i.step_id for i in inbox_page(staff=viewer, offset=3, limit=4)] == expected[3:7]
    kind = ContentType.objects.get_for_model(Document).pk
    assert [i.step_id for i in inbox_page(staff=viewer, kind=kind)] == expected
    dept = city.soumu_ka.pk
    by_dept = list(inbox_for(staff=viewer, department=dept).values_list("pk", flat=True))
    assert [i.step_id for i in inbox_page(staff=viewer, department=dept)] == by_dept
    item = inbox_page(staff=viewer)[0]
    step = Step.objects.select_related("route", "route__department").get(pk=item.step_id)
    assert item.title == step.route.title
    assert item.due_at == step.due_at and item.activated_at == step.activated_at
    assert item.drafter_name == step.route.submitted_by.display_name
    assert (
        subject_url(item.subject_type_id, item.subject_id)
        == f"/approvals/documents/{item.subject_id}/"
    )
    page = Paginator(InboxList(staff=viewer), 4).get_page(2)
    assert [i.step_id for i in page.object_list] == expected[4:8]
    assert page.paginator.count == 9
