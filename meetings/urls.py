from django.urls import path

from . import views

app_name = "meetings"

urlpatterns = [
    path("<int:pk>/", views.meeting_detail, name="meeting"),
    path(
        "<int:pk>/pages/<int:version_pk>/<int:number>.jpg",
        views.page_image,
        name="page_image",
    ),
]
