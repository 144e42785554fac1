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


def test_attachments_before_decision_only_by_the_drafter() -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    from approvals.services import attachment_add, document_create, document_submit
    from tests.city import build_city
    from workflow.errors import NotAllowed

    city = build_city()
    document = document_create(actor=city.drafter, title="添付", category=city.buppin, amount=1)
    document_submit(document=document, actor=city.drafter)
    with pytest.raises(NotAllowed, match="起案者だけ"):
        attachment_add(
            document=document,
            actor=city.kakaricho,
            upload=SimpleUploadedFile("memo.txt", b"approver note", content_type="text/plain"),
        )
    added = attachment_add(
        document=document,
        actor=city.drafter,
        upload=SimpleUploadedFile("mitsumori.txt", b"quote", content_type="text/plain"),
    )
    import hashlib

    assert added.sha256 == hashlib.sha256(b"quote").hexdigest() and added.size == 5


def test_demo_account_tokens_refused_when_demo_logins_are_off(settings) -> None:
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    call_command("demo_org", stdout=StringIO(), stderr=StringIO())
    token = Token.objects.create(user=Staff.objects.get(username="kacho"))
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    settings.DEMO_LOGINS_ENABLED = True
    assert api.get("/api/v1/inbox/count/").status_code == 200
    settings.DEMO_LOGINS_ENABLED = False
    refused = api.get("/api/v1/inbox/count/")
    assert refused.status_code in (401, 403) and "認証" in refused.json()["detail"]
