"""/api/v1/record-files/ and /api/v1/records/: read-only.

Records are kept, never edited or removed through the API: PUT, PATCH and DELETE answer
405 with a message saying so. Visibility is the pages' rule: records officers see every
file and record; anyone else sees a record only when they may read its source, and no
file — a hidden object is a 404, so its existence does not leak.
"""

from __future__ import annotations

from django.db.models import Count, QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, mixins, serializers, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from workflow.api import ApiPagination, ApiView, errors
from workflow.serializers import DepartmentRefSerializer, ErrorSerializer, enum_field

from .models import Record, RecordFile, Retention
from .selectors import is_records_officer, record_metadata_visible_to

IMMUTABLE = (
    "公文書・簿冊は保存期間中、APIから変更・削除できません。"
    " (Records and files cannot be changed or deleted through the API.)"
)


class RecordsMethodNotAllowed(exceptions.MethodNotAllowed):
    def __init__(self, method: str) -> None:
        super().__init__(method, detail=IMMUTABLE, code="records_immutable")


class RecordFileSerializer(serializers.ModelSerializer):
    department = DepartmentRefSerializer(read_only=True)
    classification_code = serializers.CharField(source="classification.code", read_only=True)
    classification_name = serializers.CharField(source="classification.name", read_only=True)
    retention = enum_field(Retention, "RetentionPeriod", read_only=True)
    status = enum_field(RecordFile.Status, "RecordFileStatus", read_only=True)
    record_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = RecordFile
        fields = [
            "id",
            "department",
            "classification_code",
            "classification_name",
            "fiscal_year",
            "name",
            "creator_post",
            "manager_post",
            "medium",
            "location",
            "remarks",
            "retention",
            "disposition",
            "extension_years",
            "completed_on",
            "start_date",
            "period_end",
            "status",
            "record_count",
        ]
        read_only_fields = fields


class RecordSerializer(serializers.ModelSerializer):
    department = DepartmentRefSerializer(read_only=True)
    file = serializers.IntegerField(source="file_id", read_only=True, allow_null=True)
    status = enum_field(Record.Status, "RecordStatus", read_only=True)

    class Meta:
        model = Record
        fields = [
            "id",
            "number",
            "title",
            "department",
            "file",
            "confidential",
            "status",
            "sha256",
            "size",
            "level",
            "signed_at",
            "created_at",
        ]
        read_only_fields = fields


_405 = {
    405: OpenApiResponse(ErrorSerializer, description="Records are never changed here."),
    **errors(404),
}


class _ReadOnly(ApiView, mixins.ListModelMixin, viewsets.GenericViewSet):
    pagination_class = ApiPagination
    lookup_value_converter = "int"

    @extend_schema(summary="Refused: records are not changed", request=None, responses=_405)
    def update(self, request: Request, pk: int) -> Response:
        raise RecordsMethodNotAllowed(request.method)

    @extend_schema(summary="Refused: records are not changed", request=None, responses=_405)
    def partial_update(self, request: Request, pk: int) -> Response:
        raise RecordsMethodNotAllowed(request.method)

    @extend_schema(summary="Refused: records are not deleted", request=None, responses=_405)
    def destroy(self, request: Request, pk: int) -> Response:
        raise RecordsMethodNotAllowed(request.method)


class RecordFileViewSet(_ReadOnly):
    """簿冊 for records officers."""

    serializer_class = RecordFileSerializer

    def get_queryset(self) -> QuerySet[RecordFile]:
        if getattr(self, "swagger_fake_view", False) or not is_records_officer(self.request.user):
            return RecordFile.objects.none()
        return (
            RecordFile.objects.select_related("department", "classification")
            .annotate(record_count=Count("records"))
            .order_by("-fiscal_year", "pk")
        )

    @extend_schema(
        tags=["records"],
        summary="Files (簿冊), for records officers",
        responses={200: RecordFileSerializer(many=True), **errors()},
    )
    def list(self, request: Request) -> Response:
        return super().list(request)

    @extend_schema(
        tags=["records"], summary="One file", responses={200: RecordFileSerializer, **errors(404)}
    )
    def retrieve(self, request: Request, pk: int) -> Response:
        file = self.get_queryset().filter(pk=pk).first()
        if file is None:
            raise exceptions.NotFound
        return Response(RecordFileSerializer(file).data)


class RecordViewSet(_ReadOnly):
    """公文書: officers see all; others the records whose source they may read."""

    serializer_class = RecordSerializer

    def get_queryset(self) -> QuerySet[Record]:
        if getattr(self, "swagger_fake_view", False) or not is_records_officer(self.request.user):
            return Record.objects.none()
        return Record.objects.select_related("department").order_by("-created_at", "-pk")

    @extend_schema(
        tags=["records"],
        summary="Records, for records officers",
        responses={200: RecordSerializer(many=True), **errors()},
    )
    def list(self, request: Request) -> Response:
        return super().list(request)

    @extend_schema(
        tags=["records"], summary="One record", responses={200: RecordSerializer, **errors(404)}
    )
    def retrieve(self, request: Request, pk: int) -> Response:
        record = Record.objects.select_related("department", "source_type").filter(pk=pk).first()
        if record is None or not record_metadata_visible_to(record=record, staff=request.user):
            raise exceptions.NotFound
        return Response(RecordSerializer(record).data)
