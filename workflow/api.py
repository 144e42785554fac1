"""/api/v1/ for the approval engine: inbox, step actions, comments and 後閲.

Views parse the request with a serializer, call one service or selector and map
domain errors to HTTP (WorkflowError.status_code: 409 / 403 / 400). Every error body
is `{"detail": "<日本語> (<English>)", "code": "..."}`; validation errors add `errors`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db.models import QuerySet
from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, generics, viewsets
from rest_framework.decorators import action
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.parsers import JSONParser
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import Serializer
from rest_framework.views import APIView

from .errors import WorkflowError
from .models import PostReview, Route, Step
from .selectors import inbox_count, inbox_for, open_post_reviews_for, route_visible_to
from .serializers import (
    CLIENT_REQUEST_ID_MAX,
    IDEMPOTENCY_HEADER,
    ActionSerializer,
    ApproveRequestSerializer,
    CommentRequestSerializer,
    ErrorSerializer,
    IdempotentRequestSerializer,
    InboxCountSerializer,
    InboxItemSerializer,
    InboxQuerySerializer,
    PostReviewCompleteRequestSerializer,
    PostReviewSerializer,
    RejectRequestSerializer,
    ReturnRequestSerializer,
    StepResultSerializer,
    ValidationErrorSerializer,
    client_request_id,
)
from .services import (
    post_review_complete,
    step_approve,
    step_comment,
    step_pull_up,
    step_reject,
    step_return,
    step_withdraw_approval,
)

# --- errors -------------------------------------------------------------------------

# DRF's own errors, in the same two-language form as the domain errors.
_BUILTIN_MESSAGES: dict[str, tuple[str, str]] = {
    "not_authenticated": (
        "ログインしてください。",
        "Authentication credentials were not provided.",
    ),
    "authentication_failed": ("認証に失敗しました。", "Incorrect authentication credentials."),
    "permission_denied": ("この操作を行う権限がありません。", "You may not do this."),
    "not_found": ("見つかりません。", "Not found."),
    "method_not_allowed": ("この操作には対応していません。", "Method not allowed."),
    "not_acceptable": ("要求された形式では応答できません。", "Cannot satisfy the Accept header."),
    "unsupported_media_type": ("この形式の送信には対応していません。", "Unsupported media type."),
    "parse_error": ("送信内容を解析できません。", "Malformed request body."),
    "throttled": ("要求が多すぎます。しばらく待ってください。", "Request was throttled."),
}


class DomainError(exceptions.APIException):
    """A WorkflowError carried through DRF with its own status and message."""

    def __init__(self, exc: WorkflowError) -> None:
        self.status_code = exc.status_code
        self.code = _snake(type(exc).__name__)
        super().__init__(detail=exc.message, code=self.code)


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _as_api_exception(exc: Exception) -> Exception:
    if isinstance(exc, WorkflowError):
        return DomainError(exc)
    if isinstance(exc, Http404 | ObjectDoesNotExist):
        return exceptions.NotFound()
    if isinstance(exc, DjangoPermissionDenied):
        return exceptions.PermissionDenied()
    return exc


def _flatten(detail: Any) -> list[str]:
    if isinstance(detail, dict):
        return [f"{k}: {m}" for k, v in detail.items() for m in _flatten(v)]
    if isinstance(detail, list):
        return [m for item in detail for m in _flatten(item)]
    return [str(detail)]


def error_body(exc: exceptions.APIException) -> dict[str, Any]:
    if isinstance(exc, exceptions.ValidationError):
        detail = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        errors = {str(field): _flatten(messages) for field, messages in detail.items()}
        field, messages = next(iter(errors.items()), ("", [""]))
        ja = f"入力内容に誤りがあります（{field}: {messages[0]}）"
        return {
            "detail": f"{ja} (Invalid input: {field}.)",
            "code": "invalid",
            "errors": errors,
        }
    if isinstance(exc, DomainError):
        return {"detail": str(exc.detail), "code": exc.code}
    code = exc.get_codes() if isinstance(exc.get_codes(), str) else exc.default_code
    ja, en = _BUILTIN_MESSAGES.get(code, (str(exc.detail), str(exc.default_detail)))
    return {"detail": f"{ja} ({en})", "code": code}


class ApiView:
    """Mixed into every /api/v1/ view: JSON in and out, and one error format."""

    renderer_classes = [JSONRenderer]
    parser_classes = [JSONParser]

    def handle_exception(self, exc: Exception) -> Response:
        exc = _as_api_exception(exc)
        response = super().handle_exception(exc)  # type: ignore[misc]
        if isinstance(exc, exceptions.APIException):
            response.data = error_body(exc)
        return response


class ApiPagination(LimitOffsetPagination):
    # A cap keeps one request's cost bounded (and huge limits away from the database).
    max_limit = 200


def errors(*codes: int) -> dict[int, OpenApiResponse]:
    """The documented error responses of an operation (403 covers "not logged in")."""
    described = {
        400: OpenApiResponse(ValidationErrorSerializer, description="Invalid input."),
        403: OpenApiResponse(ErrorSerializer, description="Not logged in, or not allowed."),
        404: OpenApiResponse(ErrorSerializer, description="No such object, or not visible."),
        406: OpenApiResponse(ErrorSerializer, description="Only JSON can be returned."),
        409: OpenApiResponse(ErrorSerializer, description="Someone acted first (既に…)."),
        415: OpenApiResponse(ErrorSerializer, description="Unsupported request media type."),
    }
    return {code: described[code] for code in sorted({403, 406, *codes})}


IDEMPOTENCY_PARAMETER = OpenApiParameter(
    IDEMPOTENCY_HEADER,
    {"type": "string", "maxLength": CLIENT_REQUEST_ID_MAX},
    OpenApiParameter.HEADER,
    required=False,
    description="Same as `client_request_id` in the body (if both are given they must agree).",
)


# --- inbox --------------------------------------------------------------------------


@extend_schema(
    tags=["inbox"],
    summary="The requester's pending steps, most urgent first",
    parameters=[InboxQuerySerializer],
    responses={200: InboxItemSerializer(many=True), **errors(400)},
)
class InboxView(ApiView, generics.ListAPIView):
    """The requester's pending steps across every kind of subject, in the order of
    `selectors.inbox_for`: due date ascending (none last), then most recently arrived.
    Steps of an absent principal show too while the requester is their deputy."""

    serializer_class = InboxItemSerializer
    pagination_class = ApiPagination

    def get_queryset(self) -> QuerySet[Step]:
        if getattr(self, "swagger_fake_view", False):
            return Step.objects.none()
        query = InboxQuerySerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        return inbox_for(
            staff=self.request.user,
            kind=query.validated_data.get("kind"),
            department=query.validated_data.get("department"),
        )


class InboxCountView(ApiView, APIView):
    """The number the inbox badge shows."""

    @extend_schema(
        tags=["inbox"],
        summary="How many steps wait for the requester",
        responses={200: InboxCountSerializer, **errors()},
    )
    def get(self, request: Request) -> Response:
        return Response({"count": inbox_count(staff=request.user)})


# --- steps --------------------------------------------------------------------------


def _step_result(step: Step) -> Response:
    step = Step.objects.select_related("route", "stage", "acted_by").get(pk=step.pk)
    return Response(StepResultSerializer(step).data)


def _step_action_schema(request_serializer: type[Serializer], summary: str) -> Callable:
    return extend_schema(
        tags=["steps"],
        summary=summary,
        request=request_serializer,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses={200: StepResultSerializer, **errors(400, 404, 409, 415)},
    )


class StepViewSet(ApiView, viewsets.GenericViewSet):
    """Acting on one step. Whether the requester may act (holder, or deputy while the
    holder is away; not on important matters) is the engine's decision: 403 otherwise.
    A step someone has already acted on answers 409."""

    queryset = Step.objects.all()
    serializer_class = StepResultSerializer
    lookup_value_converter = "int"

    def _act(
        self, request: Request, form_class: type[Serializer], service: Callable[..., Step]
    ) -> Response:
        """Parse the body, then let the one engine service decide (its errors map to HTTP)."""
        step = self.get_object()
        form = form_class(data=request.data)
        form.is_valid(raise_exception=True)
        data = dict(form.validated_data)
        data["client_request_id"] = client_request_id(request, data)
        return _step_result(service(step=step, actor=request.user, **data))

    @_step_action_schema(ApproveRequestSerializer, "Approve, decide (決裁) or confirm 供覧")
    @action(detail=True, methods=["post"])
    def approve(self, request: Request, pk: int) -> Response:
        return self._act(request, ApproveRequestSerializer, step_approve)

    @_step_action_schema(ReturnRequestSerializer, "Return (差戻し) to the drafter or a step")
    @action(detail=True, methods=["post"], url_path="return")
    def return_(self, request: Request, pk: int) -> Response:
        return self._act(request, ReturnRequestSerializer, step_return)

    @_step_action_schema(RejectRequestSerializer, "Reject (却下): the proposal ends")
    @action(detail=True, methods=["post"])
    def reject(self, request: Request, pk: int) -> Response:
        return self._act(request, RejectRequestSerializer, step_reject)

    @_step_action_schema(IdempotentRequestSerializer, "Withdraw (引戻し) one's own approval")
    @action(detail=True, methods=["post"], url_path="withdraw-approval")
    def withdraw_approval(self, request: Request, pk: int) -> Response:
        return self._act(request, IdempotentRequestSerializer, step_withdraw_approval)

    @_step_action_schema(IdempotentRequestSerializer, "Pull up (引上げ) past an absent holder")
    @action(detail=True, methods=["post"], url_path="pull-up")
    def pull_up(self, request: Request, pk: int) -> Response:
        return self._act(request, IdempotentRequestSerializer, step_pull_up)


# --- comments on a route --------------------------------------------------------------


class RouteCommentView(ApiView, APIView):
    """A comment (意見) by anyone who may see the route; it changes no state."""

    @extend_schema(
        tags=["steps"],
        summary="Comment (意見) on a route one may see",
        request=CommentRequestSerializer,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses={201: ActionSerializer, **errors(400, 404, 409, 415)},
    )
    def post(self, request: Request, pk: int) -> Response:
        route = generics.get_object_or_404(Route, pk=pk)
        if not route_visible_to(route=route, staff=request.user):
            raise exceptions.NotFound
        form = CommentRequestSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = dict(form.validated_data)
        data["client_request_id"] = client_request_id(request, data)
        action_ = step_comment(route=route, actor=request.user, **data)
        action_ = type(action_).objects.select_related("actor", "on_behalf_of").get(pk=action_.pk)
        return Response(ActionSerializer(action_).data, status=201)


# --- 後閲 ----------------------------------------------------------------------------


class PostReviewViewSet(ApiView, viewsets.GenericViewSet):
    """後閲: what was decided in the requester's absence (代決, 引上げ), to read afterwards."""

    serializer_class = PostReviewSerializer
    pagination_class = ApiPagination
    lookup_value_converter = "int"

    def get_queryset(self) -> QuerySet[PostReview]:
        if getattr(self, "swagger_fake_view", False):
            return PostReview.objects.none()
        return open_post_reviews_for(staff=self.request.user)

    @extend_schema(
        tags=["post-reviews"],
        summary="The requester's open 後閲 (post-review) tasks",
        responses={200: PostReviewSerializer(many=True), **errors()},
    )
    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(PostReviewSerializer(page, many=True).data)

    @extend_schema(
        tags=["post-reviews"],
        summary="Mark a 後閲 as done",
        request=PostReviewCompleteRequestSerializer,
        responses={200: PostReviewSerializer, **errors(400, 404, 409, 415)},
    )
    @action(detail=True, methods=["post"])
    def complete(self, request: Request, pk: int) -> Response:
        form = PostReviewCompleteRequestSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        review = generics.get_object_or_404(PostReview, pk=pk)
        review = post_review_complete(
            review=review, actor=request.user, comment=form.validated_data["comment"]
        )
        review = PostReview.objects.select_related("step__route", "step__acted_by").get(
            pk=review.pk
        )
        return Response(PostReviewSerializer(review).data)
