"""The audit trail: append-only, hash-chained events.

hash = sha256(previous hash + canonical JSON of the event). The chain head (one row)
holds the last hash and the count and is locked while an event is written, so events
are numbered without gaps in commit order and a removed tail is noticed too.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils.translation import gettext_lazy as _

GENESIS_HASH = "0" * 64


class AuditImmutableError(Exception):
    """Raised when code tries to change or remove an audit event."""

    def __init__(self) -> None:
        super().__init__(
            "監査ログは追記のみです。変更・削除はできません。 (Audit events are append-only.)"
        )


class AuditEventQuerySet(models.QuerySet["AuditEvent"]):
    def update(self, **kwargs):
        raise AuditImmutableError

    def delete(self):
        raise AuditImmutableError

    def for_target(self, obj: models.Model) -> AuditEventQuerySet:
        return self.filter(
            target_type=ContentType.objects.get_for_model(obj), target_id=str(obj.pk)
        )


class AuditEvent(models.Model):
    seq = models.PositiveBigIntegerField(_("通番"), unique=True)
    occurred_at = models.DateTimeField(_("日時"), db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("操作者"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    action = models.CharField(_("操作"), max_length=100, db_index=True)
    target_type = models.ForeignKey(
        ContentType,
        verbose_name=_("対象の種類"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    target_id = models.CharField(_("対象ID"), max_length=64, blank=True)
    target_repr = models.CharField(_("対象"), max_length=200, blank=True)
    data = models.JSONField(_("内容"), default=dict, blank=True)
    request_id = models.CharField(_("リクエストID"), max_length=64, blank=True)
    prev_hash = models.CharField(_("前のハッシュ"), max_length=64)
    hash = models.CharField(_("ハッシュ"), max_length=64, unique=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        verbose_name = _("監査イベント")
        verbose_name_plural = _("監査イベント")
        ordering = ["seq"]
        indexes = [models.Index(fields=["target_type", "target_id", "seq"])]
        default_permissions = ("view",)

    def __str__(self) -> str:
        return f"#{self.seq} {self.action}"

    def save(self, *args, **kwargs) -> None:
        if not self._state.adding:
            raise AuditImmutableError
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AuditImmutableError


class AuditChainHead(models.Model):
    """The single row that serialises writers and remembers where the chain ends."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    last_seq = models.PositiveBigIntegerField(default=0)
    last_hash = models.CharField(max_length=64, default=GENESIS_HASH)

    class Meta:
        verbose_name = _("監査ログの末尾")
        default_permissions = ()

    def __str__(self) -> str:
        return f"#{self.last_seq}"
