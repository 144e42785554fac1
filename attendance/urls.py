from django.urls import path

from . import views

app_name = "attendance"

urlpatterns = [
    path("leave/<int:pk>/", views.leave_detail, name="leave"),
    path("overtime/<int:pk>/", views.overtime_detail, name="overtime"),
    path("corrections/<int:pk>/", views.correction_detail, name="correction"),
]
