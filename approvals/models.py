"""起案文書 (drafted documents), the authority table (事務決裁規程) and document numbers."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from common.dates import today

STAFF = settings.AUTH_USER_MODEL


class MatterCategory(models.Model):
    """A kind of matter in the authority table: 物品購入, 工事, 人件費, 条例・規則 …"""

    code = models.CharField(_("コード"), max_length=30, unique=True)
    name = models.CharField(_("名称"), max_length=100)
    sort_order = models.PositiveIntegerField(_("表示順"), default=0)

    class Meta:
        verbose_name = _("事案の区分")
        verbose_name_plural = _("事案の区分")
        ordering = ["sort_order", "code"]

    def __str__(self) -> str:
        return self.name


class AuthorityTableQuerySet(models.QuerySet["AuthorityTable"]):
    def in_force(self, day=None) -> AuthorityTable | None:
        """The version that applies on `day`: the latest whose start has come."""
        return self.filter(effective_from__lte=day or today()).order_by("-effective_from").first()


class AuthorityTable(models.Model):
    """One version of the 事務決裁規程. A version that has come into force never changes;
    a change is a new version with the date it applies from (both audited)."""

    version = models.PositiveIntegerField(_("版"), unique=True)
    effective_from = models.DateField(_("施行日"), unique=True)
    note = models.CharField(_("改正内容"), max_length=300, blank=True)
    created_by = models.ForeignKey(STAFF, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(_("作成日時"))

    objects = AuthorityTableQuerySet.as_manager()

    class Meta:
        verbose_name = _("事務決裁規程（版）")
        verbose_name_plural = _("事務決裁規程（版）")
        ordering = ["-effective_from"]

    def __str__(self) -> str:
        return f"第{self.version}版（{self.effective_from} 施行）"

    @property
    def is_in_force_or_past(self) -> bool:
        return self.effective_from <= today()


class AuthorityLevel(models.Model):
    """The ladder of deciding posts (課長 < 部長 < 副市長 < 市長); "important" climbs one."""

    table = models.ForeignKey(AuthorityTable, on_delete=models.CASCADE, related_name="levels")
    level = models.PositiveSmallIntegerField(_("段階"))
    post = models.ForeignKey("org.Post", on_delete=models.PROTECT, related_name="+")

    class Meta:
        verbose_name = _("決裁権者の段階")
        verbose_name_plural = _("決裁権者の段階")
        ordering = ["table", "level"]
        constraints = [
            models.UniqueConstraint(fields=["table", "level"], name="approvals_level_unique"),
            models.UniqueConstraint(fields=["table", "post"], name="approvals_level_post_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.level}: {self.post}"


class AuthorityRule(models.Model):
    """Matter × amount band → deciding post and required 合議 departments."""

    table = models.ForeignKey(AuthorityTable, on_delete=models.CASCADE, related_name="rules")
    category = models.ForeignKey(MatterCategory, on_delete=models.PROTECT, related_name="rules")
    amount_min = models.PositiveBigIntegerField(_("金額（以上）"), default=0)
    amount_max = models.PositiveBigIntegerField(
        _("金額（以下）"), null=True, blank=True, help_text=_("空欄は上限なし")
    )
    decider = models.ForeignKey(
        "org.Post", verbose_name=_("決裁権者"), on_delete=models.PROTECT, related_name="+"
    )
    consult_departments = models.ManyToManyField(
        "org.Department", verbose_name=_("合議先"), blank=True, related_name="+"
    )
    always_important = models.BooleanField(
        _("常に重要案件"), default=False, help_text=_("代決不可・決裁権者を一段上げる")
    )

    class Meta:
        verbose_name = _("専決区分")
        verbose_name_plural = _("専決区分")
        ordering = ["table", "category", "amount_min"]
        constraints = [
            models.CheckConstraint(
                condition=Q(amount_max__isnull=True) | Q(amount_max__gte=models.F("amount_min")),
                name="approvals_rule_band_order",
            )
        ]

    def __str__(self) -> str:
        top = f"{self.amount_max:,}円" if self.amount_max is not None else ""
        return f"{self.category} {self.amount_min:,}円〜{top} → {self.decider}"

    def covers(self, amount: int) -> bool:
        return self.amount_min <= amount and (self.amount_max is None or amount <= self.amount_max)


class Document(models.Model):
    """起案文書."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("起案中")
        IN_REVIEW = "in_review", _("回議中")
        RETURNED = "returned", _("差戻し")
        WITHDRAWN = "withdrawn", _("取下げ")
        DECIDED = "decided", _("決裁済")
        REJECTED = "rejected", _("却下")
        ISSUED = "issued", _("施行済")
        COMPLETED = "completed", _("完結")

    class Confidentiality(models.TextChoices):
        NORMAL = "normal", _("通常")
        CONFIDENTIAL = "confidential", _("秘")
        STRICT = "strict", _("厳秘")

    class Retention(models.TextChoices):
        LESS_THAN_1 = "lt1", _("1年未満")
        Y1 = "1", _("1年")
        Y3 = "3", _("3年")
        Y5 = "5", _("5年")
        Y10 = "10", _("10年")
        Y30 = "30", _("30年")
        PERMANENT = "permanent", _("永年")

    EDITABLE = (Status.DRAFT, Status.RETURNED, Status.WITHDRAWN)
    TRANSITIONS: dict[str, set[str]] = {
        Status.DRAFT: {Status.IN_REVIEW},
        Status.IN_REVIEW: {Status.DECIDED, Status.RETURNED, Status.REJECTED, Status.WITHDRAWN},
        Status.RETURNED: {Status.IN_REVIEW, Status.WITHDRAWN},
        Status.WITHDRAWN: {Status.IN_REVIEW},
        Status.DECIDED: {Status.ISSUED, Status.COMPLETED},
        Status.ISSUED: {Status.COMPLETED},
        Status.REJECTED: set(),
        Status.COMPLETED: set(),
    }

    title = models.CharField(_("件名"), max_length=300)
    body = models.TextField(_("本文"), blank=True)
    category = models.ForeignKey(
        MatterCategory, verbose_name=_("事案の区分"), on_delete=models.PROTECT, related_name="+"
    )
    amount = models.PositiveBigIntegerField(_("金額（円）"), null=True, blank=True)
    important = models.BooleanField(
        _("重要・異例"), default=False, help_text=_("決裁権者が一段上がり、代決できません")
    )
    confidentiality = models.CharField(
        _("秘密区分"),
        max_length=12,
        choices=Confidentiality.choices,
        default=Confidentiality.NORMAL,
    )
    retention = models.CharField(
        _("保存期間"), max_length=10, choices=Retention.choices, default=Retention.Y5
    )
    classification = models.ForeignKey(
        "records.Classification",
        verbose_name=_("文書分類"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("文書分類表の小分類。決裁後、この分類の簿冊に編てつされます"),
    )
    doc_type = models.CharField(
        _("文書の種類記号"),
        max_length=5,
        blank=True,
        help_text=_("番号の系列を分ける記号（空欄は一般）"),
    )
    status = models.CharField(
        _("状態"), max_length=12, choices=Status.choices, default=Status.DRAFT, db_index=True
    )
    drafter = models.ForeignKey(
        STAFF, verbose_name=_("起案者"), on_delete=models.PROTECT, related_name="drafted_documents"
    )
    department = models.ForeignKey(
        "org.Department", verbose_name=_("起案課"), on_delete=models.PROTECT, related_name="+"
    )
    drafted_on = models.DateField(_("起案日"))
    created_at = models.DateTimeField(_("作成日時"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新日時"), auto_now=True)
    # Set at decision (文書番号) and afterwards.
    number = models.CharField(_("文書番号"), max_length=40, blank=True, db_index=True)
    number_fiscal_year = models.PositiveSmallIntegerField(null=True, blank=True)
    number_symbol = models.CharField(max_length=15, blank=True)
    number_serial = models.PositiveIntegerField(null=True, blank=True)
    number_branch = models.PositiveSmallIntegerField(
        _("枝番"), default=0, help_text=_("0 は枝番なし")
    )
    branch_of = models.ForeignKey(
        "self",
        verbose_name=_("枝番の親文書"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="branches",
    )
    decided_at = models.DateTimeField(_("決裁日時"), null=True, blank=True)
    decided_by = models.ForeignKey(
        STAFF, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    issued_on = models.DateField(_("施行日"), null=True, blank=True)
    completed_on = models.DateField(_("完結日"), null=True, blank=True)

    class Meta:
        verbose_name = _("起案文書")
        verbose_name_plural = _("起案文書")
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["drafter", "status"])]
        constraints = [
            models.UniqueConstraint(
                fields=["number_fiscal_year", "number_symbol", "number_serial", "number_branch"],
                name="approvals_document_number_unique",
                condition=Q(number_serial__isnull=False),
            )
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.title}" if self.number else self.title

    def get_absolute_url(self) -> str:
        return reverse("approvals:document", args=[self.pk])

    @property
    def is_editable(self) -> bool:
        return self.status in self.EDITABLE

    @property
    def is_confidential(self) -> bool:
        return self.confidentiality != self.Confidentiality.NORMAL

    def can_move_to(self, status: str) -> bool:
        return status in self.TRANSITIONS.get(self.status, set())

    # --- the workflow subject protocol (workflow.subjects.Subject) -----------------

    def workflow_title(self) -> str:
        return self.title

    def workflow_summary(self) -> str:
        amount = f"{self.amount:,}円" if self.amount is not None else ""
        return " ".join(p for p in (str(self.category), amount) if p)

    def workflow_on_approved(self, *, route, actor) -> None:
        from .services import document_on_decided

        document_on_decided(document=self, route=route, actor=actor)

    def workflow_on_rejected(self, *, route, actor) -> None:
        from .services import document_set_status

        document_set_status(document=self, status=self.Status.REJECTED, actor=actor)

    def workflow_on_returned(self, *, route, actor) -> None:
        from .services import document_set_status

        document_set_status(document=self, status=self.Status.RETURNED, actor=actor)

    def workflow_on_withdrawn(self, *, route, actor) -> None:
        from .services import document_set_status

        document_set_status(document=self, status=self.Status.WITHDRAWN, actor=actor)

    # --- the records source protocol (records.payload.RecordSource) -----------------

    def record_payload(self):
        from .records import document_record_payload

        return document_record_payload(self)

    def record_destroy_content(self) -> set[str]:
        """廃棄 at the end of retention: the body and the attachments' bytes go; the rows
        stay as the tombstone (件名, number, sha256). Returns the storage names to delete
        once the disposal commits (those no other live document still uses)."""
        names = set(self.attachments.exclude(file="").values_list("file", flat=True))
        # Attachment rows refuse save(); a queryset update is the disposal's own path.
        self.attachments.update(file="")
        type(self).objects.filter(pk=self.pk).update(body="（保存期間満了により廃棄）")
        still_used = set(Attachment.objects.filter(file__in=names).values_list("file", flat=True))
        return names - still_used

    def record_visible_to(self, staff) -> bool:
        from .selectors import document_visible_to

        return document_visible_to(document=self, staff=staff)


def attachment_path(instance: Attachment, filename: str) -> str:
    # Content-addressed: the name is the sha256, so the same bytes are stored once.
    return f"attachments/{instance.sha256[:2]}/{instance.sha256}"


class Attachment(models.Model):
    """A file on a document. Never deleted or replaced; may be added after the decision."""

    document = models.ForeignKey(Document, on_delete=models.PROTECT, related_name="attachments")
    file = models.FileField(_("ファイル"), upload_to=attachment_path, max_length=200)
    original_name = models.CharField(_("ファイル名"), max_length=255)
    content_type = models.CharField(max_length=100, blank=True)
    size = models.PositiveBigIntegerField(_("サイズ"))
    sha256 = models.CharField(max_length=64, db_index=True)
    uploaded_by = models.ForeignKey(STAFF, on_delete=models.PROTECT, related_name="+")
    uploaded_at = models.DateTimeField(_("登録日時"))
    after_decision = models.BooleanField(_("決裁後の追加"), default=False)

    class Meta:
        verbose_name = _("添付ファイル")
        verbose_name_plural = _("添付ファイル")
        ordering = ["document", "uploaded_at", "pk"]

    def __str__(self) -> str:
        return self.original_name

    def save(self, *args, **kwargs) -> None:
        if not self._state.adding:
            raise ValueError("添付ファイルは差し替えできません。 (Attachments cannot be replaced.)")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("添付ファイルは削除できません。 (Attachments cannot be deleted.)")

    @property
    def is_pdf(self) -> bool:
        return self.content_type == "application/pdf" or self.original_name.lower().endswith(".pdf")


class DocumentNumberCounter(models.Model):
    """The last serial per (fiscal year, 文書記号, type); locked while a number is taken."""

    fiscal_year = models.PositiveSmallIntegerField()
    symbol = models.CharField(max_length=15)
    doc_type = models.CharField(max_length=5, blank=True)
    last_serial = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("文書番号の採番")
        verbose_name_plural = _("文書番号の採番")
        constraints = [
            models.UniqueConstraint(
                fields=["fiscal_year", "symbol", "doc_type"], name="approvals_counter_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.fiscal_year} {self.symbol}{self.doc_type} #{self.last_serial}"
