"""/api/v1/documents/: 起案文書 through their life (draft → submit → decide → issue →
complete), their route and attachments. A document the requester may not see is a 404,
never a 403, so its existence does not leak."""

from __future__ import annotations

from django.contrib.contenttypes.models import ContentType
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from workflow.api import IDEMPOTENCY_PARAMETER, ApiPagination, ApiView, errors
from workflow.errors import WorkflowError
from workflow.models import Route
from workflow.selectors import routes_of
from workflow.serializers import IdempotentRequestSerializer, RouteSerializer, client_request_id
from workflow.services import route_withdraw

from .models import Attachment, Document
from .selectors import document_visible_to, documents_visible_to
from .serializers import (
    AttachmentSerializer,
    AttachmentUploadSerializer,
    CompleteRequestSerializer,
    DocumentCreateSerializer,
    DocumentSerializer,
    DocumentUpdateSerializer,
    IssueRequestSerializer,
    ProposedStageSerializer,
    WithdrawRequestSerializer,
)
from .services import (
    attachment_add,
    document_complete,
    document_create,
    document_issue,
    document_submit,
    document_update,
    route_propose,
)


def _with_relations(documents: QuerySet[Document]) -> QuerySet[Document]:
    return documents.select_related("category", "drafter", "department", "decided_by")


TAGS = ["documents"]


