from django.urls import path

from . import viewer, views

app_name = "meetings"

urlpatterns = [
    path("", views.meeting_list, name="list"),
    path("new/", views.meeting_new, name="new"),
    path("<int:pk>/", views.meeting_detail, name="meeting"),
    path("<int:pk>/view/", viewer.meeting_viewer, name="viewer"),
    path("<int:pk>/edit/", views.meeting_edit, name="edit"),
    path("<int:pk>/publish/", views.meeting_publish, name="publish"),
    path("<int:pk>/start/", views.meeting_start, name="start"),
    path("<int:pk>/close/", views.meeting_close, name="close"),
    path("<int:pk>/participants/", views.participants, name="participants"),
    path(
        "<int:pk>/participants/<int:staff_pk>/remove/",
        views.participant_remove,
        name="participant_remove",
    ),
    path("<int:pk>/agenda/", views.agenda_add, name="agenda_add"),
    path("<int:pk>/materials/new/", views.material_add, name="material_add"),
    path("<int:pk>/materials/progress/", views.materials_progress, name="materials_progress"),
    path(
        "<int:pk>/materials/<int:material_pk>/replace/",
        views.material_replace,
        name="material_replace",
    ),
    path(
        "<int:pk>/materials/<int:material_pk>/revoke/",
        views.material_revoke,
        name="material_revoke",
    ),
    path(
        "<int:pk>/materials/<int:material_pk>/original/",
        views.material_original,
        name="material_original",
    ),
    path("<int:pk>/minutes/", views.minutes_edit, name="minutes"),
    path("<int:pk>/minutes/pdf/", views.minutes_pdf, name="minutes_pdf"),
    path("<int:pk>/minutes/file/", views.minutes_file_view, name="minutes_file"),
    path(
        "<int:pk>/pages/<int:version_pk>/<int:number>.jpg",
        views.page_image,
        name="page_image",
    ),
]
