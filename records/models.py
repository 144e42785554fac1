"""公文書 (records): the official, signed PDF of whatever the city keeps.

A record is made once per source (a decided 起案文書 …), rendered and signed in the
background, and never changes afterwards except by appending: a renewal adds a document
timestamp as an incremental update, which is a new version of the file; every version
stays in storage (content-addressed) and is listed in `RecordVersion`.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

STAFF = settings.AUTH_USER_MODEL

# A file in one of these states has left retention: its rows may go (disposal's job).
GONE_STATUSES = ("destroyed", "transferred")


class UnderRetention(Exception):
    """A refused deletion or content change of something still under retention."""

    def __init__(self, message: str = "") -> None:
        super().__init__(
            message
            or "保存期間中の公文書・簿冊は削除も内容の変更もできません。"
            " (Records under retention cannot be deleted or changed.)"
        )


class RecordQuerySet(models.QuerySet["Record"]):
    def delete(self):
        if self.exclude(file__status__in=GONE_STATUSES).exists():
            raise UnderRetention
        return super().delete()

    def update(self, **kwargs):
        if {"sha256", "pdf"} & kwargs.keys() and self.exclude(
            file__status__in=GONE_STATUSES
        ).exists():
            raise UnderRetention("公文書の内容は更新の手続でのみ変わります。")
        return super().update(**kwargs)


class RecordVersionQuerySet(models.QuerySet["RecordVersion"]):
    def delete(self):
        if self.exclude(record__file__status__in=GONE_STATUSES).exists():
            raise UnderRetention
        return super().delete()

    def update(self, **kwargs):
        raise UnderRetention("公文書の版は変更できません。 (Record versions never change.)")


class RecordFileQuerySet(models.QuerySet["RecordFile"]):
    def delete(self):
        if self.exclude(status__in=GONE_STATUSES).exists():
            raise UnderRetention
        return super().delete()


class Record(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("作成待ち")
        SIGNING = "signing", _("署名中")
        SIGNED = "signed", _("署名済")
        RETRYING = "retrying", _("署名待ち（再試行中）")

    class Level(models.TextChoices):
        B_B = "B-B", "PAdES B-B"
        B_T = "B-T", "PAdES B-T"
        B_LT = "B-LT", "PAdES B-LT"
        B_LTA = "B-LTA", "PAdES B-LTA"

    source_type = models.ForeignKey(ContentType, on_delete=models.PROTECT, related_name="+")
    source_id = models.PositiveBigIntegerField()
    source = GenericForeignKey("source_type", "source_id")
    title = models.CharField(_("件名"), max_length=300)
    number = models.CharField(_("文書番号"), max_length=40, blank=True, db_index=True)
    department = models.ForeignKey(
        "org.Department", verbose_name=_("作成課"), on_delete=models.PROTECT, related_name="+"
    )
    confidential = models.BooleanField(_("秘"), default=False)
    file = models.ForeignKey(
        "records.RecordFile",
        verbose_name=_("簿冊"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="records",
    )
    created_at = models.DateTimeField(_("登録日時"))
    status = models.CharField(
        _("状態"), max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    # The current file (the newest version).
    pdf = models.FileField(_("PDF"), max_length=200, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    size = models.PositiveBigIntegerField(default=0)
    level = models.CharField(_("署名レベル"), max_length=6, choices=Level.choices, blank=True)
    signed_at = models.DateTimeField(_("署名日時"), null=True, blank=True)
    archival_grade = models.BooleanField(
        _("長期保存品質"),
        default=False,
        help_text=_("日本語フォントを埋め込んだ PDF か（埋め込めない場合は内蔵 CID フォント）"),
    )
    demo_pki = models.BooleanField(
        _("デモ用認証局"), default=False, help_text=_("デモ用の鍵で署名（信頼されません）")
    )
    render_notes = models.JSONField(_("作成時の注記"), default=list, blank=True)
    timestamp_expires_at = models.DateTimeField(
        _("最新タイムスタンプの証明書期限"), null=True, blank=True
    )
    # Signing attempts: claimed by one worker at a time.
    attempts = models.PositiveIntegerField(default=0)
    claimed_at = models.DateTimeField(null=True, blank=True)
    claim = models.CharField(max_length=32, blank=True)
    last_error = models.TextField(_("直近のエラー"), blank=True)
    flagged_at = models.DateTimeField(
        _("要対応"), null=True, blank=True, help_text=_("1日以上署名できていない記録")
    )
    last_verified_at = models.DateTimeField(null=True, blank=True)
    last_verification = models.JSONField(default=dict, blank=True)

    objects = RecordQuerySet.as_manager()

    class Meta:
        verbose_name = _("公文書")
        verbose_name_plural = _("公文書")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["source_type", "source_id"], name="records_one_per_source"
            )
        ]
        indexes = [
            models.Index(
                fields=["status", "created_at"],
                name="records_unsigned",
                condition=~Q(status="signed"),
            ),
            models.Index(fields=["timestamp_expires_at"], name="records_ts_expiry"),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.title}".strip()

    def save(self, *args, **kwargs) -> None:
        """Content changes only by adding a version first (signing, renewal)."""
        update_fields = kwargs.get("update_fields")
        touches = update_fields is None or {"sha256", "pdf"} & set(update_fields)
        if self.pk is not None and touches and not self._state.adding:
            old = Record.objects.filter(pk=self.pk).values("sha256", "pdf").first()
            changed = old is not None and (
                old["sha256"] != self.sha256 or old["pdf"] != (self.pdf.name or "")
            )
            if (
                changed
                and self.under_retention()
                and not RecordVersion.objects.filter(
                    record_id=self.pk, sha256=self.sha256, file=self.pdf.name or ""
                ).exists()
            ):
                raise UnderRetention("公文書の内容は更新の手続でのみ変わります。")
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("records:record", args=[self.pk])

    def delete(self, *args, **kwargs):
        if self.under_retention():
            raise UnderRetention
        return super().delete(*args, **kwargs)

    @property
    def is_signed(self) -> bool:
        return self.status == self.Status.SIGNED

    def under_retention(self) -> bool:
        """Until its file is destroyed or transferred (a record without a file: always)."""
        gone = RecordFile.objects.filter(pk=self.file_id, status__in=GONE_STATUSES)
        return not (self.file_id and gone.exists())


class RecordVersion(models.Model):
    """Every file a record has had: the signed original, then each renewal."""

    class Reason(models.TextChoices):
        SIGNED = "signed", _("署名")
        RENEWED = "renewed", _("タイムスタンプ更新")

    record = models.ForeignKey(Record, on_delete=models.PROTECT, related_name="versions")
    reason = models.CharField(max_length=10, choices=Reason.choices)
    file = models.FileField(max_length=200)
    sha256 = models.CharField(max_length=64)
    size = models.PositiveBigIntegerField()
    created_at = models.DateTimeField()
    timestamp_expires_at = models.DateTimeField(null=True, blank=True)

    objects = RecordVersionQuerySet.as_manager()

    class Meta:
        verbose_name = _("公文書の版")
        verbose_name_plural = _("公文書の版")
        ordering = ["record", "created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.record_id} {self.get_reason_display()} {self.sha256[:12]}"

    def save(self, *args, **kwargs) -> None:
        if not self._state.adding:
            raise UnderRetention("公文書の版は変更できません。 (Record versions never change.)")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        if (
            RecordVersion.objects.filter(pk=self.pk)
            .exclude(record__file__status__in=GONE_STATUSES)
            .exists()
        ):
            raise UnderRetention
        return super().delete(*args, **kwargs)


class Retention(models.TextChoices):
    """保存期間. 1年未満 only for copies, routine messages and obvious drafts."""

    LESS_THAN_1 = "lt1", _("1年未満")
    Y1 = "1", _("1年")
    Y3 = "3", _("3年")
    Y5 = "5", _("5年")
    Y10 = "10", _("10年")
    Y30 = "30", _("30年")
    PERMANENT = "permanent", _("永年")


class Disposition(models.TextChoices):
    """保存期間満了時の措置."""

    TRANSFER = "transfer", _("移管")
    DESTROY = "destroy", _("廃棄")


class ClassificationSchedule(models.Model):
    """One version of the 文書分類表 with its retention schedule (like the authority
    table: a version in force never changes; a change is a new version, audited)."""

    version = models.PositiveIntegerField(_("版"), unique=True)
    effective_from = models.DateField(_("施行日"), unique=True)
    note = models.CharField(_("改正内容"), max_length=300, blank=True)
    created_by = models.ForeignKey(STAFF, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(_("作成日時"))

    class Meta:
        verbose_name = _("文書分類表（版）")
        verbose_name_plural = _("文書分類表（版）")
        ordering = ["-effective_from"]

    def __str__(self) -> str:
        return f"第{self.version}版（{self.effective_from} 施行）"


class Classification(models.Model):
    """文書分類: 大分類 (level 1) → 中分類 (2) → 小分類 (3, a leaf with its retention)."""

    class Level(models.IntegerChoices):
        MAJOR = 1, _("大分類")
        MIDDLE = 2, _("中分類")
        MINOR = 3, _("小分類")

    schedule = models.ForeignKey(
        ClassificationSchedule, on_delete=models.CASCADE, related_name="classifications"
    )
    code = models.CharField(_("分類コード"), max_length=20)
    name = models.CharField(_("名称"), max_length=200)
    level = models.PositiveSmallIntegerField(_("階層"), choices=Level.choices)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="children"
    )
    retention = models.CharField(
        _("保存期間"), max_length=10, choices=Retention.choices, blank=True
    )
    disposition = models.CharField(
        _("満了時の措置"), max_length=10, choices=Disposition.choices, blank=True
    )
    department = models.ForeignKey(
        "org.Department",
        verbose_name=_("主管課"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    sort_order = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("文書分類")
        verbose_name_plural = _("文書分類")
        ordering = ["schedule", "sort_order", "code"]
        constraints = [
            models.UniqueConstraint(fields=["schedule", "code"], name="records_class_code"),
            models.CheckConstraint(
                condition=Q(level__lt=3) | (~Q(retention="") & ~Q(disposition="")),
                name="records_class_leaf_has_retention",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class RecordFile(models.Model):
    """簿冊 / 行政文書ファイル: records of one department, classification and fiscal year.

    起算日 and 満了日 follow from the 完結日 (records.retention); holds can only lengthen
    the effective end.
    """

    class Medium(models.TextChoices):
        ELECTRONIC = "electronic", _("電子")
        PAPER = "paper", _("紙")
        MIXED = "mixed", _("紙・電子")

    class Status(models.TextChoices):
        OPEN = "open", _("作成中")
        CLOSED = "closed", _("完結")
        IN_DISPOSAL = "in_disposal", _("廃棄・移管手続中")
        DESTROYED = "destroyed", _("廃棄済")
        TRANSFERRED = "transferred", _("移管済")

    department = models.ForeignKey(
        "org.Department", verbose_name=_("所属"), on_delete=models.PROTECT, related_name="+"
    )
    classification = models.ForeignKey(
        Classification, verbose_name=_("文書分類"), on_delete=models.PROTECT, related_name="files"
    )
    fiscal_year = models.PositiveSmallIntegerField(_("作成・取得年度"))
    name = models.CharField(_("名称"), max_length=300)
    creator_post = models.CharField(
        _("作成・取得者"), max_length=100, help_text=_("職名で（例: 財政課長）")
    )
    manager_post = models.CharField(_("管理者"), max_length=100)
    medium = models.CharField(
        _("媒体"), max_length=12, choices=Medium.choices, default=Medium.ELECTRONIC
    )
    location = models.CharField(_("保存場所"), max_length=200, default="文書管理システム")
    remarks = models.CharField(_("備考"), max_length=300, blank=True)
    retention = models.CharField(_("保存期間"), max_length=10, choices=Retention.choices)
    disposition = models.CharField(_("満了時の措置"), max_length=10, choices=Disposition.choices)
    extension_years = models.PositiveSmallIntegerField(_("延長年数（累計）"), default=0)
    completed_on = models.DateField(_("完結日"), null=True, blank=True)
    # Kept by the services from completed_on / retention / extension_years
    # (records.retention), so the disposal list is one indexed query.
    start_date = models.DateField(_("起算日"), null=True, blank=True)
    period_end = models.DateField(
        _("保存期間満了日"), null=True, blank=True, help_text=_("永年・未完結は空")
    )
    status = models.CharField(
        _("状態"), max_length=12, choices=Status.choices, default=Status.OPEN, db_index=True
    )
    created_at = models.DateTimeField(_("登録日時"))

    objects = RecordFileQuerySet.as_manager()

    class Meta:
        verbose_name = _("簿冊（行政文書ファイル）")
        verbose_name_plural = _("簿冊（行政文書ファイル）")
        ordering = ["-fiscal_year", "department", "classification"]
        indexes = [
            models.Index(fields=["department", "fiscal_year", "classification"]),
            models.Index(fields=["status", "period_end"], name="records_file_due"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["department", "classification", "fiscal_year"],
                condition=Q(status="open"),
                name="records_one_open_file",
            )
        ]

    def __str__(self) -> str:
        return f"{self.fiscal_year} {self.name}"

    def get_absolute_url(self) -> str:
        return reverse("records:file_detail", args=[self.pk])

    def delete(self, *args, **kwargs):
        if self.under_retention:
            raise UnderRetention
        return super().delete(*args, **kwargs)

    @property
    def under_retention(self) -> bool:
        return self.status not in GONE_STATUSES


class Hold(models.Model):
    """施行令第9条: a reason to keep files past their period, with its own end rule."""

    class Kind(models.TextChoices):
        AUDIT = "audit", _("監査・検査")
        LITIGATION = "litigation", _("訴訟")
        APPEAL = "appeal", _("審査請求（不服申立て）")
        DISCLOSURE = "disclosure", _("情報公開請求")
        PERSONAL = "personal", _("個人情報開示請求")
        BUSINESS = "business", _("業務上の必要")

    kind = models.CharField(_("種別"), max_length=12, choices=Kind.choices)
    reference = models.CharField(_("請求番号・事件番号等"), max_length=100, blank=True)
    reason = models.CharField(_("理由"), max_length=300)
    started_on = models.DateField(_("開始日"))
    decided_on = models.DateField(
        _("決定・裁決日"), null=True, blank=True, help_text=_("開示決定・裁決の日")
    )
    until = models.DateField(_("期限"), null=True, blank=True, help_text=_("業務上の必要の期限"))
    ended_on = models.DateField(_("終了日"), null=True, blank=True, help_text=_("監査・訴訟の終結"))
    files = models.ManyToManyField(RecordFile, related_name="holds", verbose_name=_("簿冊"))
    records = models.ManyToManyField(
        Record, blank=True, related_name="holds", verbose_name=_("対象の公文書")
    )
    # records.retention.hold_end, kept by the services; empty = open (blocks disposal).
    keeps_until = models.DateField(_("保存の期限"), null=True, blank=True)
    created_by = models.ForeignKey(STAFF, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(_("登録日時"))

    class Meta:
        verbose_name = _("保存期間の延長事由")
        verbose_name_plural = _("保存期間の延長事由")
        ordering = ["-started_on", "-pk"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.reference}".strip()


class DisposalBatch(models.Model):
    """廃棄文書目録: the files of one year's disposal/transfer round, routed for approval
    (section heads consent, the 文書主管課長 decides) and then executed."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("作成中")
        IN_REVIEW = "in_review", _("承認手続中")
        APPROVED = "approved", _("承認済（未執行）")
        EXECUTING = "executing", _("執行中")
        EXECUTED = "executed", _("執行済")
        REJECTED = "rejected", _("却下")
        WITHDRAWN = "withdrawn", _("取下げ")

    title = models.CharField(_("件名"), max_length=300)
    fiscal_year = models.PositiveSmallIntegerField(_("年度"))
    status = models.CharField(
        _("状態"), max_length=12, choices=Status.choices, default=Status.DRAFT, db_index=True
    )
    created_by = models.ForeignKey(STAFF, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(_("作成日時"))
    approved_at = models.DateTimeField(_("承認日時"), null=True, blank=True)
    executed_at = models.DateTimeField(_("執行日時"), null=True, blank=True)
    package_path = models.CharField(_("移管パッケージ"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("廃棄文書目録")
        verbose_name_plural = _("廃棄文書目録")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("records:disposal", args=[self.pk])

    # --- the workflow subject protocol: the rules live in records/disposal.py ----------

    def workflow_title(self) -> str:
        return self.title

    def workflow_summary(self) -> str:
        return f"{self.fiscal_year}年度 廃棄・移管"

    def workflow_on_approved(self, *, route, actor) -> None:
        from .disposal import disposal_on_approved

        disposal_on_approved(batch=self, route=route, actor=actor)

    def workflow_on_rejected(self, *, route, actor) -> None:
        from .disposal import disposal_on_ended

        disposal_on_ended(batch=self, status=self.Status.REJECTED, actor=actor)

    def workflow_on_returned(self, *, route, actor) -> None:
        from .disposal import disposal_on_ended

        disposal_on_ended(batch=self, status=self.Status.DRAFT, actor=actor)

    def workflow_on_withdrawn(self, *, route, actor) -> None:
        from .disposal import disposal_on_ended

        disposal_on_ended(batch=self, status=self.Status.WITHDRAWN, actor=actor)


class DisposalItem(models.Model):
    """One file in a batch, with what happens to it (廃棄 / 移管) and whether it is done."""

    batch = models.ForeignKey(DisposalBatch, on_delete=models.PROTECT, related_name="items")
    file = models.ForeignKey(RecordFile, on_delete=models.PROTECT, related_name="disposal_items")
    action = models.CharField(_("措置"), max_length=10, choices=Disposition.choices)
    done_at = models.DateTimeField(_("執行日時"), null=True, blank=True)

    class Meta:
        verbose_name = _("廃棄文書目録の明細")
        verbose_name_plural = _("廃棄文書目録の明細")
        ordering = ["batch", "file"]
        constraints = [
            models.UniqueConstraint(fields=["batch", "file"], name="records_disposal_item_unique")
        ]

    def __str__(self) -> str:
        return f"{self.batch_id}:{self.file_id} {self.get_action_display()}"


class DisposalRegisterEntry(models.Model):
    """廃棄簿: the tombstone of a destroyed record — what, classification, dates, who
    approved, and the sha256 of the content that no longer exists."""

    batch = models.ForeignKey(DisposalBatch, on_delete=models.PROTECT, related_name="register")
    file = models.ForeignKey(RecordFile, on_delete=models.PROTECT, related_name="register")
    record = models.ForeignKey(
        Record, null=True, blank=True, on_delete=models.PROTECT, related_name="register"
    )
    title = models.CharField(_("件名"), max_length=300)
    number = models.CharField(_("文書番号"), max_length=40, blank=True)
    classification = models.CharField(_("文書分類"), max_length=300)
    fiscal_year = models.PositiveSmallIntegerField(_("作成・取得年度"))
    start_date = models.DateField(_("起算日"))
    end_date = models.DateField(_("保存期間満了日"))
    sha256 = models.CharField(max_length=64, blank=True)
    approved_by = models.CharField(_("承認者"), max_length=200)
    destroyed_at = models.DateTimeField(_("廃棄日時"))

    class Meta:
        verbose_name = _("廃棄簿")
        verbose_name_plural = _("廃棄簿")
        ordering = ["-destroyed_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["batch", "record"], name="records_register_once_per_record"
            )
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.title}".strip()

    def save(self, *args, **kwargs) -> None:
        if not self._state.adding:
            raise UnderRetention("廃棄簿は追記のみです。 (The disposal register is append-only.)")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise UnderRetention("廃棄簿は追記のみです。 (The disposal register is append-only.)")


class ReceivedDocument(models.Model):
    """収受: a document received from outside (another section counts as outside),
    registered with its own number series and kept as a record."""

    department = models.ForeignKey(
        "org.Department", verbose_name=_("収受課"), on_delete=models.PROTECT, related_name="+"
    )
    receipt_number = models.CharField(_("収受番号"), max_length=40, unique=True)
    number_fiscal_year = models.PositiveSmallIntegerField(_("収受年度"), default=0)
    number_serial = models.PositiveIntegerField(_("収受番号の連番"), default=0)
    received_on = models.DateField(_("収受日"))
    sender = models.CharField(_("差出人"), max_length=200)
    title = models.CharField(_("件名"), max_length=300)
    document_date = models.DateField(_("文書の日付"), null=True, blank=True)
    upload = models.FileField(_("ファイル"), max_length=200)
    original_name = models.CharField(max_length=255)
    sha256 = models.CharField(max_length=64)
    size = models.PositiveBigIntegerField()
    confidential = models.BooleanField(_("秘"), default=False)
    registered_by = models.ForeignKey(STAFF, on_delete=models.PROTECT, related_name="+")
    registered_at = models.DateTimeField(_("登録日時"))

    class Meta:
        verbose_name = _("収受文書")
        verbose_name_plural = _("収受文書")
        ordering = ["-received_on", "-pk"]

    def __str__(self) -> str:
        return f"{self.receipt_number} {self.title}"

    def get_absolute_url(self) -> str:
        from .selectors import record_for_source

        record = record_for_source(self)
        return record.get_absolute_url() if record else reverse("records:file_list")

    # --- the record source protocol (records/payload.py) ---------------------------

    def record_payload(self):
        from .files import received_record_payload

        return received_record_payload(self)

    def record_destroy_content(self) -> set[str]:
        """廃棄: the received file's bytes go; the row stays as the tombstone."""
        name = self.upload.name
        type(self).objects.filter(pk=self.pk).update(upload="")
        in_use = type(self).objects.filter(upload=name).exclude(pk=self.pk).exists()
        return {name} if name and not in_use else set()

    def record_visible_to(self, staff) -> bool:
        """The receiving section and the records officers (unless 秘) read the content."""
        from .selectors import is_records_officer

        if not getattr(staff, "is_authenticated", False):
            return False
        department = getattr(staff, "department", None)
        if department is not None and department.pk == self.department_id:
            return True
        return not self.confidential and is_records_officer(staff)


class ReceiptCounter(models.Model):
    """The last 収受番号 per (fiscal year, department); locked while a number is taken."""

    fiscal_year = models.PositiveSmallIntegerField()
    department = models.ForeignKey("org.Department", on_delete=models.PROTECT, related_name="+")
    last_serial = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("収受番号の採番")
        verbose_name_plural = _("収受番号の採番")
        constraints = [
            models.UniqueConstraint(
                fields=["fiscal_year", "department"], name="records_receipt_counter_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.fiscal_year} {self.department_id} #{self.last_serial}"


class RegisterExport(models.Model):
    """A register (管理簿, 廃棄簿, 移管リスト, holds) exported in the background."""

    class Kind(models.TextChoices):
        FILES = "files", _("行政文書ファイル管理簿")
        DISPOSAL = "disposal", _("廃棄簿")
        TRANSFER = "transfer", _("移管リスト")
        HOLDS = "holds", _("延長事由ごとの簿冊一覧")

    class Format(models.TextChoices):
        XLSX = "xlsx", "Excel (xlsx)"
        CSV = "csv", "CSV (UTF-8 BOM)"

    class Status(models.TextChoices):
        QUEUED = "queued", _("待機中")
        RUNNING = "running", _("作成中")
        DONE = "done", _("完了")
        FAILED = "failed", _("失敗")

    kind = models.CharField(_("種類"), max_length=10, choices=Kind.choices)
    format = models.CharField(_("形式"), max_length=5, choices=Format.choices)
    filters = models.JSONField(_("条件"), default=dict, blank=True)
    status = models.CharField(
        _("状態"), max_length=8, choices=Status.choices, default=Status.QUEUED
    )
    rows_done = models.PositiveIntegerField(default=0)
    rows_total = models.PositiveIntegerField(default=0)
    output = models.FileField(max_length=200, blank=True)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(STAFF, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("台帳の出力")
        verbose_name_plural = _("台帳の出力")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.created_at:%Y-%m-%d %H:%M}"
