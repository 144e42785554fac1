from django.contrib import admin

from .models import Record, RecordVersion


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

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
