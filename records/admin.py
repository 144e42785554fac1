from django.contrib import admin

from .models import (
    Classification,
    ClassificationSchedule,
    Hold,
    Record,
    RecordFile,
    RecordVersion,
)


class RecordVersionInline(admin.TabularInline):
    model = RecordVersion
    extra = 0
    can_delete = False
    readonly_fields = ["reason", "file", "sha256", "size", "created_at", "timestamp_expires_at"]

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Record)
class RecordAdmin(admin.ModelAdmin):
    """Read-only: records change only through their services (signing, renewal)."""

    list_display = ["number", "title", "department", "status", "level", "signed_at", "flagged_at"]
    list_filter = ["status", "level", "archival_grade", "demo_pki"]
    search_fields = ["number", "title", "sha256"]
    list_select_related = ["department"]
    inlines = [RecordVersionInline]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in Record._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(RecordFile)
class RecordFileAdmin(admin.ModelAdmin):
    """Read-only: files change only through records.files (audited); never deleted here."""

    list_display = [
        "fiscal_year",
        "name",
        "department",
        "classification",
        "retention",
        "status",
        "period_end",
    ]
    list_filter = ["status", "retention", "disposition", "fiscal_year"]
    search_fields = ["name", "classification__code", "classification__name"]
    list_select_related = ["department", "classification"]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in RecordFile._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Hold)
class HoldAdmin(admin.ModelAdmin):
    list_display = ["kind", "reference", "started_on", "decided_on", "ended_on", "keeps_until"]
    list_filter = ["kind"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class ClassificationInline(admin.TabularInline):
    model = Classification
    extra = 0
    can_delete = False
    fields = ["code", "name", "level", "retention", "disposition", "department"]
    readonly_fields = fields
    show_change_link = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(ClassificationSchedule)
class ClassificationScheduleAdmin(admin.ModelAdmin):
    """Read-only: a new version is loaded with `manage.py schedule --load` (docs/records.md)."""

    list_display = ["version", "effective_from", "note", "created_by", "created_at"]
    inlines = [ClassificationInline]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in ClassificationSchedule._meta.fields]

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
