"""The organisation: departments (部・課・係), posts (職), staff and where they sit.

Where a person sits is the `Assignment` effective on a day, not a field on the person:
the April 1 transfer (人事異動) is loaded ahead of time as assignments starting that
day, and every question "who is 課長 of 財政課?" is asked for a date. No nightly job
has to flip anything, and routes resolve a post to a person when a step becomes active.
"""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from common.dates import today


class Department(models.Model):
    class Level(models.TextChoices):
        BU = "bu", _("部")
        KA = "ka", _("課")
        KAKARI = "kakari", _("係")

    class OvertimeClass(models.TextChoices):
        NORMAL = "normal", _("通常部署（自律部署）")
        TARITSU = "taritsu", _("他律部署")
        ART36 = "art36", _("36協定事業場")

    code = models.CharField(_("所属コード"), max_length=20, unique=True)
    name = models.CharField(_("名称"), max_length=100)
    name_kana = models.CharField(_("名称（かな）"), max_length=200, blank=True)
    level = models.CharField(_("階層"), max_length=10, choices=Level.choices)
    parent = models.ForeignKey(
        "self",
        verbose_name=_("上位所属"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
    )
    doc_symbol = models.CharField(
        _("文書記号"),
        max_length=10,
        blank=True,
        help_text=_("文書番号に使う略号（例: 財政課 →「財」）"),
    )
    overtime_class = models.CharField(
        _("時間外勤務の上限区分"),
        max_length=10,
        choices=OvertimeClass.choices,
        default=OvertimeClass.NORMAL,
    )
    sort_order = models.PositiveIntegerField(_("表示順"), default=0)
    is_active = models.BooleanField(_("有効"), default=True)

    class Meta:
        verbose_name = _("所属")
        verbose_name_plural = _("所属")
        ordering = ["sort_order", "code"]
        constraints = [
            models.CheckConstraint(
                condition=Q(level="bu") | Q(parent__isnull=False),
                name="org_department_only_bu_is_root",
            )
        ]

    def __str__(self) -> str:
        return self.name

    def ancestors(self) -> list[Department]:
        """Parents from the nearest up to the 部 (one query per level; the tree is 3 deep)."""
        chain: list[Department] = []
        node = self.parent
        while node is not None:
            chain.append(node)
            node = node.parent
        return chain

    @property
    def full_name(self) -> str:
        return " ".join(d.name for d in [*reversed(self.ancestors()), self])


class Post(models.Model):
    """A post (職) with its rank: a lower number is more senior (市長 = 10)."""

    code = models.CharField(_("職コード"), max_length=20, unique=True)
    name = models.CharField(_("職名"), max_length=50)
    rank = models.PositiveSmallIntegerField(
        _("職位"), help_text=_("小さいほど上位（市長 10、副市長 20、部長 30 …）")
    )
    is_manager = models.BooleanField(
        _("管理職"), default=False, help_text=_("決裁・承認の経路に入る職")
    )

    class Meta:
        verbose_name = _("職")
        verbose_name_plural = _("職")
        ordering = ["rank", "code"]

    def __str__(self) -> str:
        return self.name


class WorkSchedule(models.Model):
    """A work pattern: hours and break. Durations are minutes."""

    code = models.CharField(_("勤務形態コード"), max_length=20, unique=True)
    name = models.CharField(_("名称"), max_length=50)
    start = models.TimeField(_("始業"))
    end = models.TimeField(_("終業"))
    break_start = models.TimeField(_("休憩開始"), null=True, blank=True)
    break_end = models.TimeField(_("休憩終了"), null=True, blank=True)
    days_per_week = models.PositiveSmallIntegerField(_("週の勤務日数"), default=5)

    class Meta:
        verbose_name = _("勤務形態")
        verbose_name_plural = _("勤務形態")
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name

    @property
    def daily_minutes(self) -> int:
        def minutes(t: dt.time) -> int:
            return t.hour * 60 + t.minute

        total = minutes(self.end) - minutes(self.start)
        if self.break_start and self.break_end:
            total -= minutes(self.break_end) - minutes(self.break_start)
        return total


class StaffManager(UserManager["Staff"]):
    pass


class Staff(AbstractUser):
    """A member of staff. The login is the user; where they sit is in `Assignment`."""

    class EmployeeClass(models.TextChoices):
        REGULAR = "regular", _("正規職員")
        FISCAL_YEAR = "fiscal_year", _("会計年度任用職員")
        SHORT_TIME = "short_time", _("短時間勤務職員")

    # NULL, not "", for accounts without a number (admins): unique allows many NULLs.
    employee_number = models.CharField(
        _("職員番号"), max_length=20, unique=True, null=True, blank=True
    )
    family_name_kana = models.CharField(_("姓（かな）"), max_length=50, blank=True)
    given_name_kana = models.CharField(_("名（かな）"), max_length=50, blank=True)
    employee_class = models.CharField(
        _("任用区分"),
        max_length=20,
        choices=EmployeeClass.choices,
        default=EmployeeClass.REGULAR,
    )
    work_schedule = models.ForeignKey(
        WorkSchedule,
        verbose_name=_("勤務形態"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
    )
    hired_on = models.DateField(_("採用日"), null=True, blank=True)
    is_demo = models.BooleanField(
        _("デモ用アカウント"),
        default=False,
        help_text=_("DEBUG が無効のときはログインできません"),
    )

    objects = StaffManager()

    class Meta:
        verbose_name = _("職員")
        verbose_name_plural = _("職員")
        ordering = ["employee_number", "username"]

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        """Japanese order: family name first, no honorific."""
        name = f"{self.last_name} {self.first_name}".strip()
        return name or self.username

    def assignment_on(self, day: dt.date | None = None) -> Assignment | None:
        """The primary assignment effective on `day` (today by default)."""
        day = day or today()
        cache = getattr(self, "_assignment_cache", {})
        if day not in cache:
            cache[day] = (
                Assignment.objects.effective_on(day)
                .filter(staff=self, is_primary=True)
                .select_related("department", "post")
                .first()
            )
            self._assignment_cache = cache
        return cache[day]

    @property
    def department(self) -> Department | None:
        a = self.assignment_on()
        return a.department if a else None

    @property
    def post(self) -> Post | None:
        a = self.assignment_on()
        return a.post if a else None


class AssignmentQuerySet(models.QuerySet["Assignment"]):
    def effective_on(self, day: dt.date) -> AssignmentQuerySet:
        return self.filter(Q(end__isnull=True) | Q(end__gte=day), start__lte=day)


class Assignment(models.Model):
    """Staff in a department and post from `start` to `end` (inclusive; open if null).

    One primary assignment per person per day; others are 兼務 (concurrent posts).
    """

    staff = models.ForeignKey(
        Staff, verbose_name=_("職員"), on_delete=models.CASCADE, related_name="assignments"
    )
    department = models.ForeignKey(
        Department, verbose_name=_("所属"), on_delete=models.PROTECT, related_name="assignments"
    )
    post = models.ForeignKey(
        Post, verbose_name=_("職"), on_delete=models.PROTECT, related_name="assignments"
    )
    start = models.DateField(_("発令日"))
    end = models.DateField(_("終了日"), null=True, blank=True)
    is_primary = models.BooleanField(_("本務"), default=True)
    note = models.CharField(_("備考"), max_length=200, blank=True)

    objects = AssignmentQuerySet.as_manager()

    class Meta:
        verbose_name = _("配属")
        verbose_name_plural = _("配属")
        ordering = ["staff", "-start"]
        indexes = [
            models.Index(fields=["department", "post", "start"]),
            models.Index(fields=["staff", "start"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(end__isnull=True) | Q(end__gte=models.F("start")),
                name="org_assignment_end_after_start",
            )
        ]

    def __str__(self) -> str:
        return f"{self.staff} {self.department} {self.post} ({self.start}〜{self.end or ''})"


class Absence(models.Model):
    """A registered absence (出張, 休暇 …): while it runs, deputies may act (代決)."""

    class Reason(models.TextChoices):
        TRIP = "trip", _("出張")
        LEAVE = "leave", _("休暇")
        TRAINING = "training", _("研修")
        OTHER = "other", _("その他")

    staff = models.ForeignKey(
        Staff, verbose_name=_("職員"), on_delete=models.CASCADE, related_name="absences"
    )
    start = models.DateTimeField(_("開始"))
    end = models.DateTimeField(_("終了"))
    reason = models.CharField(_("理由"), max_length=20, choices=Reason.choices)
    note = models.CharField(_("備考"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("不在")
        verbose_name_plural = _("不在")
        ordering = ["-start"]
        indexes = [models.Index(fields=["staff", "start", "end"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(end__gt=models.F("start")), name="org_absence_end_after_start"
            )
        ]

    def __str__(self) -> str:
        return f"{self.staff} {self.get_reason_display()} {self.start:%Y-%m-%d}"


class Deputy(models.Model):
    """An ordered deputy (代理者) of a principal, valid over a date range."""

    principal = models.ForeignKey(
        Staff, verbose_name=_("本人"), on_delete=models.CASCADE, related_name="deputies"
    )
    deputy = models.ForeignKey(
        Staff, verbose_name=_("代理者"), on_delete=models.CASCADE, related_name="deputy_for"
    )
    order = models.PositiveSmallIntegerField(_("順位"), default=1)
    start = models.DateField(_("開始日"))
    end = models.DateField(_("終了日"), null=True, blank=True)

    class Meta:
        verbose_name = _("代理者")
        verbose_name_plural = _("代理者")
        ordering = ["principal", "order"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(principal=models.F("deputy")), name="org_deputy_not_self"
            ),
            models.UniqueConstraint(
                fields=["principal", "order", "start"], name="org_deputy_order_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.principal} → {self.deputy} ({self.order})"
