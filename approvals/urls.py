from django.urls import path

from . import views

app_name = "approvals"

# Attachments have no delete or replace URL on purpose: they are kept as filed.
urlpatterns = [
    path("documents/", views.document_list, name="document_list"),
    path("documents/new/", views.document_new, name="document_new"),
    path("documents/<int:pk>/", views.document_detail, name="document"),
    path("documents/<int:pk>/edit/", views.document_edit, name="document_edit"),
    path("documents/<int:pk>/submit/", views.document_submit_view, name="document_submit"),
    path("documents/<int:pk>/withdraw/", views.document_withdraw, name="document_withdraw"),
    path("documents/<int:pk>/issue/", views.document_issue_view, name="document_issue"),
    path("documents/<int:pk>/complete/", views.document_complete_view, name="document_complete"),
    path("documents/<int:pk>/comment/", views.route_comment, name="route_comment"),
    path("documents/<int:pk>/stages/add/", views.stage_add, name="stage_add"),
    path(
        "documents/<int:pk>/stages/<int:stage_pk>/remove/",
        views.stage_remove,
        name="stage_remove",
    ),
    path("documents/<int:pk>/attachments/", views.attachment_upload, name="attachment_upload"),
    path(
        "documents/<int:pk>/attachments/<int:attachment_pk>/",
        views.attachment_download,
        name="attachment_download",
    ),
    path(
        "documents/<int:pk>/attachments/<int:attachment_pk>/preview/",
        views.attachment_preview,
        name="attachment_preview",
    ),
    path(
        "documents/<int:pk>/steps/<int:step_pk>/approve/",
        views.step_approve_view,
        name="step_approve",
    ),
    path(
        "documents/<int:pk>/steps/<int:step_pk>/return/",
        views.step_return_view,
        name="step_return",
    ),
    path(
        "documents/<int:pk>/steps/<int:step_pk>/reject/",
        views.step_reject_view,
        name="step_reject",
    ),
    path(
        "documents/<int:pk>/steps/<int:step_pk>/withdraw-approval/",
        views.step_withdraw_approval_view,
        name="step_withdraw_approval",
    ),
    path(
        "documents/<int:pk>/steps/<int:step_pk>/pull-up/",
        views.step_pull_up_view,
        name="step_pull_up",
    ),
]
