"""JSON shapes of the approval engine for /api/v1/: the inbox, route timelines, step
actions and 後閲. Serializers parse and shape; every rule stays in workflow.services."""

from __future__ import annotations

from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db.models import TextChoices
from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.request import Request

from .models import Action, PostReview, Route, Stage, Step

CLIENT_REQUEST_ID_MAX = 64  # Action.client_request_id
COMMENT_MAX = 4000
IDEMPOTENCY_HEADER = "Idempotency-Key"


_ENUM_FIELDS: dict[str, type[serializers.ChoiceField]] = {}


def enum_field(
    choices: type[TextChoices], component: str, *, blank: bool = False, **kwargs: Any
) -> serializers.ChoiceField:
    """A choice field documented as one named enum component (StepStatus, RouteStatus …):
    several models have a `status` or `kind`, and each set deserves its own name."""
    values = [*([""] if blank else []), *choices.values]
    field_class = _ENUM_FIELDS.get(component)
    if field_class is None:
        labels = ", ".join(f"`{v}` {label}" for v, label in choices.choices)
        field_class = type(f"{component}Field", (serializers.ChoiceField,), {})
        extend_schema_field(
            {"type": "string", "enum": values, "description": labels}, component_name=component
        )(field_class)
        _ENUM_FIELDS[component] = field_class
    return field_class(choices=[*([("", "")] if blank else []), *choices.choices], **kwargs)


# --- small references -------------------------------------------------------------


class StaffRefSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(source="display_name", read_only=True)


class DepartmentRefSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    code = serializers.CharField(read_only=True)
    name = serializers.CharField(read_only=True)


class PostRefSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    code = serializers.CharField(read_only=True)
    name = serializers.CharField(read_only=True)


def subject_kind(route: Route) -> ContentType:
    # ContentType's own cache: one query per kind per process, never one per row.
    return ContentType.objects.get_for_id(route.subject_type_id)


# --- the route timeline -------------------------------------------------------------


class RouteStepSerializer(serializers.ModelSerializer):
    status = enum_field(Step.Status, "StepStatus", read_only=True)
    mode = enum_field(Step.Mode, "StepMode", blank=True, read_only=True)
    assignee = StaffRefSerializer(read_only=True, allow_null=True)
    acted_by = StaffRefSerializer(read_only=True, allow_null=True)
    assignee_label = serializers.CharField(read_only=True)

    class Meta:
        model = Step
        fields = [
            "id",
            "position",
            "status",
            "mode",
            "assignee",
            "assignee_label",
            "acted_by",
            "acted_at",
            "comment",
            "activated_at",
            "due_at",
            "required",
        ]
        read_only_fields = fields


class RouteStageSerializer(serializers.ModelSerializer):
    kind = enum_field(Stage.Kind, "StageKind", read_only=True)
    status = enum_field(Stage.Status, "StageStatus", read_only=True)
    steps = RouteStepSerializer(many=True, read_only=True)

    class Meta:
        model = Stage
        fields = ["id", "position", "kind", "status", "required_approvals", "required", "steps"]
        read_only_fields = fields


class ActionSerializer(serializers.ModelSerializer):
    kind = enum_field(Action.Kind, "ActionKind", read_only=True)
    step = serializers.IntegerField(source="step_id", read_only=True, allow_null=True)
    actor = StaffRefSerializer(read_only=True)
    on_behalf_of = StaffRefSerializer(read_only=True, allow_null=True)

    class Meta:
        model = Action
        fields = ["id", "kind", "step", "actor", "on_behalf_of", "comment", "at"]
        read_only_fields = fields


class RouteSerializer(serializers.ModelSerializer):
    """One round (回) of a subject, stages → steps, and its history."""

    status = enum_field(Route.Status, "RouteStatus", read_only=True)
    department = DepartmentRefSerializer(read_only=True)
    submitted_by = StaffRefSerializer(read_only=True)
    stages = RouteStageSerializer(many=True, read_only=True)
    actions = ActionSerializer(many=True, read_only=True)

    class Meta:
        model = Route
        fields = [
            "id",
            "round",
            "status",
            "title",
            "department",
            "submitted_by",
            "submitted_at",
            "finished_at",
            "important",
            "confidential",
            "current_stage",
            "stages",
            "actions",
        ]
        read_only_fields = fields


