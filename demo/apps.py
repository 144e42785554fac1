from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DemoConfig(AppConfig):
    """The demo loader: sits above every app (nothing imports it) and loads each app's
    demo data in dependency order."""

    name = "demo"
    verbose_name = _("デモデータ")
