"""/api/v1/: the JSON API for integrations (session or token auth, same permissions as pages)."""

from rest_framework.routers import DefaultRouter

router = DefaultRouter()

urlpatterns = router.urls
