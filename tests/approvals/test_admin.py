"""The authority table in the admin: versions in force are read-only; changes are new
versions made by copying, editable until they apply; every save is audited."""

from __future__ import annotations

import pytest

from approvals.models import AuthorityTable
from audit.models import AuditEvent
from common.dates import today
from tests.city import build_city

pytestmark = pytest.mark.django_db


def test_authority_table_admin(admin_client) -> None:
    build_city()
    current = AuthorityTable.objects.get()
    assert admin_client.get("/admin/approvals/authoritytable/").status_code == 200
    page = admin_client.get(f"/admin/approvals/authoritytable/{current.pk}/change/")
    assert page.status_code == 200 and b'name="_save"' not in page.content  # in force
    response = admin_client.post(
        "/admin/approvals/authoritytable/",
        {"action": "copy_as_new_version", "_selected_action": [current.pk]},
    )
    assert response.status_code == 302
    copy = AuthorityTable.objects.exclude(pk=current.pk).get()
    assert copy.version == current.version + 1 and copy.effective_from > today()
    assert copy.rules.count() == current.rules.count()
    editable = admin_client.get(f"/admin/approvals/authoritytable/{copy.pk}/change/")
    assert b'name="_save"' in editable.content
    assert AuditEvent.objects.filter(
        action="approvals.authority_table.created", target_id=str(copy.pk)
    ).exists()
    for url in ("/admin/approvals/mattercategory/", "/admin/approvals/document/"):
        assert admin_client.get(url).status_code == 200
