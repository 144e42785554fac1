"""The registers (管理簿, 廃棄簿, 移管リスト, holds), included by records/urls.py under
`registers/` without a namespace of their own: reverse them as "records:register_…"."""

from django.urls import path

from . import register_views as views

urlpatterns = [
    path("", views.register_index, name="register_index"),
    path("download/", views.register_download, name="register_download"),
    path("export/", views.register_export, name="register_export"),
    path("export/<int:pk>/", views.register_export_status, name="register_export_status"),
    path(
        "export/<int:pk>/download/",
        views.register_export_download,
        name="register_export_download",
    ),
]
