from django.urls import path

from . import views

app_name = "approvals"

urlpatterns = [
    path("documents/<int:pk>/", views.document_detail, name="document"),
]
