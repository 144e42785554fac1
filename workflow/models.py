"""The approval engine's state: routes of stages of steps, their history, 後閲 and notices.

A route belongs to one subject (a 起案文書, a leave request, a disposal batch …) through
a generic relation; the engine knows subjects only through `workflow.subjects.Subject`.
Each submission is a new route (round); earlier rounds stay as history.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from guardian.models import UserObjectPermissionBase

STAFF = settings.AUTH_USER_MODEL


class Route(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", _("回議中")
        APPROVED = "approved", _("決裁済")
        RETURNED = "returned", _("差戻し")
        REJECTED = "rejected", _("却下")
        WITHDRAWN = "withdrawn", _("取下げ")

    subject_type = models.ForeignKey(ContentType, on_delete=models.PROTECT, related_name="+")
    subject_id = models.PositiveBigIntegerField()
    subject = GenericForeignKey("subject_type", "subject_id")
    round = models.PositiveSmallIntegerField(_("回"), default=1)
    status = models.CharField(
        _("状態"), max_length=12, choices=Status.choices, default=Status.ACTIVE
    )
    title = models.CharField(_("件名"), max_length=300)
    department = models.ForeignKey(
        "org.Department", verbose_name=_("起案課"), on_delete=models.PROTECT, related_name="+"
    )
    submitted_by = models.ForeignKey(
        STAFF, verbose_name=_("起案者"), on_delete=models.PROTECT, related_name="+"
    )
    submitted_at = models.DateTimeField(_("提出日時"))
    finished_at = models.DateTimeField(_("完了日時"), null=True, blank=True)
    important = models.BooleanField(
        _("重要案件"), default=False, help_text=_("代決できません（事務決裁規程）")
    )
    confidential = models.BooleanField(_("秘"), default=False)
    current_stage = models.PositiveSmallIntegerField(_("現在の段"), default=0)

    class Meta:
        verbose_name = _("回議経路")
        verbose_name_plural = _("回議経路")
        ordering = ["-submitted_at"]
        indexes = [models.Index(fields=["subject_type", "subject_id", "round"])]
        constraints = [
            models.UniqueConstraint(
                fields=["subject_type", "subject_id", "round"], name="workflow_route_round_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.title}（第{self.round}回）"

    @property
    def is_open(self) -> bool:
        return self.status == self.Status.ACTIVE


class RouteUserObjectPermission(UserObjectPermissionBase):
    """django-guardian direct foreign key: fast per-object checks on routes."""

    content_object = models.ForeignKey(Route, on_delete=models.CASCADE)


class Stage(models.Model):
    class Kind(models.TextChoices):
        CIRCULATION = "circulation", _("回議")
        CONSULTATION = "consultation", _("合議")
        INFORMATION = "information", _("供覧")
        DECISION = "decision", _("決裁")

    class Status(models.TextChoices):
        WAITING = "waiting", _("未着")
        ACTIVE = "active", _("処理中")
        DONE = "done", _("完了")

    route = models.ForeignKey(Route, on_delete=models.CASCADE, related_name="stages")
    position = models.PositiveSmallIntegerField(_("段"))
    kind = models.CharField(_("種別"), max_length=15, choices=Kind.choices)
    required_approvals = models.PositiveSmallIntegerField(
        _("必要な承認数"), null=True, blank=True, help_text=_("空欄は全員（合議の N-of-M）")
    )
    status = models.CharField(
        _("状態"), max_length=10, choices=Status.choices, default=Status.WAITING
    )
    required = models.BooleanField(_("必須"), default=True)
    added_by = models.ForeignKey(
        STAFF, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        verbose_name = _("段")
        verbose_name_plural = _("段")
        ordering = ["route", "position"]
        constraints = [
            models.UniqueConstraint(fields=["route", "position"], name="workflow_stage_position")
        ]

    def __str__(self) -> str:
        return f"{self.route_id}:{self.position} {self.get_kind_display()}"

    @property
    def blocks(self) -> bool:
        """供覧 is for information: it never holds the route up."""
        return self.kind != self.Kind.INFORMATION


class StepQuerySet(models.QuerySet["Step"]):
    def pending(self) -> StepQuerySet:
        return self.filter(status=Step.Status.PENDING)


class Step(models.Model):
    class Status(models.TextChoices):
        WAITING = "waiting", _("未着")
        PENDING = "pending", _("処理待ち")
        APPROVED = "approved", _("承認")
        DECIDED = "decided", _("決裁")
        SEEN = "seen", _("確認済")
        RETURNED = "returned", _("差戻し")
        REJECTED = "rejected", _("却下")
        SKIPPED = "skipped", _("省略")

    class Mode(models.TextChoices):
        NORMAL = "normal", _("本人")
        DEPUTY = "deputy", _("代決")
        PULLED_UP = "pulled_up", _("引上げ（後閲）")
        NOT_NEEDED = "not_needed", _("不要（合議の必要数に達した）")

    ACTED = (Status.APPROVED, Status.DECIDED, Status.SEEN, Status.RETURNED, Status.REJECTED)

    route = models.ForeignKey(Route, on_delete=models.CASCADE, related_name="steps")
    stage = models.ForeignKey(Stage, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveSmallIntegerField(default=0)
    # Who is asked: a post in a department (resolved when the step becomes active), a
    # post anywhere (市長), or a named person.
    department = models.ForeignKey(
        "org.Department", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    post = models.ForeignKey(
        "org.Post", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    person = models.ForeignKey(
        STAFF, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    assignee = models.ForeignKey(
        STAFF,
        verbose_name=_("担当者"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="workflow_steps",
    )
    status = models.CharField(
        _("状態"), max_length=10, choices=Status.choices, default=Status.WAITING
    )
    mode = models.CharField(_("処理区分"), max_length=12, choices=Mode.choices, blank=True)
    acted_by = models.ForeignKey(
        STAFF, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    acted_at = models.DateTimeField(null=True, blank=True)
    comment = models.TextField(_("意見"), blank=True)
    activated_at = models.DateTimeField(null=True, blank=True)
    due_at = models.DateTimeField(_("処理期限"), null=True, blank=True)
    reminded_at = models.DateTimeField(null=True, blank=True)
    required = models.BooleanField(_("必須"), default=True)
    added_by = models.ForeignKey(
        STAFF, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    objects = StepQuerySet.as_manager()

    class Meta:
        verbose_name = _("処理段階")
        verbose_name_plural = _("処理段階")
        ordering = ["route", "stage__position", "position"]
        indexes = [
            models.Index(
                fields=["assignee", "status", "due_at"],
                name="workflow_step_inbox",
                condition=Q(status="pending"),
            ),
            models.Index(fields=["status", "due_at"], name="workflow_step_due"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(post__isnull=False) | Q(person__isnull=False),
                name="workflow_step_has_assignee_spec",
            )
        ]

    def __str__(self) -> str:
        who = self.assignee or self.person or self.post
        return f"{self.route_id}:{self.stage_id} {who}"

    @property
    def is_pending(self) -> bool:
        return self.status == self.Status.PENDING

    @property
    def assignee_label(self) -> str:
        if self.assignee_id:
            return str(self.assignee)
        if self.person_id:
            return str(self.person)
        return f"{self.department or ''} {self.post or ''}".strip()


class Action(models.Model):
    """The route's history as people read it (the audit log holds the tamper-evident copy)."""

    class Kind(models.TextChoices):
        SUBMIT = "submit", _("起案")
        APPROVE = "approve", _("承認")
        DECIDE = "decide", _("決裁")
        SEEN = "seen", _("供覧確認")
        RETURN = "return", _("差戻し")
        REJECT = "reject", _("却下")
        WITHDRAW_APPROVAL = "withdraw_approval", _("引戻し")
        WITHDRAW = "withdraw", _("取下げ")
        PULL_UP = "pull_up", _("引上げ")
        COMMENT = "comment", _("意見")
        ADD_STEP = "add_step", _("経路追加")
        REMOVE_STEP = "remove_step", _("経路削除")
        POST_REVIEW = "post_review", _("後閲")

    route = models.ForeignKey(Route, on_delete=models.CASCADE, related_name="actions")
    # SET_NULL: removing an added stage must not erase the history of adding it.
    step = models.ForeignKey(
        Step, null=True, blank=True, on_delete=models.SET_NULL, related_name="actions"
    )
    kind = models.CharField(_("操作"), max_length=20, choices=Kind.choices)
    data = models.JSONField(default=dict, blank=True)
    actor = models.ForeignKey(
        STAFF, verbose_name=_("操作者"), on_delete=models.PROTECT, related_name="+"
    )
    on_behalf_of = models.ForeignKey(
        STAFF, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    comment = models.TextField(_("意見"), blank=True)
    at = models.DateTimeField(_("日時"))
    client_request_id = models.CharField(max_length=64, blank=True)

    class Meta:
        verbose_name = _("処理履歴")
        verbose_name_plural = _("処理履歴")
        ordering = ["at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["actor", "client_request_id"],
                condition=~Q(client_request_id=""),
                name="workflow_action_idempotent",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.actor}"


class PostReview(models.Model):
    """後閲: the absent holder reviews after the fact; it never blocks the decision."""

    class Reason(models.TextChoices):
        DEPUTY = "deputy", _("代決")
        PULLED_UP = "pulled_up", _("引上げ")

    step = models.ForeignKey(Step, on_delete=models.CASCADE, related_name="post_reviews")
    reviewer = models.ForeignKey(
        STAFF, on_delete=models.PROTECT, related_name="workflow_post_reviews"
    )
    reason = models.CharField(max_length=10, choices=Reason.choices)
    created_at = models.DateTimeField()
    done_at = models.DateTimeField(null=True, blank=True)
    comment = models.TextField(blank=True)

    class Meta:
        verbose_name = _("後閲")
        verbose_name_plural = _("後閲")
        ordering = ["-created_at"]
        indexes = [
            models.Index(
                fields=["reviewer", "created_at"],
                name="workflow_postreview_open",
                condition=Q(done_at__isnull=True),
            )
        ]

    def __str__(self) -> str:
        return f"後閲 {self.reviewer} step {self.step_id}"


class Notification(models.Model):
    """An in-app notice (督促, returned, decided …); no mail server is needed."""

    class Kind(models.TextChoices):
        REMINDER = "reminder", _("督促")
        ASSIGNED = "assigned", _("処理依頼")
        RESULT = "result", _("処理結果")
        POST_REVIEW = "post_review", _("後閲依頼")
        ALERT = "alert", _("要対応")

    recipient = models.ForeignKey(STAFF, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    message = models.CharField(max_length=300)
    url = models.CharField(max_length=300, blank=True)
    step = models.ForeignKey(
        Step, null=True, blank=True, on_delete=models.CASCADE, related_name="notifications"
    )
    created_at = models.DateTimeField()
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("お知らせ")
        verbose_name_plural = _("お知らせ")
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["recipient", "read_at", "created_at"])]

    def __str__(self) -> str:
        return self.message
