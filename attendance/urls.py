from django.urls import path

from . import views

app_name = "attendance"

# Mounted at /attendance/ (config/urls.py).
urlpatterns = [
    path("", views.mine, name="mine"),
    path("summary/", views.summary, name="summary"),
    path("leave/new/", views.leave_new, name="leave_new"),
    path("leave/<int:pk>/", views.leave_detail, name="leave"),
    path("leave/<int:pk>/cancel/", views.leave_cancel, name="leave_cancel"),
    path("leave/<int:pk>/withdraw/", views.leave_withdraw, name="leave_withdraw"),
    path("leave/<int:pk>/resubmit/", views.leave_resubmit, name="leave_resubmit"),
    path("leave/<int:pk>/correction/", views.leave_correction, name="leave_correction"),
    path("overtime/new/", views.overtime_new, name="overtime_new"),
    path("overtime/<int:pk>/", views.overtime_detail, name="overtime"),
    path("overtime/<int:pk>/report/", views.overtime_report, name="overtime_report"),
    path("overtime/<int:pk>/withdraw/", views.overtime_withdraw, name="overtime_withdraw"),
    path("overtime/<int:pk>/resubmit/", views.overtime_resubmit, name="overtime_resubmit"),
    path("overtime/<int:pk>/correction/", views.overtime_correction, name="overtime_correction"),
    path("corrections/<int:pk>/", views.correction_detail, name="correction"),
    path("corrections/<int:pk>/withdraw/", views.correction_withdraw, name="correction_withdraw"),
    path("<slug:kind>/<int:pk>/steps/<int:step_pk>/<slug:verb>/", views.step_act, name="step_act"),
    path("team/", views.team, name="team"),
    path("hr/months/", views.month_close_list, name="month_close"),
    path("hr/reviews/", views.review_list, name="reviews"),
    path("hr/reviews/<int:pk>/", views.review_detail, name="review"),
    path("hr/corrections/", views.correction_list, name="corrections"),
    path("reports/", views.reports, name="reports"),
    path("reports/<slug:kind>/", views.report_download, name="report_download"),
]