class DocumentViewSet(ApiView, mixins.ListModelMixin, viewsets.GenericViewSet):
    """起案文書: drafting, the workflow actions of the drafter (and decider), the route and
    the attachments. Documents the requester may not see answer 404."""

    serializer_class = DocumentSerializer
    pagination_class = ApiPagination
    lookup_value_converter = "int"

    def get_queryset(self) -> QuerySet[Document]:
        if getattr(self, "swagger_fake_view", False):
            return Document.objects.none()
        return _with_relations(documents_visible_to(staff=self.request.user)).order_by(
            "-created_at", "-pk"
        )

    def _document(self) -> Document:
        """The document of the URL, or 404 when it does not exist or is not visible."""
        document = _with_relations(Document.objects.all()).filter(pk=self.kwargs["pk"]).first()
        if document is None or not document_visible_to(document=document, staff=self.request.user):
            raise NotFound
        return document

    def _fresh(self, document: Document | int) -> Response:
        pk = document.pk if isinstance(document, Document) else document
        return Response(DocumentSerializer(_with_relations(Document.objects.all()).get(pk=pk)).data)

    @extend_schema(
        tags=TAGS,
        summary="Documents the requester may see, newest first",
        responses={200: DocumentSerializer(many=True), **errors()},
    )
    def list(self, request: Request) -> Response:
        return super().list(request)

    @extend_schema(
        tags=TAGS,
        summary="Draft (起案) a new document in the requester's department",
        request=DocumentCreateSerializer,
        responses={201: DocumentSerializer, **errors(400, 415)},
    )
    def create(self, request: Request) -> Response:
        form = DocumentCreateSerializer(
            data=request.data, visible=documents_visible_to(staff=request.user)
        )
        form.is_valid(raise_exception=True)
        document = document_create(actor=request.user, **form.validated_data)
        response = self._fresh(document)
        response.status_code = 201
        return response

    @extend_schema(
        tags=TAGS, summary="One document", responses={200: DocumentSerializer, **errors(404)}
    )
    def retrieve(self, request: Request, pk: int) -> Response:
        return Response(DocumentSerializer(self._document()).data)

    @extend_schema(
        tags=TAGS,
        summary="Edit a draft (drafter only; also after 差戻し or 取下げ)",
        request=DocumentUpdateSerializer,
        responses={200: DocumentSerializer, **errors(400, 404, 415)},
    )
    def partial_update(self, request: Request, pk: int) -> Response:
        document = self._document()
        form = DocumentUpdateSerializer(data=request.data, partial=True)
        form.is_valid(raise_exception=True)
        document = document_update(document=document, actor=request.user, **form.validated_data)
        return self._fresh(document)

    # --- the workflow -----------------------------------------------------------------

    @extend_schema(
        tags=TAGS,
        summary="Submit (回議に回す) on the route the authority table proposes",
        request=IdempotentRequestSerializer,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses={200: DocumentSerializer, **errors(400, 404, 409, 415)},
    )
    @action(detail=True, methods=["post"])
    def submit(self, request: Request, pk: int) -> Response:
        document = self._document()
        form = IdempotentRequestSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        document_submit(
            document=document,
            actor=request.user,
            client_request_id=client_request_id(request, form.validated_data),
        )
        return self._fresh(document)

    @extend_schema(
        tags=TAGS,
        summary="Withdraw (取下げ) the document from its route (drafter only)",
        request=WithdrawRequestSerializer,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses={200: DocumentSerializer, **errors(400, 404, 409, 415)},
    )
    @action(detail=True, methods=["post"])
    def withdraw(self, request: Request, pk: int) -> Response:
        document = self._document()
        form = WithdrawRequestSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        route = (
            Route.objects.filter(
                subject_type=ContentType.objects.get_for_model(Document), subject_id=document.pk
            )
            .order_by("-round")
            .first()
        )
        if route is None:
            raise WorkflowError(
                "この文書はまだ回議に回されていません。", "The document has not been submitted."
            )
        route_withdraw(
            route=route,
            actor=request.user,
            comment=form.validated_data["comment"],
            client_request_id=client_request_id(request, form.validated_data),
        )
        return self._fresh(document)

    @extend_schema(
        tags=TAGS,
        summary="Record 施行 (issue) of a decided document",
        request=IssueRequestSerializer,
        responses={200: DocumentSerializer, **errors(400, 404, 415)},
    )
    @action(detail=True, methods=["post"])
    def issue(self, request: Request, pk: int) -> Response:
        document = self._document()
        form = IssueRequestSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        document_issue(document=document, actor=request.user, **form.validated_data)
        return self._fresh(document)

    @extend_schema(
        tags=TAGS,
        summary="Record 完結 (completion) of a decided or issued document",
        request=CompleteRequestSerializer,
        responses={200: DocumentSerializer, **errors(400, 404, 415)},
    )
    @action(detail=True, methods=["post"])
    def complete(self, request: Request, pk: int) -> Response:
        document = self._document()
        form = CompleteRequestSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        document_complete(document=document, actor=request.user, **form.validated_data)
        return self._fresh(document)

    @extend_schema(
        tags=TAGS,
        summary="Every round of the document's route: stages → steps, and the history",
        responses={200: RouteSerializer(many=True), **errors(404)},
    )
    @action(detail=True, methods=["get"], pagination_class=None)
    def route(self, request: Request, pk: int) -> Response:
        document = self._document()
        return Response(RouteSerializer(routes_of(document), many=True).data)

    @extend_schema(
        tags=TAGS,
        summary="The route the authority table (事務決裁規程) gives the document today",
        responses={200: ProposedStageSerializer(many=True), **errors(400, 404)},
    )
    @action(detail=True, methods=["get"], url_path="proposed-route", pagination_class=None)
    def proposed_route(self, request: Request, pk: int) -> Response:
        document = self._document()
        stages = route_propose(document=document)
        return Response(ProposedStageSerializer(stages, many=True).data)

    # --- attachments ------------------------------------------------------------------

    @extend_schema(
        methods=["GET"],
        tags=TAGS,
        summary="The document's attachments, oldest first",
        responses={200: AttachmentSerializer(many=True), **errors(404)},
    )
    @extend_schema(
        methods=["POST"],
        tags=TAGS,
        summary="Attach a file (multipart); attachments are never replaced or deleted",
        request={"multipart/form-data": AttachmentUploadSerializer},
        responses={201: AttachmentSerializer, **errors(400, 404, 415)},
    )
    @action(
        detail=True,
        methods=["get", "post"],
        parser_classes=[MultiPartParser, FormParser],
    )
    def attachments(self, request: Request, pk: int) -> Response:
        document = self._document()
        if request.method == "GET":
            attachments = (
                Attachment.objects.filter(document=document)
                .select_related("uploaded_by")
                .order_by("uploaded_at", "pk")
            )
            page = self.paginate_queryset(attachments)
            return self.get_paginated_response(AttachmentSerializer(page, many=True).data)
        form = AttachmentUploadSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        attachment = attachment_add(
            document=document, actor=request.user, upload=form.validated_data["file"]
        )
        attachment = Attachment.objects.select_related("uploaded_by").get(pk=attachment.pk)
        return Response(AttachmentSerializer(attachment).data, status=201)
