"""/api/v1/: the JSON API for integrations (session or token auth, same permissions as pages).

The schema is at /api/schema/ (drf-spectacular). Anything else under /api/v1/ is a JSON
404, so clients never get an HTML page from the API.
"""

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, JsonResponse
from django.urls import path, re_path
from django.views.decorators.csrf import csrf_exempt
from rest_framework.routers import SimpleRouter

from approvals.api import DocumentViewSet
from records.file_api import RecordFileViewSet, RecordViewSet
from workflow.api import (
    InboxCountView,
    InboxView,
    PostReviewViewSet,
    RouteCommentView,
    StepViewSet,
)

router = SimpleRouter(use_regex_path=False)
router.register("documents", DocumentViewSet, basename="document")
router.register("steps", StepViewSet, basename="step")
router.register("post-reviews", PostReviewViewSet, basename="post-review")
router.register("record-files", RecordFileViewSet, basename="record-file")
router.register("records", RecordViewSet, basename="record")


@csrf_exempt  # it changes nothing, and a POST to a wrong path should still get JSON
@login_not_required
def not_found(request: HttpRequest, rest: str = "") -> JsonResponse:
    return JsonResponse(
        {"detail": "見つかりません。 (Not found.)", "code": "not_found"},
        status=404,
        json_dumps_params={"ensure_ascii": False},
    )


urlpatterns = [
    path("inbox/", InboxView.as_view(), name="api-inbox"),
    path("inbox/count/", InboxCountView.as_view(), name="api-inbox-count"),
    path("routes/<int:pk>/comments/", RouteCommentView.as_view(), name="api-route-comments"),
    *router.urls,
    re_path(r"^(?P<rest>[\s\S]*)$", not_found),  # [\s\S]: newlines too
]