# --- the inbox ----------------------------------------------------------------------


class InboxQuerySerializer(serializers.Serializer):
    kind = serializers.CharField(
        required=False,
        max_length=200,
        help_text="Subject kind, as `app_label.model` (e.g. `approvals.document`).",
    )
    department = serializers.IntegerField(
        required=False, min_value=1, max_value=2**63 - 1, help_text="The drafting department id."
    )

    def validate_kind(self, value: str) -> int:
        app_label, _dot, model = value.partition(".")
        try:
            return ContentType.objects.get_by_natural_key(app_label, model).pk
        except ContentType.DoesNotExist:
            raise serializers.ValidationError(f"不明な種類です: {value}") from None


class InboxItemSerializer(serializers.ModelSerializer):
    """A pending step as the inbox lists it (selectors.inbox_for has joined the rest)."""

    route = serializers.IntegerField(source="route_id", read_only=True)
    kind = serializers.SerializerMethodField()
    kind_name = serializers.SerializerMethodField()
    subject_id = serializers.IntegerField(source="route.subject_id", read_only=True)
    title = serializers.CharField(source="route.title", read_only=True)
    department = DepartmentRefSerializer(source="route.department", read_only=True)
    submitted_by = StaffRefSerializer(source="route.submitted_by", read_only=True)
    submitted_at = serializers.DateTimeField(source="route.submitted_at", read_only=True)
    important = serializers.BooleanField(source="route.important", read_only=True)
    confidential = serializers.BooleanField(source="route.confidential", read_only=True)
    stage_kind = enum_field(Stage.Kind, "StageKind", source="stage.kind", read_only=True)
    assignee = StaffRefSerializer(read_only=True, allow_null=True)
    as_deputy = serializers.SerializerMethodField(
        help_text="True when the requester would act for an absent holder (代決)."
    )
    overdue = serializers.SerializerMethodField()

    class Meta:
        model = Step
        fields = [
            "id",
            "route",
            "kind",
            "kind_name",
            "subject_id",
            "title",
            "department",
            "submitted_by",
            "submitted_at",
            "important",
            "confidential",
            "stage_kind",
            "assignee",
            "as_deputy",
            "activated_at",
            "due_at",
            "overdue",
        ]
        read_only_fields = fields

    def get_kind(self, step: Step) -> str:
        ct = subject_kind(step.route)
        return f"{ct.app_label}.{ct.model}"

    def get_kind_name(self, step: Step) -> str:
        model = subject_kind(step.route).model_class()
        return str(model._meta.verbose_name) if model is not None else ""

    def get_as_deputy(self, step: Step) -> bool:
        # inbox_for lists the requester's own steps and, while a principal is away, the
        # principal's: anything not assigned to the requester is acted on as deputy.
        return step.assignee_id != self.context["request"].user.pk

    def get_overdue(self, step: Step) -> bool:
        return step.due_at is not None and step.due_at < timezone.now()


class InboxCountSerializer(serializers.Serializer):
    count = serializers.IntegerField(read_only=True)


# --- acting on steps ----------------------------------------------------------------


def _comment(required: bool, ja: str = "") -> serializers.CharField:
    if not required:
        return serializers.CharField(
            required=False, allow_blank=True, max_length=COMMENT_MAX, default=""
        )
    return serializers.CharField(
        max_length=COMMENT_MAX,
        error_messages={"required": ja, "blank": ja, "null": ja},
    )


