"""The meetings demo: a published 庁議 and 財政課's meetings, with rendered pages, once."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse

from audit.services import audit_verify
from meetings import demo
from meetings.models import Material, MaterialVersion, Meeting, Minutes, Page
from meetings.services import can_attend, can_present
from org.models import Staff
from records import demo as records_demo

pytestmark = pytest.mark.django_db


def test_demo_meetings_load_once_with_rendered_pages(client, settings) -> None:
    settings.DEMO_LOGINS_ENABLED = True
    call_command("demo_org", stdout=StringIO(), stderr=StringIO())
    records_demo.load()
    result = demo.load()
    assert result.meetings_created == 3 and result.pages_rendered > 0
    chogi = Meeting.objects.get(title=demo.CHOGI_TITLE)
    kanai = Meeting.objects.get(title=demo.KANAI_TITLE)
    past = Meeting.objects.get(title=demo.PAST_TITLE)
    assert (chogi.kind, chogi.status) == ("chogi", "published")
    assert (kanai.kind, kanai.status) == ("kanai", "published")
    assert past.status == "closed" and Minutes.objects.get(meeting=past).record is None
    assert chogi.classification is not None and past.classification is not None
    # Every page rendered before publishing: nothing waits for a worker.
    assert not MaterialVersion.objects.exclude(render_status="done").exists()
    assert Page.objects.count() == sum(MaterialVersion.objects.values_list("page_count", flat=True))
    assert result.confidential == Material.objects.filter(confidential=True).exists()
    kacho, bucho, shokuin = (Staff.objects.get(username=u) for u in ("kacho", "bucho", "shokuin"))
    assert can_present(kacho, chogi) and can_attend(bucho, chogi)
    assert not can_attend(shokuin, chogi) and can_attend(shokuin, kanai)
    client.force_login(kacho)
    page = client.get(reverse("meetings:list")).content.decode()
    assert demo.CHOGI_TITLE in page and demo.KANAI_TITLE in page and demo.PAST_TITLE in page
    assert "議事録を公文書として登録する" in client.get(past.get_absolute_url()).content.decode()
    again = demo.load()
    assert again.meetings_created == 0 and Meeting.objects.count() == 3
    assert list(audit_verify()) == []
