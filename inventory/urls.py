from django.urls import path

from . import views

app_name = "inventory"

# Mounted at /inventory/ (config/urls.py).
urlpatterns = [
    path("", views.dashboard_view, name="dashboard"),
    path("procedures/", views.procedure_list_view, name="procedure_list"),
    path("procedures/new/", views.procedure_new_view, name="procedure_new"),
    path("procedures/<int:pk>/", views.procedure_detail_view, name="procedure"),
    path("procedures/<int:pk>/edit/", views.procedure_edit_view, name="procedure_edit"),
    path("procedures/<int:pk>/volumes/", views.volume_set_view, name="volume_set"),
    path("procedures/<int:pk>/decide/", views.decision_propose_view, name="decision_propose"),
    path("ranking/", views.ranking_view, name="ranking"),
    path("decisions/<int:pk>/", views.decision_detail_view, name="decision"),
    path("decisions/<int:pk>/withdraw/", views.decision_withdraw_view, name="decision_withdraw"),
    path(
        "decisions/<int:pk>/steps/<int:step_pk>/return/",
        views.decision_step_view,
        {"action": "return"},
        name="decision_return",
    ),
    path(
        "decisions/<int:pk>/steps/<int:step_pk>/reject/",
        views.decision_step_view,
        {"action": "reject"},
        name="decision_reject",
    ),
    path("processes/", views.process_list_view, name="process_list"),
    path("processes/new/", views.process_form_view, name="process_new"),
    path("processes/<int:pk>/", views.process_detail_view, name="process"),
    path("processes/<int:pk>/edit/", views.process_form_view, name="process_edit"),
    path("processes/<int:pk>/flows/", views.flow_upload_view, name="flow_upload"),
    path(
        "processes/<int:pk>/flows/<int:flow_pk>/",
        views.flow_download_view,
        name="flow_download",
    ),
    path("measured/", views.measured_view, name="measured"),
    path("weights/", views.weights_view, name="weights"),
    path("paper-decisions/", views.paper_view, name="paper"),
    path("import/", views.import_view, name="import"),
    path("exports/", views.exports_view, name="exports"),
    path(
        "exports/national.xlsx",
        views.export_national_view,
        {"fmt": "xlsx"},
        name="export_national_xlsx",
    ),
    path(
        "exports/national.csv",
        views.export_national_view,
        {"fmt": "csv"},
        name="export_national_csv",
    ),
    path(
        "exports/publication.xlsx",
        views.export_publication_view,
        {"fmt": "xlsx"},
        name="export_publication_xlsx",
    ),
    path(
        "exports/publication.csv",
        views.export_publication_view,
        {"fmt": "csv"},
        name="export_publication_csv",
    ),
    path(
        "exports/catalogue.json",
        views.export_catalogue_view,
        {"fmt": "json"},
        name="export_catalogue_json",
    ),
    path(
        "exports/catalogue.csv",
        views.export_catalogue_view,
        {"fmt": "csv"},
        name="export_catalogue_csv",
    ),
]
