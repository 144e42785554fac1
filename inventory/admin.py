from django.contrib import admin

from .models import (
    BusinessProcess,
    PaperDecisionCount,
    PriorityDecision,
    PriorityWeights,
    Procedure,
    ProcedureVolume,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Inventory rows change through the pages (audited services), not the admin."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Procedure)
class ProcedureAdmin(ReadOnlyAdmin):
    list_display = ["procedure_id", "name", "department", "online_status"]
    list_filter = ["online_status", "on_childcare_care_list", "on_priority_list"]
    search_fields = ["procedure_id", "name"]


@admin.register(ProcedureVolume)
class ProcedureVolumeAdmin(ReadOnlyAdmin):
    list_display = ["procedure", "fiscal_year", "total", "online", "offline"]


@admin.register(BusinessProcess)
class BusinessProcessAdmin(ReadOnlyAdmin):
    list_display = ["number", "name", "department"]


@admin.register(PriorityWeights)
class PriorityWeightsAdmin(ReadOnlyAdmin):
    list_display = ["valid_from", "note", "expected_online_share"]


@admin.register(PriorityDecision)
class PriorityDecisionAdmin(ReadOnlyAdmin):
    list_display = ["procedure", "fiscal_year", "rank", "status", "decided_by"]


@admin.register(PaperDecisionCount)
class PaperDecisionCountAdmin(ReadOnlyAdmin):
    list_display = ["department", "fiscal_year", "count"]
