"""Paperless meetings: meetings, participants, agenda, materials and their page images,
private notes, the live state of a session, and the minutes.

Who may see a meeting is a django-guardian object permission (`meetings.view_meeting`,
and `meetings.present_meeting` for the organiser, chair and presenters), granted per
person from the participant list: inviting a department or a group adds its members as
participants at that moment (`Participant.invited_via` says how). Every page image and
socket re-checks it.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from guardian.models import GroupObjectPermissionBase, UserObjectPermissionBase

from .records import MinutesRecordSource

STAFF = settings.AUTH_USER_MODEL


class Meeting(models.Model):
    class Kind(models.TextChoices):
        CHOGI = "chogi", _("庁議")
        BUCHO = "bucho", _("部長会議")
        KACHO = "kacho", _("課長会議")
        KANAI = "kanai", _("課内会議")
        COMMITTEE = "committee", _("委員会・審議会")
        OTHER = "other", _("その他")

    class Status(models.TextChoices):
        DRAFT = "draft", _("準備中")
        PUBLISHED = "published", _("公開済")
        IN_SESSION = "in_session", _("開催中")
        CLOSED = "closed", _("終了")

    title = models.CharField(_("会議名"), max_length=200)
    kind = models.CharField(_("種類"), max_length=10, choices=Kind.choices, default=Kind.KANAI)
    starts_at = models.DateTimeField(_("開始日時"))
    ends_at = models.DateTimeField(_("終了予定"))
    place = models.CharField(_("場所"), max_length=200, blank=True)
    department = models.ForeignKey(
        "org.Department", verbose_name=_("主催課"), on_delete=models.PROTECT, related_name="+"
    )
    organiser = models.ForeignKey(
        STAFF, verbose_name=_("主催者"), on_delete=models.PROTECT, related_name="+"
    )
    chair = models.ForeignKey(
        STAFF,
        verbose_name=_("議長"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    confidential = models.BooleanField(
        _("秘"),
        default=False,
        help_text=_("資料を参加者ごとの透かし入りで表示し、原本は配布しない"),
    )
    allow_download = models.BooleanField(
        _("原本PDFのダウンロードを許可"), default=False, help_text=_("秘の資料は常に不可")
    )
    classification = models.ForeignKey(
        "records.Classification",
        verbose_name=_("文書分類（議事録）"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    status = models.CharField(
        _("状態"), max_length=10, choices=Status.choices, default=Status.DRAFT
    )
    created_at = models.DateTimeField(_("作成日時"), auto_now_add=True)
    published_at = models.DateTimeField(_("公開日時"), null=True, blank=True)
    closed_at = models.DateTimeField(_("終了日時"), null=True, blank=True)
    access_until = models.DateTimeField(
        _("閲覧期限"),
        null=True,
        blank=True,
        help_text=_("秘の会議: 終了後この日時で閲覧できなくなる"),
    )

    class Meta:
        verbose_name = _("会議")
        verbose_name_plural = _("会議")
        ordering = ["-starts_at", "-pk"]
        permissions = [
            ("attend_meeting", _("会議に参加する")),
            ("present_meeting", _("会議の資料を操作する")),
        ]
        indexes = [models.Index(fields=["status", "starts_at"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gte=models.F("starts_at")), name="meetings_meeting_span"
            )
        ]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("meetings:meeting", args=[self.pk])


class MeetingUserObjectPermission(UserObjectPermissionBase):
    content_object = models.ForeignKey(Meeting, on_delete=models.CASCADE)


class MeetingGroupObjectPermission(GroupObjectPermissionBase):
    content_object = models.ForeignKey(Meeting, on_delete=models.CASCADE)


class Participant(models.Model):
    class Role(models.TextChoices):
        CHAIR = "chair", _("議長")
        PRESENTER = "presenter", _("説明者")
        MEMBER = "member", _("出席者")
        OBSERVER = "observer", _("陪席")

    PRESENTING = (Role.CHAIR, Role.PRESENTER)

    meeting = models.ForeignKey(Meeting, on_delete=models.CASCADE, related_name="participants")
    staff = models.ForeignKey(
        STAFF, verbose_name=_("職員"), on_delete=models.PROTECT, related_name="+"
    )
    role = models.CharField(_("役割"), max_length=10, choices=Role.choices, default=Role.MEMBER)
    invited_via = models.CharField(_("招集の単位"), max_length=120, blank=True)
    department_name = models.CharField(
        _("所属（招集時）"), max_length=100, blank=True, help_text=_("透かしに使う")
    )
    added_at = models.DateTimeField(_("追加日時"), auto_now_add=True)

    class Meta:
        verbose_name = _("参加者")
        verbose_name_plural = _("参加者")
        ordering = ["meeting", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["meeting", "staff"], name="meetings_participant_once")
        ]

    def __str__(self) -> str:
        return f"{self.meeting} {self.staff}"


class AgendaItem(models.Model):
    meeting = models.ForeignKey(Meeting, on_delete=models.CASCADE, related_name="agenda")
    position = models.PositiveSmallIntegerField(_("順"))
    title = models.CharField(pgettext_lazy("agenda item", "議題"), max_length=200)
    presenter = models.ForeignKey(
        STAFF,
        verbose_name=_("説明者"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )

    class Meta:
        verbose_name = pgettext_lazy("agenda item", "議題")
        verbose_name_plural = pgettext_lazy("agenda item", "議題")
        ordering = ["meeting", "position"]

    def __str__(self) -> str:
        return f"{self.position}. {self.title}"


class Material(models.Model):
    meeting = models.ForeignKey(Meeting, on_delete=models.CASCADE, related_name="materials")
    agenda_item = models.ForeignKey(
        AgendaItem,
        verbose_name=pgettext_lazy("agenda item", "議題"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="materials",
    )
    title = models.CharField(_("資料名"), max_length=200)
    position = models.PositiveSmallIntegerField(_("順"), default=0)
    confidential = models.BooleanField(_("秘"), default=False)
    current_version = models.ForeignKey(
        "MaterialVersion",
        verbose_name=_("現在の版"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    revoked_at = models.DateTimeField(_("回収日時"), null=True, blank=True)
    revoked_by = models.ForeignKey(
        STAFF,
        verbose_name=_("回収した人"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    created_at = models.DateTimeField(_("登録日時"), auto_now_add=True)

    class Meta:
        verbose_name = _("資料")
        verbose_name_plural = _("資料")
        ordering = ["meeting", "position", "pk"]

    def __str__(self) -> str:
        return self.title

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None


def version_path(instance: MaterialVersion, filename: str) -> str:
    return f"meetings/{instance.material.meeting_id}/originals/{instance.sha256}"


class MaterialVersion(models.Model):
    class RenderStatus(models.TextChoices):
        PENDING = "pending", _("変換待ち")
        RENDERING = "rendering", _("変換中")
        DONE = "done", _("変換済")
        FAILED = "failed", _("変換失敗")

    material = models.ForeignKey(Material, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveSmallIntegerField(_("版"))
    file = models.FileField(_("原本"), upload_to=version_path, max_length=300)
    original_name = models.CharField(_("ファイル名"), max_length=255)
    content_type = models.CharField(_("形式"), max_length=50)
    size = models.PositiveBigIntegerField(_("サイズ"))
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    page_count = models.PositiveIntegerField(_("ページ数"))
    uploaded_by = models.ForeignKey(
        STAFF, verbose_name=_("登録者"), on_delete=models.PROTECT, related_name="+"
    )
    uploaded_at = models.DateTimeField(_("登録日時"))
    render_status = models.CharField(
        _("変換"), max_length=10, choices=RenderStatus.choices, default=RenderStatus.PENDING
    )
    render_done = models.PositiveIntegerField(_("変換済みの画像"), default=0)
    render_total = models.PositiveIntegerField(_("変換する画像"), default=0)
    render_error = models.CharField(_("変換エラー"), max_length=500, blank=True)
    rendered_at = models.DateTimeField(_("変換完了"), null=True, blank=True)
    notes_carried = models.BooleanField(_("メモを引継済"), default=False)

    class Meta:
        verbose_name = _("資料の版")
        verbose_name_plural = _("資料の版")
        ordering = ["material", "number"]
        constraints = [
            models.UniqueConstraint(fields=["material", "number"], name="meetings_version_once")
        ]

    def __str__(self) -> str:
        return f"{self.material} 第{self.number}版"

    @property
    def is_pdf(self) -> bool:
        return self.content_type == "application/pdf"


class Page(models.Model):
    """One page of a version: its content hash (for carrying notes) and, unless the
    material is confidential, its shared images (tablet width and 2×)."""

    version = models.ForeignKey(MaterialVersion, on_delete=models.CASCADE, related_name="pages")
    number = models.PositiveIntegerField(_("ページ"))
    content_hash = models.CharField(_("内容のハッシュ"), max_length=64)
    width = models.PositiveIntegerField(_("幅"))
    height = models.PositiveIntegerField(_("高さ"))
    image = models.CharField(_("画像"), max_length=300, blank=True)
    image_2x = models.CharField(_("画像（2倍）"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("ページ")
        verbose_name_plural = _("ページ")
        ordering = ["version", "number"]
        constraints = [
            models.UniqueConstraint(fields=["version", "number"], name="meetings_page_once")
        ]

    def __str__(self) -> str:
        return f"{self.version} p.{self.number}"


class ViewerPage(models.Model):
    """A confidential page rendered for one participant, with their watermark burned in."""

    page = models.ForeignKey(Page, on_delete=models.CASCADE, related_name="viewer_images")
    viewer = models.ForeignKey(STAFF, on_delete=models.CASCADE, related_name="+")
    image = models.CharField(_("画像"), max_length=300)
    image_2x = models.CharField(_("画像（2倍）"), max_length=300)
    created_at = models.DateTimeField(_("作成日時"), auto_now_add=True)

    class Meta:
        verbose_name = _("透かし入りページ")
        verbose_name_plural = _("透かし入りページ")
        constraints = [
            models.UniqueConstraint(fields=["page", "viewer"], name="meetings_viewer_page_once")
        ]

    def __str__(self) -> str:
        return f"{self.page} ({self.viewer_id})"


class Note(models.Model):
    """A participant's private note on a page; never shared, never broadcast."""

    staff = models.ForeignKey(STAFF, on_delete=models.CASCADE, related_name="+")
    version = models.ForeignKey(MaterialVersion, on_delete=models.CASCADE, related_name="notes")
    page_number = models.PositiveIntegerField(_("ページ"))
    text = models.TextField(_("メモ"), max_length=5000)
    read_only = models.BooleanField(
        _("読み取り専用"),
        default=False,
        help_text=_("新しい版でページが変わったため引き継がなかったメモ"),
    )
    carried_from = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(_("更新日時"), auto_now=True)

    class Meta:
        verbose_name = _("個人メモ")
        verbose_name_plural = _("個人メモ")
        ordering = ["version", "page_number"]
        constraints = [
            models.UniqueConstraint(
                fields=["staff", "version", "page_number"], name="meetings_note_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.version} p.{self.page_number} ({self.staff_id})"


class LiveState(models.Model):
    """The session's state, outside any worker process: what the presenter shows.

    `seq` goes up by one on every change; every broadcast carries it, so a tablet that
    missed one asks for a snapshot (see meetings/live.py).
    """

    meeting = models.OneToOneField(Meeting, on_delete=models.CASCADE, related_name="live")
    seq = models.PositiveBigIntegerField(default=0)
    material = models.ForeignKey(
        Material, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    version = models.ForeignKey(
        MaterialVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    page = models.PositiveIntegerField(default=1)
    forced = models.BooleanField(_("強制同期"), default=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("会議の進行状態")
        verbose_name_plural = _("会議の進行状態")

    def __str__(self) -> str:
        return f"{self.meeting_id} seq {self.seq}"


class Presence(models.Model):
    """One open socket of a participant (several tablets are several rows)."""

    meeting = models.ForeignKey(Meeting, on_delete=models.CASCADE, related_name="+")
    staff = models.ForeignKey(STAFF, on_delete=models.CASCADE, related_name="+")
    channel_name = models.CharField(max_length=200, unique=True)
    connected_at = models.DateTimeField()
    seen_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["meeting", "seen_at"])]

    def __str__(self) -> str:
        return f"{self.meeting_id} {self.staff_id} {self.channel_name}"


def minutes_path(instance: Minutes, filename: str) -> str:
    return f"meetings/{instance.meeting_id}/minutes/{instance.sha256 or 'text'}"


class Minutes(MinutesRecordSource, models.Model):
    """議事録: written text or an uploaded PDF; filed as a record once the meeting closed."""

    meeting = models.OneToOneField(Meeting, on_delete=models.PROTECT, related_name="minutes")
    text = models.TextField(_("本文"), blank=True)
    file = models.FileField(_("PDF"), upload_to=minutes_path, blank=True, max_length=300)
    original_name = models.CharField(_("ファイル名"), max_length=255, blank=True)
    sha256 = models.CharField(_("SHA-256"), max_length=64, blank=True)
    written_by = models.ForeignKey(
        STAFF, verbose_name=_("作成者"), on_delete=models.PROTECT, related_name="+"
    )
    written_at = models.DateTimeField(_("作成日時"))
    record = models.OneToOneField(
        "records.Record",
        verbose_name=_("記録"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )

    class Meta:
        verbose_name = _("議事録")
        verbose_name_plural = _("議事録")

    def __str__(self) -> str:
        return f"{self.meeting} 議事録"
