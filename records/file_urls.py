"""Included by records/urls.py under files/ (namespace "records")."""

from django.urls import path

from . import file_views

urlpatterns = [
    path("", file_views.file_list, name="file_list"),
    path("<int:pk>/", file_views.file_detail, name="file_detail"),
    path("<int:pk>/complete/", file_views.file_complete_view, name="file_complete"),
    path("<int:pk>/edit/", file_views.file_update_view, name="file_update"),
    path("<int:pk>/extend/", file_views.file_extend_view, name="file_extend"),
    path("holds/new/", file_views.hold_new, name="hold_new"),
    path("holds/<int:pk>/decide/", file_views.hold_change, {"what": "decide"}, name="hold_decide"),
    path("holds/<int:pk>/end/", file_views.hold_change, {"what": "end"}, name="hold_end"),
    path("receipts/new/", file_views.receipt_new, name="receipt_new"),
]
