from django.apps import AppConfig


class RecordsConfig(AppConfig):
    name = "records"
    verbose_name = "公文書管理"
