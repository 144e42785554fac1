"""JSON shapes of 起案文書 for /api/v1/. Parsing only: the rules are in approvals.services."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from common.dates import today
from records.files import classification_leaves_in_force
from records.models import Classification
from workflow.models import Stage
from workflow.serializers import (
    DepartmentRefSerializer,
    IdempotentRequestSerializer,
    PostRefSerializer,
    StaffRefSerializer,
    enum_field,
)

from .models import Attachment, Document, MatterCategory

AMOUNT_MAX = 2**63 - 1  # PositiveBigIntegerField


class DocumentSerializer(serializers.ModelSerializer):
    category = serializers.SlugRelatedField(slug_field="code", read_only=True)
    category_name = serializers.CharField(source="category.name", read_only=True)
    drafter = StaffRefSerializer(read_only=True)
    department = DepartmentRefSerializer(read_only=True)
    decided_by = StaffRefSerializer(read_only=True, allow_null=True)
    branch_of = serializers.IntegerField(source="branch_of_id", read_only=True, allow_null=True)
    is_editable = serializers.BooleanField(read_only=True)
    status = enum_field(Document.Status, "DocumentStatus", read_only=True)
    confidentiality = enum_field(Document.Confidentiality, "Confidentiality", read_only=True)
    retention = enum_field(Document.Retention, "Retention", read_only=True)
    classification = serializers.SlugRelatedField(
        slug_field="code", read_only=True, allow_null=True
    )

    class Meta:
        model = Document
        fields = [
            "id",
            "title",
            "body",
            "category",
            "category_name",
            "amount",
            "important",
            "confidentiality",
            "retention",
            "classification",
            "doc_type",
            "status",
            "is_editable",
            "drafter",
            "department",
            "drafted_on",
            "number",
            "branch_of",
            "decided_at",
            "decided_by",
            "issued_on",
            "completed_on",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class _DocumentFieldsSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=300)
    body = serializers.CharField(required=False, allow_blank=True, max_length=100_000)
    category = serializers.SlugRelatedField(
        slug_field="code",
        queryset=MatterCategory.objects.all(),
        help_text="The matter category's code (事案の区分), e.g. `buppin`.",
    )
    amount = serializers.IntegerField(
        required=False, allow_null=True, min_value=0, max_value=AMOUNT_MAX
    )
    important = serializers.BooleanField(required=False)
    confidentiality = enum_field(Document.Confidentiality, "Confidentiality", required=False)
    retention = enum_field(Document.Retention, "Retention", required=False)
    classification = serializers.SlugRelatedField(
        slug_field="code",
        queryset=Classification.objects.none(),
        required=False,
        allow_null=True,
        help_text="A minor class (小分類) code of the schedule in force; sets the retention.",
    )
    doc_type = serializers.CharField(required=False, allow_blank=True, max_length=5)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Lazy: building the serializer (schema generation, system checks) reads nothing.
        self.fields["classification"].queryset = classification_leaves_in_force()

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("classification") is not None:
            attrs["retention"] = attrs["classification"].retention
        return attrs


class DocumentCreateSerializer(_DocumentFieldsSerializer):
    branch_of = serializers.PrimaryKeyRelatedField(
        queryset=Document.objects.none(),
        required=False,
        allow_null=True,
        help_text="A numbered document this one is a branch (枝番) of; it must be visible.",
    )

    def __init__(self, *args: Any, visible: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if visible is not None:
            self.fields["branch_of"].queryset = visible


class DocumentUpdateSerializer(_DocumentFieldsSerializer):
    """PATCH: any subset of the editable fields."""


class WithdrawRequestSerializer(IdempotentRequestSerializer):
    comment = serializers.CharField(required=False, allow_blank=True, max_length=4000, default="")


class IssueRequestSerializer(serializers.Serializer):
    issued_on = serializers.DateField(required=False, help_text="施行日; today if omitted.")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs.setdefault("issued_on", today())
        return attrs


class CompleteRequestSerializer(serializers.Serializer):
    completed_on = serializers.DateField(required=False, help_text="完結日; today if omitted.")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs.setdefault("completed_on", today())
        return attrs


class AttachmentSerializer(serializers.ModelSerializer):
    uploaded_by = StaffRefSerializer(read_only=True)

    class Meta:
        model = Attachment
        fields = [
            "id",
            "original_name",
            "content_type",
            "size",
            "sha256",
            "uploaded_by",
            "uploaded_at",
            "after_decision",
        ]
        read_only_fields = fields


@extend_schema_field({"type": "string", "format": "binary"})
class UploadField(serializers.FileField):
    """A file in a multipart body (documented as binary, not as the URL of a response)."""


class AttachmentUploadSerializer(serializers.Serializer):
    file = UploadField(max_length=255, allow_empty_file=False)


class ProposedStepSerializer(serializers.Serializer):
    post = PostRefSerializer(read_only=True, allow_null=True)
    department = DepartmentRefSerializer(
        read_only=True, allow_null=True, help_text="Null: the post anywhere (副市長, 市長)."
    )
    person = StaffRefSerializer(read_only=True, allow_null=True)


class ProposedStageSerializer(serializers.Serializer):
    """One stage of the route the authority table (事務決裁規程) gives today."""

    kind = enum_field(Stage.Kind, "StageKind", read_only=True)
    required_approvals = serializers.IntegerField(read_only=True, allow_null=True)
    required = serializers.BooleanField(read_only=True)
    steps = ProposedStepSerializer(many=True, read_only=True)
