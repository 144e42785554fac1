"""Attendance data: the calendar, leave rules and types as data, and the annual-leave ledger.

Every number a city may change (grant days, carry-over cap, hourly cap, first-year
proration) lives in rows here, not in code; the national defaults come from
fixtures/attendance/*.json (see `attendance.loader`). Durations are minutes.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from org.models import Staff


class CalendarDay(models.Model):
    """One day of the city calendar: package holidays + 年末年始 + weekends + HR overrides.

    週休日 (rest) and 休日 (holiday) stay distinct: a 休日 has regular hours from which staff
    are excused (休日給 135/100), a 週休日 has none. A national holiday on a Saturday or
    Sunday has no regular hours, so it is kept as a 週休日 with the holiday's name.
    """

    class Kind(models.TextChoices):
        WORKDAY = "workday", _("勤務日")
        REST = "rest", _("週休日")
        HOLIDAY = "holiday", _("休日")

    class Source(models.TextChoices):
        WEEKDAY = "weekday", _("曜日")
        PACKAGE = "package", _("祝日法（jpholiday）")
        YEAR_END = "year_end", _("年末年始")
        OVERRIDE = "override", _("人事課による設定")

    date = models.DateField(_("日付"), unique=True)
    kind = models.CharField(_("区分"), max_length=10, choices=Kind.choices)
    name = models.CharField(_("名称"), max_length=100, blank=True)
    source = models.CharField(_("根拠"), max_length=10, choices=Source.choices)

    class Meta:
        verbose_name = _("勤務カレンダー")
        verbose_name_plural = _("勤務カレンダー")
        ordering = ["date"]

    def __str__(self) -> str:
        return f"{self.date} {self.get_kind_display()} {self.name}".strip()


class LeaveRules(models.Model):
    """Annual-leave rules for one employee class (任用区分)."""

    class YearBasis(models.TextChoices):
        CALENDAR = "calendar", _("暦年（1月〜12月）")
        FISCAL = "fiscal", _("年度（4月〜3月）")

    employee_class = models.CharField(
        _("任用区分"), max_length=20, choices=Staff.EmployeeClass.choices, unique=True
    )
    year_basis = models.CharField(_("休暇年"), max_length=10, choices=YearBasis.choices)
    annual_grant_days = models.PositiveSmallIntegerField(_("年間付与日数"))
    carry_over_cap_days = models.PositiveSmallIntegerField(_("繰越上限日数"))
    hourly_cap_days = models.PositiveSmallIntegerField(
        _("時間単位の上限日数"), null=True, blank=True, help_text=_("空欄なら上限なし")
    )
    truncate_carry_over_fraction = models.BooleanField(
        _("繰越時に1日未満を切り捨てる"),
        default=False,
        help_text=_("既定は時間も繰り越す（切り捨ては労基法上の議論あり）"),
    )
    default_daily_minutes = models.PositiveSmallIntegerField(
        _("1日の勤務時間（分）"),
        default=465,
        help_text=_("勤務形態が未設定の職員に使う（7時間45分 = 465分）"),
    )

    class Meta:
        verbose_name = _("年次休暇の規則")
        verbose_name_plural = _("年次休暇の規則")
        ordering = ["employee_class"]

    def __str__(self) -> str:
        return str(self.get_employee_class_display())


class FirstYearGrant(models.Model):
    """Days granted in the first leave year to someone hired in `hire_month`."""

    rules = models.ForeignKey(
        LeaveRules,
        verbose_name=_("規則"),
        on_delete=models.CASCADE,
        related_name="first_year_grants",
    )
    hire_month = models.PositiveSmallIntegerField(_("採用月"))
    days = models.PositiveSmallIntegerField(_("付与日数"))

    class Meta:
        verbose_name = _("採用年の付与日数")
        verbose_name_plural = _("採用年の付与日数")
        ordering = ["rules", "hire_month"]
        constraints = [
            models.UniqueConstraint(
                fields=["rules", "hire_month"], name="attendance_first_year_grant_unique"
            ),
            models.CheckConstraint(
                condition=Q(hire_month__gte=1, hire_month__lte=12),
                name="attendance_first_year_grant_month",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.rules} {self.hire_month}月採用 {self.days}日"


class LeaveType(models.Model):
    """A kind of leave (休暇の種類) as data."""

    class Counting(models.TextChoices):
        WORKING_DAYS = "working", _("勤務日のみ数える")
        CALENDAR_DAYS = "calendar", _("暦日で数える（週休日・休日を含む）")

    code = models.CharField(_("コード"), max_length=30, unique=True)
    name = models.CharField(_("名称"), max_length=50)
    paid = models.BooleanField(_("有給"), default=True)
    allow_day = models.BooleanField(_("1日単位"), default=True)
    allow_half_day = models.BooleanField(_("半日単位"), default=False)
    allow_hour = models.BooleanField(_("1時間単位"), default=False)
    allow_quarter_hour = models.BooleanField(_("15分単位"), default=False)
    counting = models.CharField(
        _("日数の数え方"), max_length=10, choices=Counting.choices, default=Counting.WORKING_DAYS
    )
    annual_limit_days = models.PositiveSmallIntegerField(
        _("年間上限日数"), null=True, blank=True, help_text=_("空欄なら上限なし")
    )
    occasion_limit_days = models.PositiveSmallIntegerField(
        _("1回の上限日数"), null=True, blank=True
    )
    window_start_month = models.PositiveSmallIntegerField(
        _("取得期間（開始月）"), null=True, blank=True
    )
    window_end_month = models.PositiveSmallIntegerField(
        _("取得期間（終了月）"), null=True, blank=True
    )
    from_ledger = models.BooleanField(
        _("残日数を台帳で管理"), default=False, help_text=_("年次休暇のみ")
    )
    evidence_required = models.BooleanField(_("証明書類が必要"), default=False)
    evidence_note = models.CharField(_("証明書類"), max_length=200, blank=True)
    approver_note = models.CharField(_("承認者"), max_length=200, blank=True)
    note = models.CharField(_("備考"), max_length=300, blank=True)
    sort_order = models.PositiveSmallIntegerField(_("表示順"), default=0)
    is_active = models.BooleanField(_("有効"), default=True)

    class Meta:
        verbose_name = _("休暇の種類")
        verbose_name_plural = _("休暇の種類")
        ordering = ["sort_order", "code"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(window_start_month__isnull=True, window_end_month__isnull=True)
                    | Q(
                        window_start_month__gte=1,
                        window_start_month__lte=12,
                        window_end_month__gte=1,
                        window_end_month__lte=12,
                    )
                ),
                name="attendance_leave_type_window",
            )
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def counts_calendar_days(self) -> bool:
        return self.counting == self.Counting.CALENDAR_DAYS


class LedgerImmutableError(Exception):
    """Raised when code tries to change or remove a ledger entry."""

    def __init__(self) -> None:
        super().__init__(
            "休暇台帳は追記のみです。取消しは反対仕訳で記録します。 "
            "(Leave ledger entries are append-only; reverse with a new entry.)"
        )


class LeaveLedgerEntryQuerySet(models.QuerySet["LeaveLedgerEntry"]):
    def update(self, **kwargs):
        raise LedgerImmutableError

    def delete(self):
        raise LedgerImmutableError


class LeaveLedgerEntry(models.Model):
    """One movement of annual leave, in minutes (signed). The balance is their sum."""

    class Kind(models.TextChoices):
        GRANT = "grant", _("付与")
        CARRY_OVER = "carry_over", _("繰越")
        USE = "use", _("使用")
        CANCEL = "cancel", _("取消")
        EXPIRE = "expire", _("失効")

    class Unit(models.TextChoices):
        DAY = "day", _("日")
        HALF_DAY = "half_day", _("半日")
        HOUR = "hour", _("時間")
        QUARTER_HOUR = "quarter_hour", _("15分")

    HOURLY_UNITS = (Unit.HOUR, Unit.QUARTER_HOUR)

    staff = models.ForeignKey(
        Staff, verbose_name=_("職員"), on_delete=models.PROTECT, related_name="leave_ledger"
    )
    leave_year = models.PositiveSmallIntegerField(_("休暇年"))
    kind = models.CharField(_("種別"), max_length=12, choices=Kind.choices)
    unit = models.CharField(
        _("単位"), max_length=12, choices=Unit.choices, blank=True, help_text=_("使用・取消のみ")
    )
    minutes = models.IntegerField(_("分"))
    reference = models.CharField(_("参照"), max_length=100, blank=True)
    reverses = models.OneToOneField(
        "self",
        verbose_name=_("取り消した記録"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="reversed_by",
    )
    note = models.CharField(_("備考"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("記録日時"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("記録者"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )

    objects = LeaveLedgerEntryQuerySet.as_manager()

    class Meta:
        verbose_name = _("年次休暇台帳")
        verbose_name_plural = _("年次休暇台帳")
        ordering = ["staff", "leave_year", "created_at", "pk"]
        indexes = [models.Index(fields=["staff", "leave_year", "kind"])]
        default_permissions = ("add", "view")
        constraints = [
            models.UniqueConstraint(
                fields=["staff", "leave_year"],
                condition=Q(kind="grant"),
                name="attendance_ledger_one_grant_per_year",
            ),
            models.UniqueConstraint(
                fields=["staff", "leave_year"],
                condition=Q(kind="carry_over", minutes__gt=0),
                name="attendance_ledger_one_carry_in_per_year",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.staff} {self.leave_year} {self.get_kind_display()} {self.minutes:+d}分"

    def save(self, *args, **kwargs) -> None:
        if not self._state.adding:
            raise LedgerImmutableError
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise LedgerImmutableError
