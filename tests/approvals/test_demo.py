"""`manage.py demo` loads the whole demo city, through the real services, idempotently."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from approvals.models import AuthorityTable, Document
from audit.services import audit_verify
from org.models import Staff
from workflow.models import Route
from workflow.selectors import inbox_count

pytestmark = pytest.mark.django_db


def test_demo_loads_documents_in_every_state_once() -> None:
    out = StringIO()
    call_command("demo", stdout=out, stderr=StringIO())
    assert "setohama-demo" in out.getvalue()
    assert AuthorityTable.objects.count() == 1
    assert Document.objects.count() == 30
    states = set(Document.objects.values_list("status", flat=True))
    assert states >= {"draft", "in_review", "returned", "withdrawn", "rejected", "decided"}
    # The demo manager has work waiting on the tablet.
    assert inbox_count(staff=Staff.objects.get(username="kacho")) >= 3
    numbers = list(Document.objects.exclude(number="").values_list("number", flat=True))
    assert len(numbers) == len(set(numbers)) >= 6
    routes = Route.objects.count()
    call_command("demo", stdout=StringIO(), stderr=StringIO())
    assert Document.objects.count() == 30 and Route.objects.count() == routes
    assert list(audit_verify()) == []
