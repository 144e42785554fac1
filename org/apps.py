from django.apps import AppConfig


class OrgConfig(AppConfig):
    name = "org"
    verbose_name = "組織・職員"
