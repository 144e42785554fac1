"""Admin for the 事務決裁規程 (authority table) and matter categories.

A version in force (or past) is history: read-only. A change is a new version with the
date it applies from — made here by copying the current one ("複製して新しい版") and
editing the copy before that date comes. Every save is audited.
"""

from __future__ import annotations

import datetime as dt

from django import forms
from django.contrib import admin, messages
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from audit.services import audit_record
from common.dates import today

from .models import (
    AuthorityLevel,
    AuthorityRule,
    AuthorityTable,
    Document,
    MatterCategory,
)
from .services import authority_table_copy


class _FutureOnly:
    """Inline/admin mixin: editable only while the version has not come into force."""

    def _editable(self, obj) -> bool:
        table = obj if isinstance(obj, AuthorityTable) else getattr(obj, "table", None)
        return table is None or table.effective_from > today()

    def has_change_permission(self, request, obj=None) -> bool:
        return super().has_change_permission(request, obj) and self._editable(obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return super().has_delete_permission(request, obj) and self._editable(obj)

    def has_add_permission(self, request, obj=None) -> bool:
        if obj is None:
            return super().has_add_permission(request)
        return super().has_add_permission(request, obj) and self._editable(obj)


class AuthorityLevelInline(_FutureOnly, admin.TabularInline):
    model = AuthorityLevel
    extra = 0
    autocomplete_fields = ["post"]


class AuthorityRuleInline(_FutureOnly, admin.TabularInline):
    model = AuthorityRule
    extra = 0
    autocomplete_fields = ["category", "decider"]
    filter_horizontal = ["consult_departments"]


class AuthorityTableForm(forms.ModelForm):
    class Meta:
        model = AuthorityTable
        fields = ["effective_from", "note"]

    def clean_effective_from(self) -> dt.date:
        value = self.cleaned_data["effective_from"]
        if value <= today():
            raise forms.ValidationError(
                _("施行日は明日以降にしてください（施行済の版は変更できません）。")
            )
        return value


@admin.register(AuthorityTable)
class AuthorityTableAdmin(_FutureOnly, admin.ModelAdmin):
    list_display = ["version", "effective_from", "note", "created_by", "created_at", "in_force"]
    readonly_fields = ["version", "created_by", "created_at"]
    fields = ["version", "effective_from", "note", "created_by", "created_at"]
    inlines = [AuthorityLevelInline, AuthorityRuleInline]
    actions = ["copy_as_new_version"]

    @admin.display(description=_("施行中"), boolean=True)
    def in_force(self, obj: AuthorityTable) -> bool:
        current = AuthorityTable.objects.in_force()
        return current is not None and current.pk == obj.pk

    form = AuthorityTableForm

    def save_model(self, request, obj: AuthorityTable, form, change: bool) -> None:
        with transaction.atomic():
            if not change:
                last = AuthorityTable.objects.select_for_update().order_by("-version").first()
                obj.version = (last.version + 1) if last else 1
                obj.created_by = request.user
                obj.created_at = timezone.now()
            old = {}
            if change:
                before = AuthorityTable.objects.get(pk=obj.pk)
                old = {"effective_from": before.effective_from, "note": before.note}
            obj.save()
            audit_record(
                actor=request.user,
                action="approvals.authority_table." + ("changed" if change else "created"),
                target=obj,
                data={"old": old, "new": {"effective_from": obj.effective_from, "note": obj.note}},
            )

    def save_formset(self, request, form, formset, change: bool) -> None:
        with transaction.atomic():
            instances = formset.save()
            formset.save_m2m()
            changed = [str(i) for i in instances] + [str(o) for o in formset.deleted_objects]
            if changed:
                audit_record(
                    actor=request.user,
                    action="approvals.authority_table.rules_changed",
                    target=form.instance,
                    data={"changed": changed},
                )

    def delete_model(self, request, obj: AuthorityTable) -> None:
        with transaction.atomic():
            audit_record(
                actor=request.user,
                action="approvals.authority_table.deleted",
                target=obj,
                data={"version": obj.version, "effective_from": obj.effective_from},
            )
            obj.delete()

    @admin.action(description=_("複製して新しい版を作る（明日施行、施行前に編集できます）"))
    def copy_as_new_version(self, request, queryset) -> None:
        for table in queryset:
            start = max(today() + dt.timedelta(days=1), table.effective_from + dt.timedelta(days=1))
            if AuthorityTable.objects.filter(effective_from=start).exists():
                messages.error(request, _("その施行日の版が既にあります: %s") % start)
                continue
            copy = authority_table_copy(table=table, actor=request.user, effective_from=start)
            messages.success(
                request, _("第%(v)s版を作りました（%(d)s 施行）") % {"v": copy.version, "d": start}
            )


@admin.register(MatterCategory)
class MatterCategoryAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "sort_order"]
    search_fields = ["code", "name"]

    def save_model(self, request, obj, form, change: bool) -> None:
        with transaction.atomic():
            old = {}
            if change:
                before = MatterCategory.objects.get(pk=obj.pk)
                old = {"code": before.code, "name": before.name}
            obj.save()
            audit_record(
                actor=request.user,
                action="approvals.category." + ("changed" if change else "created"),
                target=obj,
                data={"old": old, "new": {"code": obj.code, "name": obj.name}},
            )


@admin.register(Document)
class DocumentAdmin(admin.ModelAdmin):
    """Read-only in the admin: documents change through their pages and services."""

    list_display = ["number", "title", "status", "department", "drafter", "decided_at"]
    list_filter = ["status", "category"]
    search_fields = ["number", "title"]
    list_select_related = ["department", "drafter"]
    show_full_result_count = False

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in Document._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
