"""Admin for meetings: read-only views of meetings, materials and their versions.

Everything that changes a meeting goes through the meeting pages and `services`, which
check the organiser's rights, lock, grant or remove the per-meeting permissions, render
pages and write the audit trail; the admin never adds, edits or deletes a meeting, a
material or a file. The one write here is for operators: queue the page images of a
version again after a failed rendering (audited).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from audit.services import audit_record
from common.tasks import enqueue_on_commit

from .models import AgendaItem, Material, MaterialVersion, Meeting, Minutes, Participant


class ReadOnly:
    """View only: no add, change or delete, for the admin and its inlines."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ParticipantInline(ReadOnly, admin.TabularInline):
    model = Participant
    extra = 0
    fields = ["staff", "role", "department_name", "invited_via", "added_at"]
    readonly_fields = fields


class AgendaItemInline(ReadOnly, admin.TabularInline):
    model = AgendaItem
    extra = 0
    fields = ["position", "title", "presenter"]
    readonly_fields = fields


class MaterialInline(ReadOnly, admin.TabularInline):
    model = Material
    extra = 0
    fields = ["position", "title", "confidential", "current_version", "revoked_at"]
    readonly_fields = fields
    show_change_link = True


@admin.register(Meeting)
class MeetingAdmin(ReadOnly, admin.ModelAdmin):
    list_display = [
        "title",
        "kind",
        "starts_at",
        "department",
        "organiser",
        "status",
        "confidential",
        "access_until",
    ]
    list_filter = ["status", "kind", "confidential"]
    search_fields = ["title", "place"]
    date_hierarchy = "starts_at"
    list_select_related = ["department", "organiser"]
    inlines = [AgendaItemInline, MaterialInline, ParticipantInline]


class MaterialVersionInline(ReadOnly, admin.TabularInline):
    model = MaterialVersion
    extra = 0
    fields = [
        "number",
        "original_name",
        "page_count",
        "size",
        "sha256",
        "uploaded_by",
        "uploaded_at",
        "render_status",
        "render_done",
        "render_total",
    ]
    readonly_fields = fields
    show_change_link = True


@admin.register(Material)
class MaterialAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ["title", "meeting", "confidential", "current_version", "revoked_at"]
    list_filter = ["confidential"]
    search_fields = ["title", "meeting__title"]
    list_select_related = ["meeting", "current_version__material"]
    inlines = [MaterialVersionInline]


@admin.register(MaterialVersion)
class MaterialVersionAdmin(ReadOnly, admin.ModelAdmin):
    list_display = [
        "__str__",
        "content_type",
        "page_count",
        "size",
        "render_status",
        "render_done",
        "render_total",
        "uploaded_at",
    ]
    list_filter = ["render_status", "content_type"]
    search_fields = ["material__title", "material__meeting__title", "sha256", "original_name"]
    list_select_related = ["material"]
    # The file field is shown as its stored name only: no upload widget, no download link.
    exclude = ["file"]
    readonly_fields = ["stored_name"]
    actions = ["render_again"]

    @admin.display(description=_("保存名"))
    def stored_name(self, obj: MaterialVersion) -> str:
        return obj.file.name

    @admin.action(description=_("ページ画像を作り直す（変換失敗の版）"))
    def render_again(self, request: HttpRequest, queryset: QuerySet[MaterialVersion]) -> None:
        from .tasks import render_version

        failed = queryset.filter(
            render_status=MaterialVersion.RenderStatus.FAILED,
            material__revoked_at__isnull=True,
        ).exclude(material__meeting__status=Meeting.Status.DRAFT)
        count = 0
        for version in failed.select_related("material__meeting"):
            audit_record(
                actor=request.user,
                action="meetings.version.render_requeued",
                target=version.material.meeting,
                data={"version": version.pk, "error": version.render_error},
            )
            enqueue_on_commit(render_version, version.pk)
            count += 1
        messages.info(request, _("%(n)d 件の版のページ画像を作り直します。") % {"n": count})


@admin.register(Minutes)
class MinutesAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ["meeting", "written_by", "written_at", "record"]
    search_fields = ["meeting__title"]
    list_select_related = ["meeting", "written_by", "record"]
    exclude = ["file"]