class IdempotentRequestSerializer(serializers.Serializer):
    """Every action may carry the client's request id; a retry with it acts once."""

    client_request_id = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=CLIENT_REQUEST_ID_MAX,
        default="",
        help_text=(
            "Any string ≤ 64 chosen by the client; repeating it returns the first result "
            f"instead of acting twice. The `{IDEMPOTENCY_HEADER}` header does the same."
        ),
    )


class ApproveRequestSerializer(IdempotentRequestSerializer):
    comment = _comment(required=False)


class ReturnRequestSerializer(IdempotentRequestSerializer):
    comment = _comment(required=True, ja="差戻しの理由を入力してください。")
    to_step = serializers.PrimaryKeyRelatedField(
        queryset=Step.objects.all(),
        required=False,
        allow_null=True,
        default=None,
        help_text="An earlier step of the same route; omitted = back to the drafter.",
    )


class RejectRequestSerializer(IdempotentRequestSerializer):
    comment = _comment(required=True, ja="却下の理由を入力してください。")


class CommentRequestSerializer(IdempotentRequestSerializer):
    comment = _comment(required=True, ja="意見を入力してください。")


class PostReviewCompleteRequestSerializer(serializers.Serializer):
    comment = _comment(required=False)


class RouteStateSerializer(serializers.ModelSerializer):
    status = enum_field(Route.Status, "RouteStatus", read_only=True)

    class Meta:
        model = Route
        fields = ["id", "status", "current_stage"]
        read_only_fields = fields


class StepResultSerializer(serializers.ModelSerializer):
    """A step after an action, with where its route now stands."""

    route = RouteStateSerializer(read_only=True)
    status = enum_field(Step.Status, "StepStatus", read_only=True)
    mode = enum_field(Step.Mode, "StepMode", blank=True, read_only=True)
    stage_kind = enum_field(Stage.Kind, "StageKind", source="stage.kind", read_only=True)
    acted_by = StaffRefSerializer(read_only=True, allow_null=True)

    class Meta:
        model = Step
        fields = ["id", "status", "mode", "stage_kind", "acted_by", "acted_at", "comment", "route"]
        read_only_fields = fields


class PostReviewSerializer(serializers.ModelSerializer):
    reason = enum_field(PostReview.Reason, "PostReviewReason", read_only=True)
    step = serializers.IntegerField(source="step_id", read_only=True)
    route = serializers.IntegerField(source="step.route_id", read_only=True)
    title = serializers.CharField(source="step.route.title", read_only=True)
    acted_by = StaffRefSerializer(source="step.acted_by", read_only=True, allow_null=True)
    acted_at = serializers.DateTimeField(source="step.acted_at", read_only=True, allow_null=True)
    step_comment = serializers.CharField(source="step.comment", read_only=True)

    class Meta:
        model = PostReview
        fields = [
            "id",
            "reason",
            "step",
            "route",
            "title",
            "acted_by",
            "acted_at",
            "step_comment",
            "created_at",
            "done_at",
            "comment",
        ]
        read_only_fields = fields


# --- errors -------------------------------------------------------------------------


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField(help_text="Japanese first, the English in parentheses.")
    code = serializers.CharField(help_text="Stable machine code, e.g. `already_decided`.")


class ValidationErrorSerializer(ErrorSerializer):
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text=(
            "Messages per request field (`non_field_errors` for the whole body); absent "
            "when the body could not be parsed at all."
        ),
    )


def client_request_id(request: Request, data: dict[str, Any]) -> str:
    """The request id from the body or the Idempotency-Key header (they must agree)."""
    body = data.get("client_request_id", "") or ""
    header = (request.headers.get(IDEMPOTENCY_HEADER) or "").strip()
    if len(header) > CLIENT_REQUEST_ID_MAX:
        raise serializers.ValidationError(
            {IDEMPOTENCY_HEADER: [f"{CLIENT_REQUEST_ID_MAX} 文字以内にしてください。"]}
        )
    if body and header and body != header:
        raise serializers.ValidationError(
            {IDEMPOTENCY_HEADER: ["client_request_id と Idempotency-Key が一致しません。"]}
        )
    return body or header
