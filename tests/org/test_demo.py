"""manage.py demo: the fictional city 瀬戸浜市, loaded the same way every time."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse

from audit.models import AuditEvent
from org.models import Assignment, Department, Deputy, Post, Staff, WorkSchedule
from org.selectors import deputies_of, staff_in_post
from tests.org.factories import StaffFactory

FIXED_LOGINS = {
    # username: (post, department, roles)
    "kacho": ("課長", "財政課", {"manager", "staff"}),
    "bucho": ("部長", "総務部", {"manager", "staff"}),
    "shokuin": ("主事", "財政課", {"staff"}),
    "bunsho": ("係長", "文書係", {"records_officer", "staff"}),
    "jinji": ("主任", "人事課", {"hr", "staff"}),
    "dx": ("主任", "DX推進課", {"dx_office", "staff"}),
}


def run_demo() -> str:
    out = StringIO()
    call_command("demo_org", stdout=out, stderr=StringIO())
    return out.getvalue()


def counts() -> dict[str, int]:
    return {
        model.__name__: model.objects.count()
        for model in (Department, Post, WorkSchedule, Staff, Assignment, Deputy, AuditEvent)
    }


@pytest.mark.django_db
def test_demo_twice_gives_the_same_city() -> None:
    first_output = run_demo()
    first = counts()
    second_output = run_demo()

    assert counts() == first
    assert "no changes" in second_output
    assert AuditEvent.objects.filter(action="org.demo.loaded").count() == 1
    assert 140 <= Staff.objects.filter(is_demo=True).count() <= 180
    assert 25 <= Department.objects.filter(level="ka").count() <= 35
    assert Department.objects.filter(level="bu").count() == 8
    # The table of logins and the password are printed every time.
    for output in (first_output, second_output):
        for username in ["admin", *FIXED_LOGINS]:
            assert f"\n  {username} " in output
        assert "setohama-demo" in output
        assert "DEMO_LOGINS_ENABLED" in output


@pytest.mark.django_db
def test_fixed_logins_sit_where_the_docs_say() -> None:
    run_demo()
    admin = Staff.objects.get(username="admin")
    assert admin.is_superuser and admin.is_staff and admin.is_demo
    assert set(admin.groups.values_list("name", flat=True)) == {"admin"}
    for username, (post, department, roles) in FIXED_LOGINS.items():
        staff = Staff.objects.get(username=username)
        assert staff.is_demo and not staff.is_superuser
        assert (staff.post.name, staff.department.name) == (post, department), username
        assert set(staff.groups.values_list("name", flat=True)) == roles, username
    assert Staff.objects.get(username="bunsho").department.parent.name == "総務課"


@pytest.mark.django_db
def test_every_section_has_a_head_with_deputies() -> None:
    run_demo()
    kacho, bucho = Post.objects.get(code="kacho"), Post.objects.get(code="bucho")
    for section in Department.objects.filter(level="ka"):
        assert section.doc_symbol, section
        [head] = staff_in_post(department=section, post=kacho)
        assert [d.post.code for d in deputies_of(staff=head)] == ["hosa", "kakaricho"], section
    for division in Department.objects.filter(level="bu"):
        assert len(staff_in_post(department=division, post=bucho)) == 1
    assert Staff.objects.filter(assignments__post__code="shicho").count() == 1
    assert Staff.objects.filter(assignments__post__code="fukushicho").count() == 1
    assert Department.objects.get(name="危機管理課").overtime_class == "taritsu"
    assert Department.objects.get(name="下水道課").overtime_class == "art36"
    symbols = list(Department.objects.filter(level="ka").values_list("doc_symbol", flat=True))
    assert len(symbols) == len(set(symbols))


@pytest.mark.django_db
def test_demo_leaves_a_real_admin_account_alone() -> None:
    real = StaffFactory(username="admin", is_superuser=True, is_staff=True)
    password = real.password
    err = StringIO()
    call_command("demo_org", stdout=StringIO(), stderr=err)
    real.refresh_from_db()
    assert not real.is_demo
    assert real.password == password
    assert "admin" in err.getvalue()


def login(client, username: str) -> bool:
    response = client.post(reverse("login"), {"username": username, "password": "setohama-demo"})
    return response.status_code == 302 and "_auth_user_id" in client.session


@pytest.mark.django_db
def test_demo_logins_work_only_while_enabled(client, settings) -> None:
    run_demo()
    settings.DEMO_LOGINS_ENABLED = True
    assert login(client, "kacho")
    client.logout()
    assert login(client, "admin")
    client.logout()

    settings.DEMO_LOGINS_ENABLED = False
    assert not login(client, "kacho")
    assert not login(client, "admin")
