"""Included by records/urls.py under `disposal/` (namespace "records")."""

from django.urls import path

from . import disposal_views as views

urlpatterns = [
    path("", views.candidate_list, name="disposal_candidates"),
    path("files/<int:file_pk>/extend/", views.file_extend_view, name="disposal_extend"),
    path("batches/new/", views.batch_create_view, name="disposal_create"),
    path("<int:pk>/", views.batch_detail, name="disposal"),
    path("<int:pk>/submit/", views.batch_submit_view, name="disposal_submit"),
    path("<int:pk>/execute/", views.batch_execute_view, name="disposal_execute"),
]
