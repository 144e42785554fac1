from django.urls import path

app_name = "workflow"

# The inbox pages (filled by the inbox UI work).
urlpatterns: list = []
