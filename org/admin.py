"""The Django admin for master data: departments, posts, schedules, staff and where they sit.

Every save and delete here writes an audit event with the old and new values in the same
transaction as the change (the admin wraps each change view in a transaction already;
the explicit `atomic()` keeps the rule true for bulk deletes and any other caller).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.contrib.auth.admin import UserAdmin
from django.db import models, transaction
from django.db.models import OuterRef, QuerySet, Subquery
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext_lazy as _

from audit.services import audit_record
from common.dates import today

from .models import Absence, Assignment, Department, Deputy, Post, Staff, WorkSchedule

# Never copy credentials into the audit log; last_login changes on every login.
_NOT_AUDITED = frozenset({"password", "last_login"})


def _snapshot(obj: models.Model) -> dict[str, Any]:
    """Concrete field values as stored (foreign keys as ids)."""
    return {
        f.attname: f.value_from_object(obj)
        for f in obj._meta.concrete_fields
        if f.name not in _NOT_AUDITED
    }


def _action(obj: models.Model, verb: str) -> str:
    # The model's own app: the mixin is shared by other apps' master-data admins.
    return f"{obj._meta.app_label}.{obj._meta.model_name}.{verb}"


def _diff(old: dict[str, Any], new: dict[str, Any]) -> dict[str, dict[str, Any]]:
    keys = [k for k in new if new[k] != old.get(k)]
    return {"old": {k: old.get(k) for k in keys}, "new": {k: new[k] for k in keys}}


class AuditedAdminMixin:
    """Audit every admin save/delete of the model and of its inlines."""

    def save_model(self, request: HttpRequest, obj: models.Model, form: Any, change: bool) -> None:
        with transaction.atomic():
            old = None
            if change and obj.pk is not None:
                # The form has already changed `obj` in memory: read the stored row.
                stored = type(obj)._default_manager.select_for_update().filter(pk=obj.pk).first()
                old = _snapshot(stored) if stored is not None else None
            super().save_model(request, obj, form, change)  # type: ignore[misc]
            new = _snapshot(obj)
            if old is None:
                audit_record(
                    actor=request.user,
                    action=_action(obj, "created"),
                    target=obj,
                    data={"new": new, "via": "admin"},
                )
            elif (diff := _diff(old, new))["new"]:
                audit_record(
                    actor=request.user,
                    action=_action(obj, "updated"),
                    target=obj,
                    data={**diff, "via": "admin"},
                )

    def delete_model(self, request: HttpRequest, obj: models.Model) -> None:
        with transaction.atomic():
            audit_record(
                actor=request.user,
                action=_action(obj, "deleted"),
                target=obj,
                data={"old": _snapshot(obj), "via": "admin"},
            )
            super().delete_model(request, obj)  # type: ignore[misc]

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        with transaction.atomic():
            for obj in queryset:
                audit_record(
                    actor=request.user,
                    action=_action(obj, "deleted"),
                    target=obj,
                    data={"old": _snapshot(obj), "via": "admin"},
                )
            super().delete_queryset(request, queryset)  # type: ignore[misc]

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        with transaction.atomic():
            model = formset.model
            pks = [f.instance.pk for f in formset.initial_forms if f.instance.pk is not None]
            before = {o.pk: _snapshot(o) for o in model._default_manager.filter(pk__in=pks)}
            for deleted in formset.deleted_forms:
                obj = deleted.instance
                if obj.pk in before:
                    # Recorded before the delete, while the row still has its id.
                    audit_record(
                        actor=request.user,
                        action=_action(obj, "deleted"),
                        target=obj,
                        data={"old": before[obj.pk], "via": "admin"},
                    )
            super().save_formset(request, form, formset, change)  # type: ignore[misc]
            for obj in formset.new_objects:
                audit_record(
                    actor=request.user,
                    action=_action(obj, "created"),
                    target=obj,
                    data={"new": _snapshot(obj), "via": "admin"},
                )
            for obj, _fields in formset.changed_objects:
                diff = _diff(before.get(obj.pk, {}), _snapshot(obj))
                if diff["new"]:
                    audit_record(
                        actor=request.user,
                        action=_action(obj, "updated"),
                        target=obj,
                        data={**diff, "via": "admin"},
                    )


_DEPTH = {Department.Level.BU: 0, Department.Level.KA: 1, Department.Level.KAKARI: 2}


@admin.register(Department)
class DepartmentAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = [
        "tree_name",
        "code",
        "level",
        "parent",
        "doc_symbol",
        "overtime_class",
        "sort_order",
        "is_active",
    ]
    list_display_links = ["tree_name", "code"]
    list_filter = [
        "level",
        "overtime_class",
        "is_active",
        ("parent", admin.RelatedOnlyFieldListFilter),
    ]
    search_fields = ["code", "name", "name_kana", "doc_symbol"]
    list_select_related = ["parent"]
    autocomplete_fields = ["parent"]
    # Sorted by 表示順 then code: the demo and most rosters number the tree top-down,
    # so 部, its 課 and their 係 follow each other and the indent shows the tree.
    ordering = ["sort_order", "code"]

    @admin.display(description=_("名称"), ordering="name")
    def tree_name(self, obj: Department) -> str:
        indent = "\u3000\u3000" * _DEPTH.get(obj.level, 0)
        marker = "└ " if obj.parent_id else ""
        return f"{indent}{marker}{obj.name}"


@admin.register(Post)
class PostAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ["name", "code", "rank", "is_manager"]
    list_filter = ["is_manager"]
    search_fields = ["code", "name"]
    ordering = ["rank", "code"]


@admin.register(WorkSchedule)
class WorkScheduleAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = [
        "name",
        "code",
        "start",
        "end",
        "break_start",
        "break_end",
        "days_per_week",
        "daily_minutes",
    ]
    search_fields = ["code", "name"]

    @admin.display(description=_("1日の勤務時間（分）"))
    def daily_minutes(self, obj: WorkSchedule) -> int:
        return obj.daily_minutes


class AssignmentInline(admin.TabularInline):
    model = Assignment
    fk_name = "staff"
    extra = 0
    fields = ["department", "post", "start", "end", "is_primary", "note"]
    autocomplete_fields = ["department", "post"]
    ordering = ["-start"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Assignment]:
        return super().get_queryset(request).select_related("department", "post")


@admin.register(Staff)
class StaffAdmin(AuditedAdminMixin, UserAdmin):
    list_display = [
        "employee_number",
        "username",
        "display_name",
        "kana",
        "current_department",
        "current_post",
        "employee_class",
        "is_active",
        "is_demo",
    ]
    list_display_links = ["employee_number", "username"]
    list_filter = ["employee_class", "is_active", "is_demo", "is_staff", "groups", "work_schedule"]
    search_fields = [
        "employee_number",
        "username",
        "last_name",
        "first_name",
        "family_name_kana",
        "given_name_kana",
        "email",
    ]
    ordering = ["employee_number", "username"]
    list_select_related = ["work_schedule"]
    # Read-only: the split date/time widget drops microseconds, so an untouched form
    # would rewrite date_joined (and log a change nobody made) on every save.
    readonly_fields = ["last_login", "date_joined"]
    inlines = [AssignmentInline]
    fieldsets = (
        (None, {"fields": ("username", "password")}),
        (
            _("氏名・連絡先"),
            {
                "fields": (
                    "employee_number",
                    ("last_name", "first_name"),
                    ("family_name_kana", "given_name_kana"),
                    "email",
                )
            },
        ),
        (_("任用・勤務"), {"fields": ("employee_class", "work_schedule", "hired_on", "is_demo")}),
        (
            _("権限"),
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        (_("日時"), {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": (
                    "username",
                    "employee_number",
                    "last_name",
                    "first_name",
                    "usable_password",
                    "password1",
                    "password2",
                ),
            },
        ),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Staff]:
        # Where a person sits is an Assignment on a day: annotate today's primary one so
        # the list costs the same number of queries for 10 or 10,000 staff.
        current = (
            Assignment.objects.effective_on(today())
            .filter(staff=OuterRef("pk"), is_primary=True)
            .order_by("-start")
        )
        return (
            super()
            .get_queryset(request)
            .annotate(
                current_department_name=Subquery(current.values("department__name")[:1]),
                current_post_name=Subquery(current.values("post__name")[:1]),
            )
        )

    @admin.display(description=_("氏名"), ordering="last_name")
    def display_name(self, obj: Staff) -> str:
        return obj.display_name

    @admin.display(description=_("かな"), ordering="family_name_kana")
    def kana(self, obj: Staff) -> str:
        return f"{obj.family_name_kana} {obj.given_name_kana}".strip()

    @admin.display(description=_("現在の所属"), ordering="current_department_name")
    def current_department(self, obj: Staff) -> str:
        return getattr(obj, "current_department_name", None) or "—"

    @admin.display(description=_("現在の職"), ordering="current_post_name")
    def current_post(self, obj: Staff) -> str:
        return getattr(obj, "current_post_name", None) or "—"

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        staff = form.instance
        with transaction.atomic():
            before = self._access(staff) if change else {"roles": [], "permissions": []}
            super().save_related(request, form, formsets, change)
            after = self._access(staff)
            if after != before:
                audit_record(
                    actor=request.user,
                    action="org.staff.updated",
                    target=staff,
                    data={**_diff(before, after), "via": "admin"},
                )

    @staticmethod
    def _access(staff: Staff) -> dict[str, list[str]]:
        return {
            "roles": sorted(staff.groups.values_list("name", flat=True)),
            "permissions": sorted(staff.user_permissions.values_list("codename", flat=True)),
        }

    def user_change_password(
        self, request: HttpRequest, id: str, form_url: str = ""
    ) -> HttpResponse:
        # The password view saves through its own form, not save_model: audit it here,
        # recording only that it changed (never the hash).
        with transaction.atomic():
            before = Staff.objects.filter(pk=unquote(id)).values_list("password", flat=True).first()
            response = super().user_change_password(request, id, form_url)
            user = Staff.objects.filter(pk=unquote(id)).first()
            if user is not None and user.password != before:
                audit_record(
                    actor=request.user,
                    action="org.staff.password_set",
                    target=user,
                    data={"usable": user.has_usable_password(), "via": "admin"},
                )
        return response


@admin.register(Assignment)
class AssignmentAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ["staff", "department", "post", "start", "end", "is_primary"]
    list_filter = ["is_primary", "post", ("department", admin.RelatedOnlyFieldListFilter)]
    search_fields = [
        "staff__employee_number",
        "staff__last_name",
        "staff__first_name",
        "staff__family_name_kana",
        "staff__given_name_kana",
        "department__name",
        "department__code",
    ]
    autocomplete_fields = ["staff", "department", "post"]
    list_select_related = ["staff", "department", "post"]
    date_hierarchy = "start"


@admin.register(Absence)
class AbsenceAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ["staff", "reason", "start", "end", "note"]
    list_filter = ["reason"]
    search_fields = ["staff__employee_number", "staff__last_name", "staff__family_name_kana"]
    autocomplete_fields = ["staff"]
    list_select_related = ["staff"]
    date_hierarchy = "start"


@admin.register(Deputy)
class DeputyAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ["principal", "order", "deputy", "start", "end"]
    search_fields = [
        "principal__employee_number",
        "principal__last_name",
        "deputy__employee_number",
        "deputy__last_name",
    ]
    autocomplete_fields = ["principal", "deputy"]
    list_select_related = ["principal", "deputy"]
