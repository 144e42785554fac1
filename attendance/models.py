"""Attendance data: the calendar, leave rules and types as data, and the annual-leave ledger.

Every number a city may change (grant days, carry-over cap, hourly cap, first-year
proration) lives in rows here, not in code; the national defaults come from
fixtures/attendance/*.json (see `attendance.loader`). Durations are minutes.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
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


class ServiceGrant(models.Model):
    """Days granted a year by days worked a week and years of service (会計年度任用職員).

    When a class has these rows they decide the grant (no further pro rata for a short
    week: the table is already per days a week); the national example follows 労働基準法
    第39条 / 人事院規則15-15, granted from the appointment on.
    """

    rules = models.ForeignKey(
        LeaveRules,
        verbose_name=_("規則"),
        on_delete=models.CASCADE,
        related_name="service_grants",
    )
    days_per_week = models.PositiveSmallIntegerField(_("週の勤務日数"))
    service_years = models.PositiveSmallIntegerField(
        _("継続勤務年数（以上）"), help_text=_("休暇年の初日における継続勤務の年数")
    )
    days = models.PositiveSmallIntegerField(_("付与日数"))

    class Meta:
        verbose_name = _("勤務日数・勤続年数別の付与日数")
        verbose_name_plural = _("勤務日数・勤続年数別の付与日数")
        ordering = ["rules", "-days_per_week", "service_years"]
        constraints = [
            models.UniqueConstraint(
                fields=["rules", "days_per_week", "service_years"],
                name="attendance_service_grant_unique",
            ),
            models.CheckConstraint(
                condition=Q(days_per_week__gte=1, days_per_week__lte=7),
                name="attendance_service_grant_days_per_week",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.rules} 週{self.days_per_week}日 {self.service_years}年以上 {self.days}日"


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
    roll_code = models.CharField(
        _("出勤簿の記号"), max_length=4, default="特休", help_text=_("年休、病休、特休、介休など")
    )
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


# --- the city's attendance policy ---------------------------------------------------------


class AttendancePolicy(models.Model):
    """The overtime numbers and the HR office, as data, dated so a change is kept.

    The row with the latest `valid_from` on or before a day is in force. Defaults are the
    national values (人事院規則15-14 第16条の2の2; 給与法第16条). Durations are minutes.
    """

    valid_from = models.DateField(_("適用開始日"), unique=True)
    hr_department = models.ForeignKey(
        "org.Department",
        verbose_name=_("人事担当課"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("締め後の訂正と特例業務の検証を受け持つ課"),
    )
    rate_workday = models.PositiveSmallIntegerField(_("勤務日（%）"), default=125)
    rate_workday_night = models.PositiveSmallIntegerField(_("勤務日・深夜（%）"), default=150)
    rate_rest_day = models.PositiveSmallIntegerField(_("週休日（%）"), default=135)
    rate_rest_day_night = models.PositiveSmallIntegerField(_("週休日・深夜（%）"), default=160)
    rate_over_60 = models.PositiveSmallIntegerField(_("月60時間超（%）"), default=150)
    rate_over_60_night = models.PositiveSmallIntegerField(_("月60時間超・深夜（%）"), default=175)
    rate_holiday_pay = models.PositiveSmallIntegerField(_("休日給（%）"), default=135)
    over_60_threshold_minutes = models.PositiveIntegerField(_("月60時間の境（分）"), default=3600)
    normal_monthly_cap_minutes = models.PositiveIntegerField(
        _("通常部署の月上限（分）"), default=45 * 60
    )
    normal_yearly_cap_minutes = models.PositiveIntegerField(
        _("通常部署の年上限（分）"), default=360 * 60
    )
    outside_monthly_limit_minutes = models.PositiveIntegerField(
        _("他律部署の月上限（分、未満）"), default=100 * 60
    )
    outside_yearly_cap_minutes = models.PositiveIntegerField(
        _("他律部署の年上限（分）"), default=720 * 60
    )
    outside_average_cap_minutes = models.PositiveIntegerField(
        _("他律部署の2〜6か月平均の上限（分）"), default=80 * 60
    )
    outside_over_45_threshold_minutes = models.PositiveIntegerField(
        _("他律部署の月45時間の境（分）"), default=45 * 60
    )
    outside_over_45_max_months = models.PositiveSmallIntegerField(
        _("45時間を超えてよい月数"), default=6
    )
    warning_ratio_percent = models.PositiveSmallIntegerField(_("警告の割合（%）"), default=80)
    doctor_monthly_minutes = models.PositiveIntegerField(
        _("面接指導：月の時間（分）"), default=100 * 60
    )
    doctor_average_minutes = models.PositiveIntegerField(
        _("面接指導：平均の時間（分）"), default=80 * 60
    )
    rest_interval_minutes = models.PositiveIntegerField(
        _("勤務間インターバル（分）"), default=11 * 60
    )
    review_months_after_year = models.PositiveSmallIntegerField(
        _("特例業務の検証期限（年度終了後の月数）"), default=6
    )

    class Meta:
        verbose_name = _("勤怠の設定")
        verbose_name_plural = _("勤怠の設定")
        ordering = ["-valid_from"]

    def __str__(self) -> str:
        return f"{self.valid_from} から"

    def to_rules(self):
        from .overtime import OvertimeRules

        names = [
            "rate_workday",
            "rate_workday_night",
            "rate_rest_day",
            "rate_rest_day_night",
            "rate_over_60",
            "rate_over_60_night",
            "rate_holiday_pay",
            "over_60_threshold_minutes",
            "normal_monthly_cap_minutes",
            "normal_yearly_cap_minutes",
            "outside_monthly_limit_minutes",
            "outside_yearly_cap_minutes",
            "outside_average_cap_minutes",
            "outside_over_45_threshold_minutes",
            "outside_over_45_max_months",
            "warning_ratio_percent",
            "doctor_monthly_minutes",
            "doctor_average_minutes",
            "rest_interval_minutes",
        ]
        return OvertimeRules(**{n: getattr(self, n) for n in names})


class MonthClose(models.Model):
    """A closed month (月次締め): its leave and overtime change only by correction."""

    month = models.DateField(_("月"), unique=True, help_text=_("月の初日"))
    closed_at = models.DateTimeField(_("締め日時"))
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("締めた人"),
        on_delete=models.PROTECT,
        related_name="+",
    )

    class Meta:
        verbose_name = _("月次締め")
        verbose_name_plural = _("月次締め")
        ordering = ["-month"]
        constraints = [
            models.CheckConstraint(condition=Q(month__day=1), name="attendance_close_first_day")
        ]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m}"


# --- requests (workflow subjects) -----------------------------------------------------------


class LeaveRequest(models.Model):
    """A leave request (休暇の申請), decided by the supervisor through the workflow engine.

    `starts_at`/`ends_at` span the leave in time (a day unit spans whole days), so two
    requests overlap exactly when their spans do. `minutes` is what the leave takes from
    the person's working time; for a ledger type it is what the ledger is charged.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("申請中")
        RETURNED = "returned", _("差戻し")
        APPROVED = "approved", _("承認済")
        REJECTED = "rejected", _("却下")
        WITHDRAWN = "withdrawn", _("取下げ")
        CANCELLED = "cancelled", _("取消")

    class Half(models.TextChoices):
        AM = "am", _("午前")
        PM = "pm", _("午後")

    ACTIVE = (Status.PENDING, Status.RETURNED, Status.APPROVED)

    staff = models.ForeignKey(
        Staff, verbose_name=_("職員"), on_delete=models.PROTECT, related_name="leave_requests"
    )
    filed_by = models.ForeignKey(
        Staff, verbose_name=_("申請者"), on_delete=models.PROTECT, related_name="+"
    )
    department = models.ForeignKey(
        "org.Department", verbose_name=_("所属"), on_delete=models.PROTECT, related_name="+"
    )
    leave_type = models.ForeignKey(
        LeaveType, verbose_name=_("休暇の種類"), on_delete=models.PROTECT, related_name="+"
    )
    unit = models.CharField(_("単位"), max_length=12, choices=LeaveLedgerEntry.Unit.choices)
    start_date = models.DateField(_("開始日"))
    end_date = models.DateField(_("終了日"))
    half = models.CharField(_("午前・午後"), max_length=2, choices=Half.choices, blank=True)
    start_time = models.TimeField(_("開始時刻"), null=True, blank=True)
    end_time = models.TimeField(_("終了時刻"), null=True, blank=True)
    starts_at = models.DateTimeField(_("開始"))
    ends_at = models.DateTimeField(_("終了"))
    days = models.PositiveSmallIntegerField(_("日数"), default=0)
    minutes = models.PositiveIntegerField(_("時間（分）"))
    leave_year = models.PositiveSmallIntegerField(_("休暇年"))
    reason = models.CharField(_("理由"), max_length=500, blank=True)
    status = models.CharField(
        _("状態"), max_length=10, choices=Status.choices, default=Status.PENDING
    )
    correction = models.BooleanField(_("締め後の訂正"), default=False)
    correction_reason = models.CharField(_("訂正の理由"), max_length=500, blank=True)
    ledger_entry = models.OneToOneField(
        LeaveLedgerEntry,
        verbose_name=_("台帳の使用記録"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="leave_request",
    )
    created_at = models.DateTimeField(_("申請日時"), auto_now_add=True)
    decided_at = models.DateTimeField(_("決定日時"), null=True, blank=True)
    decided_by = models.ForeignKey(
        Staff,
        verbose_name=_("決定者"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    cancelled_at = models.DateTimeField(_("取消日時"), null=True, blank=True)
    cancelled_by = models.ForeignKey(
        Staff,
        verbose_name=_("取消者"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    cancel_reason = models.CharField(_("取消の理由"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("休暇の申請")
        verbose_name_plural = _("休暇の申請")
        ordering = ["-start_date", "-pk"]
        indexes = [
            models.Index(fields=["staff", "starts_at"]),
            models.Index(fields=["department", "start_date"]),
            models.Index(fields=["start_date", "end_date"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(end_date__gte=models.F("start_date")),
                name="attendance_leave_request_dates",
            ),
            models.CheckConstraint(
                condition=Q(ends_at__gt=models.F("starts_at")),
                name="attendance_leave_request_span",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.staff} {self.leave_type} {self.start_date}"

    def get_absolute_url(self) -> str:
        return reverse("attendance:leave", args=[self.pk])

    def workflow_title(self) -> str:
        return f"{self.leave_type.name}（{self.staff.display_name}）{self.period_label()}"

    def workflow_summary(self) -> str:
        return self.reason[:200]

    def period_label(self) -> str:
        if self.unit == LeaveLedgerEntry.Unit.HALF_DAY:
            return f"{self.start_date:%-m/%-d} {self.get_half_display()}"
        if self.start_time is not None and self.end_time is not None:
            return f"{self.start_date:%-m/%-d} {self.start_time:%H:%M}–{self.end_time:%H:%M}"
        if self.start_date == self.end_date:
            return f"{self.start_date:%-m/%-d}"
        return f"{self.start_date:%-m/%-d}–{self.end_date:%-m/%-d}"

    def workflow_on_approved(self, *, route, actor) -> None:
        from .requests import leave_on_approved

        leave_on_approved(request=self, actor=actor)

    def workflow_on_rejected(self, *, route, actor) -> None:
        from .requests import leave_on_closed

        leave_on_closed(request=self, status=self.Status.REJECTED, actor=actor)

    def workflow_on_returned(self, *, route, actor) -> None:
        from .requests import leave_on_closed

        leave_on_closed(request=self, status=self.Status.RETURNED, actor=actor)

    def workflow_on_withdrawn(self, *, route, actor) -> None:
        from .requests import leave_on_closed

        leave_on_closed(request=self, status=self.Status.WITHDRAWN, actor=actor)

    def workflow_may_withdraw(self, actor) -> bool:
        """The person the leave is for, and the clerk who filed it for them."""
        return actor.pk in (self.staff_id, self.filed_by_id)


class OvertimeOrder(models.Model):
    """A 超過勤務命令: asked for or ordered, then the actual times reported and confirmed.

    Two rounds on the workflow engine: the order (申請 → 命令) and the report of the actual
    times (実績報告 → 確認). Minutes are overtime in the cap sense (休日給 excluded).
    """

    class Status(models.TextChoices):
        REQUESTED = "requested", _("命令申請中")
        RETURNED = "returned", _("差戻し")
        ORDERED = "ordered", _("命令済")
        REPORTED = "reported", _("実績確認中")
        CONFIRMED = "confirmed", _("実績確認済")
        REJECTED = "rejected", _("却下")
        WITHDRAWN = "withdrawn", _("取下げ")

    ACTIVE = (Status.REQUESTED, Status.RETURNED, Status.ORDERED, Status.REPORTED, Status.CONFIRMED)
    COUNTED = (Status.ORDERED, Status.REPORTED, Status.CONFIRMED)

    staff = models.ForeignKey(
        Staff, verbose_name=_("職員"), on_delete=models.PROTECT, related_name="overtime_orders"
    )
    requested_by = models.ForeignKey(
        Staff, verbose_name=_("申請・命令した人"), on_delete=models.PROTECT, related_name="+"
    )
    department = models.ForeignKey(
        "org.Department", verbose_name=_("所属"), on_delete=models.PROTECT, related_name="+"
    )
    work_date = models.DateField(_("勤務日"))
    task = models.CharField(_("業務内容"), max_length=300)
    planned_start = models.DateTimeField(_("予定開始"))
    planned_end = models.DateTimeField(_("予定終了"))
    planned_minutes = models.PositiveIntegerField(_("予定の時間外（分）"), default=0)
    after_the_fact = models.BooleanField(_("事後命令"), default=False)
    after_the_fact_reason = models.CharField(_("事後の理由"), max_length=500, blank=True)
    special = models.BooleanField(_("特例業務"), default=False)
    special_reason = models.CharField(_("特例業務の理由"), max_length=500, blank=True)
    moved_rest_day = models.DateField(_("振替えた週休日"), null=True, blank=True)
    actual_start = models.DateTimeField(_("実績開始"), null=True, blank=True)
    actual_end = models.DateTimeField(_("実績終了"), null=True, blank=True)
    break_minutes = models.PositiveSmallIntegerField(_("休憩（分）"), default=0)
    actual_minutes = models.PositiveIntegerField(_("実績の時間外（分）"), null=True, blank=True)
    status = models.CharField(
        _("状態"), max_length=10, choices=Status.choices, default=Status.REQUESTED
    )
    correction = models.BooleanField(_("締め後の訂正"), default=False)
    correction_reason = models.CharField(_("訂正の理由"), max_length=500, blank=True)
    warnings = models.JSONField(_("警告"), default=list, blank=True)
    doctor_interview = models.BooleanField(_("面接指導の対象"), default=False)
    created_at = models.DateTimeField(_("申請日時"), auto_now_add=True)
    ordered_at = models.DateTimeField(_("命令日時"), null=True, blank=True)
    ordered_by = models.ForeignKey(
        Staff,
        verbose_name=_("命令者"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    reported_at = models.DateTimeField(_("実績報告日時"), null=True, blank=True)
    confirmed_at = models.DateTimeField(_("確認日時"), null=True, blank=True)
    confirmed_by = models.ForeignKey(
        Staff,
        verbose_name=_("確認者"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )

    class Meta:
        verbose_name = _("超過勤務命令")
        verbose_name_plural = _("超過勤務命令")
        ordering = ["-work_date", "-pk"]
        indexes = [
            models.Index(fields=["staff", "work_date"]),
            models.Index(fields=["department", "work_date"]),
            models.Index(fields=["work_date", "status"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(planned_end__gt=models.F("planned_start")),
                name="attendance_overtime_planned_span",
            ),
            models.CheckConstraint(
                condition=Q(actual_start__isnull=True) | Q(actual_end__gt=models.F("actual_start")),
                name="attendance_overtime_actual_span",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.staff} {self.work_date} {self.task[:20]}"

    def get_absolute_url(self) -> str:
        return reverse("attendance:overtime", args=[self.pk])

    def workflow_title(self) -> str:
        phase = _("実績") if self.status == self.Status.REPORTED else _("命令")
        return (
            f"超過勤務{phase}（{self.staff.display_name}）{self.work_date:%-m/%-d} {self.task[:40]}"
        )

    def workflow_summary(self) -> str:
        return self.task[:200]

    @property
    def minutes(self) -> int:
        """What counts toward the caps: the actual once confirmed, else the plan."""
        if self.status == self.Status.CONFIRMED and self.actual_minutes is not None:
            return self.actual_minutes
        return self.planned_minutes

    def workflow_on_approved(self, *, route, actor) -> None:
        from .requests import overtime_on_approved

        overtime_on_approved(order=self, actor=actor)

    def workflow_on_rejected(self, *, route, actor) -> None:
        from .requests import overtime_on_closed

        overtime_on_closed(order=self, outcome="rejected", actor=actor)

    def workflow_on_returned(self, *, route, actor) -> None:
        from .requests import overtime_on_closed

        overtime_on_closed(order=self, outcome="returned", actor=actor)

    def workflow_on_withdrawn(self, *, route, actor) -> None:
        from .requests import overtime_on_closed

        overtime_on_closed(order=self, outcome="withdrawn", actor=actor)


class OvertimeReview(models.Model):
    """HR's review (要因の整理・分析・検証) of overtime beyond the caps under 特例業務."""

    class Status(models.TextChoices):
        OPEN = "open", _("未了")
        DONE = "done", _("完了")

    order = models.OneToOneField(
        OvertimeOrder, verbose_name=_("命令"), on_delete=models.PROTECT, related_name="review"
    )
    fiscal_year = models.PositiveSmallIntegerField(_("年度"))
    due_on = models.DateField(_("期限"))
    findings = models.JSONField(_("超えた上限"), default=list)
    status = models.CharField(_("状態"), max_length=6, choices=Status.choices, default=Status.OPEN)
    causes = models.TextField(_("要因の整理"), blank=True)
    analysis = models.TextField(_("分析"), blank=True)
    verification = models.TextField(_("検証"), blank=True)
    created_at = models.DateTimeField(_("作成日時"), auto_now_add=True)
    completed_at = models.DateTimeField(_("完了日時"), null=True, blank=True)
    completed_by = models.ForeignKey(
        Staff,
        verbose_name=_("完了した人"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )

    class Meta:
        verbose_name = _("特例業務の検証")
        verbose_name_plural = _("特例業務の検証")
        ordering = ["status", "due_on", "pk"]

    def __str__(self) -> str:
        return f"{self.order} 検証（{self.get_status_display()}）"


class DayMark(models.Model):
    """A 出勤簿 code for a day that is not leave or overtime: 出張, 研修, 職専免, 欠勤 …"""

    class Code(models.TextChoices):
        TRIP = "trip", _("出張")
        TRAINING = "training", _("研修")
        DUTY_EXEMPT = "duty_exempt", _("職専免")
        CHILDCARE = "childcare", _("育休")
        SUSPENSION = "suspension", _("休職")
        DISCIPLINARY = "disciplinary", _("停職")
        ABSENT = "absent", _("欠勤")
        COMPENSATORY = "compensatory", _("代休")

    staff = models.ForeignKey(
        Staff, verbose_name=_("職員"), on_delete=models.PROTECT, related_name="day_marks"
    )
    date = models.DateField(_("日付"))
    code = models.CharField(_("区分"), max_length=14, choices=Code.choices)
    note = models.CharField(_("備考"), max_length=200, blank=True)
    correction = models.BooleanField(_("締め後の訂正"), default=False)
    created_at = models.DateTimeField(_("記録日時"), auto_now_add=True)
    created_by = models.ForeignKey(
        Staff, verbose_name=_("記録者"), on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        verbose_name = _("出勤簿の記録")
        verbose_name_plural = _("出勤簿の記録")
        ordering = ["date", "staff"]
        constraints = [
            models.UniqueConstraint(fields=["staff", "date"], name="attendance_day_mark_unique")
        ]

    def __str__(self) -> str:
        return f"{self.staff} {self.date} {self.get_code_display()}"


class Correction(models.Model):
    """A change to a closed month (締め後の訂正): decided by the supervisor, then HR.

    Kept after it is applied, with the values before and after, so the month's reports
    show it as a correction rather than silently differing from what was submitted.
    """

    class Kind(models.TextChoices):
        LEAVE_CANCEL = "leave_cancel", _("休暇の取消")
        OVERTIME_ACTUAL = "overtime_actual", _("超過勤務実績の訂正")

    class Status(models.TextChoices):
        PENDING = "pending", _("申請中")
        APPLIED = "applied", _("訂正済")
        REJECTED = "rejected", _("却下")
        RETURNED = "returned", _("差戻し")
        WITHDRAWN = "withdrawn", _("取下げ")

    kind = models.CharField(_("種類"), max_length=16, choices=Kind.choices)
    staff = models.ForeignKey(
        Staff, verbose_name=_("職員"), on_delete=models.PROTECT, related_name="+"
    )
    department = models.ForeignKey(
        "org.Department", verbose_name=_("所属"), on_delete=models.PROTECT, related_name="+"
    )
    month = models.DateField(_("対象月"))
    leave_request = models.ForeignKey(
        LeaveRequest,
        verbose_name=_("休暇の申請"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="corrections",
    )
    overtime_order = models.ForeignKey(
        OvertimeOrder,
        verbose_name=_("超過勤務命令"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="corrections",
    )
    reason = models.CharField(_("理由"), max_length=500)
    before = models.JSONField(_("訂正前"), default=dict)
    after = models.JSONField(_("訂正後"), default=dict)
    status = models.CharField(
        _("状態"), max_length=10, choices=Status.choices, default=Status.PENDING
    )
    filed_by = models.ForeignKey(
        Staff, verbose_name=_("申請者"), on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(_("申請日時"), auto_now_add=True)
    applied_at = models.DateTimeField(_("訂正日時"), null=True, blank=True)

    class Meta:
        verbose_name = _("締め後の訂正")
        verbose_name_plural = _("締め後の訂正")
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["month", "status"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.staff} {self.month:%Y-%m}"

    def get_absolute_url(self) -> str:
        return reverse("attendance:correction", args=[self.pk])

    def workflow_title(self) -> str:
        return f"{self.get_kind_display()}（{self.staff.display_name}）{self.month:%Y年%-m月}"

    def workflow_summary(self) -> str:
        return self.reason[:200]

    def workflow_on_approved(self, *, route, actor) -> None:
        from .requests import correction_apply

        correction_apply(correction=self, actor=actor)

    def _close(self, status: str, actor) -> None:
        from .requests import correction_closed

        correction_closed(correction=self, status=status, actor=actor)

    def workflow_on_rejected(self, *, route, actor) -> None:
        self._close(self.Status.REJECTED, actor)

    def workflow_on_returned(self, *, route, actor) -> None:
        self._close(self.Status.RETURNED, actor)

    def workflow_on_withdrawn(self, *, route, actor) -> None:
        self._close(self.Status.WITHDRAWN, actor)

    def workflow_may_withdraw(self, actor) -> bool:
        """The person whose record it corrects, and the clerk who filed it for them."""
        return actor.pk in (self.staff_id, self.filed_by_id)
