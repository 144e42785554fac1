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

    def get_absolute_url(self) -> str:
        return reverse("records:record", args=[self.pk])

    @property
    def is_signed(self) -> bool:
        return self.status == self.Status.SIGNED


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

    class Meta:
        verbose_name = _("公文書の版")
        verbose_name_plural = _("公文書の版")
        ordering = ["record", "created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.record_id} {self.get_reason_display()} {self.sha256[:12]}"
