from django.urls import include, path

from . import views

app_name = "records"

urlpatterns = [
    path("", views.record_list, name="list"),
    path("<int:pk>/", views.record_detail, name="record"),
    path("<int:pk>/pdf/", views.record_pdf, name="pdf"),
    path("<int:pk>/verify/", views.record_verify_view, name="verify"),
    path("disposal/", include("records.disposal_urls")),
    path("files/", include("records.file_urls")),
    path("registers/", include("records.register_urls")),
]
