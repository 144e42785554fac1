"""Admin for attendance master data: leave rules and types, the calendar, the policy.

Rules, types, the policy and 出勤簿 marks are edited here and every save is audited (the
org admin's mixin). A calendar day set here becomes an HR override through
`calendar_day_set`, so a refill keeps it. What the services write — the append-only
ledger, requests, orders, reviews, corrections and month closes — is read-only here.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from org.admin import AuditedAdminMixin

from .calendar import calendar_day_set
from .models import (
    AttendancePolicy,
    CalendarDay,
    Correction,
    DayMark,
    FirstYearGrant,
    LeaveLedgerEntry,
    LeaveRequest,
    LeaveRules,
    LeaveType,
    MonthClose,
    OvertimeOrder,
    OvertimeReview,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Lists and detail pages only: these rows change through their services."""

    show_full_result_count = False

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class FirstYearGrantInline(admin.TabularInline):
    model = FirstYearGrant
    extra = 0
    ordering = ["hire_month"]


@admin.register(LeaveRules)
class LeaveRulesAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = [
        "employee_class",
        "year_basis",
        "annual_grant_days",
        "carry_over_cap_days",
        "hourly_cap_days",
        "truncate_carry_over_fraction",
        "default_daily_minutes",
    ]
    inlines = [FirstYearGrantInline]


@admin.register(LeaveType)
class LeaveTypeAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = [
        "name",
        "code",
        "paid",
        "allow_day",
        "allow_half_day",
        "allow_hour",
        "allow_quarter_hour",
        "counting",
        "annual_limit_days",
        "from_ledger",
        "roll_code",
        "sort_order",
        "is_active",
    ]
    list_filter = ["paid", "counting", "from_ledger", "is_active"]
    search_fields = ["code", "name"]
    ordering = ["sort_order", "code"]


@admin.register(CalendarDay)
class CalendarDayAdmin(admin.ModelAdmin):
    """Setting a day here makes it an HR override (人事課による設定), kept across refills."""

    list_display = ["date", "kind", "name", "source"]
    list_filter = ["kind", "source"]
    search_fields = ["name"]
    date_hierarchy = "date"
    fields = ["date", "kind", "name", "source"]
    readonly_fields = ["source"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        # The date is the row's identity: change another day by opening that day.
        return ["date", "source"] if obj is not None else ["source"]

    def save_model(self, request: HttpRequest, obj: CalendarDay, form: Any, change: bool) -> None:
        saved = calendar_day_set(day=obj.date, kind=obj.kind, name=obj.name, actor=request.user)
        obj.pk, obj.source = saved.pk, saved.source

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(AttendancePolicy)
class AttendancePolicyAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = [
        "valid_from",
        "hr_department",
        "normal_monthly_cap_minutes",
        "outside_monthly_limit_minutes",
        "warning_ratio_percent",
    ]
    autocomplete_fields = ["hr_department"]
    list_select_related = ["hr_department"]
    fieldsets = (
        (None, {"fields": ("valid_from", "hr_department")}),
        (
            _("超過勤務手当の支給割合"),
            {
                "fields": (
                    ("rate_workday", "rate_workday_night"),
                    ("rate_rest_day", "rate_rest_day_night"),
                    ("rate_over_60", "rate_over_60_night"),
                    "rate_holiday_pay",
                    "over_60_threshold_minutes",
                )
            },
        ),
        (
            _("上限"),
            {
                "fields": (
                    ("normal_monthly_cap_minutes", "normal_yearly_cap_minutes"),
                    ("outside_monthly_limit_minutes", "outside_yearly_cap_minutes"),
                    "outside_average_cap_minutes",
                    ("outside_over_45_threshold_minutes", "outside_over_45_max_months"),
                    "warning_ratio_percent",
                )
            },
        ),
        (
            _("健康確保と検証"),
            {
                "fields": (
                    ("doctor_monthly_minutes", "doctor_average_minutes"),
                    "rest_interval_minutes",
                    "review_months_after_year",
                )
            },
        ),
    )


@admin.register(DayMark)
class DayMarkAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ["date", "staff", "code", "note", "correction", "created_by"]
    list_filter = ["code", "correction"]
    search_fields = ["staff__employee_number", "staff__last_name", "staff__family_name_kana"]
    autocomplete_fields = ["staff"]
    list_select_related = ["staff", "created_by"]
    date_hierarchy = "date"
    fields = ["staff", "date", "code", "note", "correction", "created_by", "created_at"]
    readonly_fields = ["created_by", "created_at"]

    def save_model(self, request: HttpRequest, obj: DayMark, form: Any, change: bool) -> None:
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)


@admin.register(MonthClose)
class MonthCloseAdmin(ReadOnlyAdmin):
    """Months are closed from the HR page (月次締め), which checks nothing is undecided."""

    list_display = ["month", "closed_at", "closed_by"]
    list_select_related = ["closed_by"]


@admin.register(LeaveLedgerEntry)
class LeaveLedgerEntryAdmin(ReadOnlyAdmin):
    """Append-only: a mistake is reversed with a new entry by the services, never edited."""

    list_display = ["created_at", "staff", "leave_year", "kind", "unit", "minutes", "reference"]
    list_filter = ["kind", "unit", "leave_year"]
    search_fields = ["staff__employee_number", "staff__last_name", "reference"]
    list_select_related = ["staff"]


@admin.register(LeaveRequest)
class LeaveRequestAdmin(ReadOnlyAdmin):
    list_display = ["start_date", "staff", "leave_type", "unit", "minutes", "status", "department"]
    list_filter = ["status", "unit", "leave_type", "correction"]
    search_fields = ["staff__employee_number", "staff__last_name", "reason"]
    list_select_related = ["staff", "leave_type", "department"]
    date_hierarchy = "start_date"


@admin.register(OvertimeOrder)
class OvertimeOrderAdmin(ReadOnlyAdmin):
    list_display = [
        "work_date",
        "staff",
        "task",
        "planned_minutes",
        "actual_minutes",
        "status",
        "special",
        "department",
    ]
    list_filter = ["status", "special", "after_the_fact", "correction", "doctor_interview"]
    search_fields = ["staff__employee_number", "staff__last_name", "task"]
    list_select_related = ["staff", "department"]
    date_hierarchy = "work_date"


@admin.register(OvertimeReview)
class OvertimeReviewAdmin(ReadOnlyAdmin):
    list_display = ["order", "fiscal_year", "due_on", "status", "completed_at"]
    list_filter = ["status", "fiscal_year"]
    list_select_related = ["order", "order__staff"]


@admin.register(Correction)
class CorrectionAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "kind", "staff", "month", "status", "department"]
    list_filter = ["kind", "status"]
    search_fields = ["staff__employee_number", "staff__last_name", "reason"]
    list_select_related = ["staff", "department"]
