"""The admin for org master data: pages answer, and every edit leaves an audit event."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.forms import MultiWidget
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from org.models import Absence, Assignment, Department, Deputy, Post, Staff, WorkSchedule
from tests.org.factories import (
    AbsenceFactory,
    AssignmentFactory,
    DepartmentFactory,
    DeputyFactory,
    PostFactory,
    StaffFactory,
    WorkScheduleFactory,
)

MODELS = [Department, Post, WorkSchedule, Staff, Assignment, Absence, Deputy]


@pytest.fixture
def superuser(db) -> Staff:
    return StaffFactory(username="root", is_superuser=True, is_staff=True)


@pytest.fixture
def admin_client(client, superuser):
    client.force_login(superuser)
    return client


def some_rows(n: int) -> None:
    schedule = WorkScheduleFactory()
    section = DepartmentFactory()
    post = PostFactory()
    for _ in range(n):
        staff = StaffFactory(work_schedule=schedule)
        AssignmentFactory(staff=staff, department=section, post=post)
        AbsenceFactory(
            staff=staff,
            start=timezone.now(),
            end=timezone.now() + dt.timedelta(hours=2),
        )
        DeputyFactory(principal=staff)


def changelist(model: type) -> str:
    return reverse(f"admin:org_{model._meta.model_name}_changelist")


@pytest.mark.django_db
@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_changelist_and_add_pages_answer(admin_client, model) -> None:
    some_rows(3)
    assert admin_client.get(changelist(model)).status_code == 200
    assert admin_client.get(changelist(model), {"q": "山田"}).status_code == 200
    add = reverse(f"admin:org_{model._meta.model_name}_add")
    assert admin_client.get(add).status_code == 200
    obj = model.objects.first()
    change = reverse(f"admin:org_{model._meta.model_name}_change", args=[obj.pk])
    assert admin_client.get(change).status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("model", [Staff, Assignment, Department], ids=lambda m: m.__name__)
def test_changelist_queries_do_not_grow_with_rows(
    admin_client, model, django_assert_max_num_queries
) -> None:
    some_rows(5)
    with django_assert_max_num_queries(12):
        assert admin_client.get(changelist(model)).status_code == 200
    some_rows(50)
    with django_assert_max_num_queries(12):
        assert admin_client.get(changelist(model)).status_code == 200


def form_data(response) -> dict[str, Any]:
    """The POST data an unchanged admin change form would send back."""
    forms = [response.context["adminform"].form]
    for inline in response.context["inline_admin_formsets"]:
        forms += [inline.formset.management_form, *inline.formset.forms]
    data: dict[str, Any] = {}
    for form in forms:
        for name, field in form.fields.items():
            if field.disabled:
                continue
            bound = form[name]
            value = bound.value()
            widget = field.widget
            if isinstance(widget, MultiWidget):
                parts = widget.decompress(value)
                for suffix, part in zip(widget.widgets_names, parts, strict=True):
                    data[bound.html_name + suffix] = "" if part is None else part
            elif isinstance(value, bool):
                if value:
                    data[bound.html_name] = "on"
            elif isinstance(value, list | tuple):
                data[bound.html_name] = [str(v) for v in value]
            else:
                data[bound.html_name] = "" if value is None else value
    return data


@pytest.mark.django_db
def test_department_edit_is_audited_with_old_and_new(admin_client, superuser) -> None:
    section = DepartmentFactory(name="財政課", doc_symbol="財")
    url = reverse("admin:org_department_change", args=[section.pk])
    data = form_data(admin_client.get(url))
    data["name"] = "財政局財政課"

    response = admin_client.post(url, data)

    assert response.status_code == 302
    event = AuditEvent.objects.get(action="org.department.updated")
    assert event.actor_id == superuser.pk
    assert event.data["old"] == {"name": "財政課"}
    assert event.data["new"] == {"name": "財政局財政課"}


@pytest.mark.django_db
def test_post_add_and_delete_are_audited(admin_client) -> None:
    response = admin_client.post(
        reverse("admin:org_post_add"),
        {"code": "sanyo", "name": "参与", "rank": "25", "is_manager": "on"},
    )
    assert response.status_code == 302
    post = Post.objects.get(code="sanyo")
    created = AuditEvent.objects.get(action="org.post.created")
    assert created.data["new"]["name"] == "参与"

    response = admin_client.post(reverse("admin:org_post_delete", args=[post.pk]), {"post": "yes"})
    assert response.status_code == 302
    deleted = AuditEvent.objects.get(action="org.post.deleted")
    assert (deleted.target_id, deleted.data["old"]["code"]) == (str(post.pk), "sanyo")


@pytest.mark.django_db
def test_staff_edit_audits_fields_roles_and_inline_assignment(admin_client) -> None:
    staff = StaffFactory(last_name="山田")
    assignment = AssignmentFactory(staff=staff)
    url = reverse("admin:org_staff_change", args=[staff.pk])
    data = form_data(admin_client.get(url))
    data["last_name"] = "佐藤"
    data["groups"] = [str(Group.objects.get(name="manager").pk)]
    data["assignments-0-end"] = "2027-03-31"

    response = admin_client.post(url, data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    actions = list(
        AuditEvent.objects.filter(target_id__in=[str(staff.pk), str(assignment.pk)])
        .order_by("seq")
        .values_list("action", "data")
    )
    by_action = {}
    for action, payload in actions:
        by_action.setdefault(action, []).append(payload)
    [fields, roles] = by_action["org.staff.updated"]
    assert fields["old"] == {"last_name": "山田"} and fields["new"] == {"last_name": "佐藤"}
    assert roles["new"]["roles"] == ["manager"]
    [inline] = by_action["org.assignment.updated"]
    assert inline["old"] == {"end": None} and inline["new"] == {"end": "2027-03-31"}
    # No credentials in the trail, ever.
    assert all("password" not in str(payload) for _a, payload in actions)


@pytest.mark.django_db
def test_password_change_in_admin_is_audited_without_the_hash(admin_client) -> None:
    staff = StaffFactory()
    # UserAdmin names this URL auth_user_password_change whatever the user model is.
    url = reverse("admin:auth_user_password_change", args=[staff.pk])
    assert url.startswith("/admin/org/staff/")
    response = admin_client.post(
        url,
        {
            "password1": "a-long-new-passphrase",
            "password2": "a-long-new-passphrase",
            "usable_password": "true",
        },
    )
    assert response.status_code == 302
    event = AuditEvent.objects.get(action="org.staff.password_set")
    assert event.data == {"usable": True, "via": "admin"}
