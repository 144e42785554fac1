"""The project's URLs plus the files pages and the records API, for tests that run
before (or after) records/urls.py and config/api_urls.py include them."""

from django.urls import include, path
from rest_framework.routers import SimpleRouter

import records.urls
from config.urls import urlpatterns as project
from records.file_api import RecordFileViewSet, RecordViewSet

router = SimpleRouter(use_regex_path=False)
router.register("record-files", RecordFileViewSet, basename="record-file")
router.register("records", RecordViewSet, basename="record")

wired = any(getattr(p, "name", None) == "file_list" for p in records.urls.urlpatterns) or any(
    "file_urls" in str(getattr(p, "urlconf_name", "")) for p in records.urls.urlpatterns
)
records_patterns = [
    *records.urls.urlpatterns,
    *([] if wired else [path("files/", include("records.file_urls"))]),
]

urlpatterns = [
    path("api/v1/", include(router.urls)),
    path("records/", include((records_patterns, "records"))),
    *[p for p in project if str(p.pattern) != "records/"],
]
