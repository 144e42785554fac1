from django.apps import AppConfig


class DemoConfig(AppConfig):
    """The demo loader: sits above every app (nothing imports it) and loads each app's
    demo data in dependency order."""

    name = "demo"
    verbose_name = "デモデータ"
