from django.urls import path

from . import views

app_name = "workflow"

# Mounted at /inbox/ (config/urls.py).
urlpatterns = [
    path("", views.inbox, name="inbox"),
    path("live/", views.inbox_live, name="inbox_live"),
    path("badge/", views.inbox_badge, name="inbox_badge"),
    path("steps/<int:pk>/approve/", views.step_approve_view, name="step_approve"),
    path("bulk-approve/", views.bulk_approve, name="bulk_approve"),
    path("post-reviews/<int:pk>/done/", views.post_review_done, name="post_review_done"),
    path("notifications/<int:pk>/read/", views.notification_read, name="notification_read"),
]
