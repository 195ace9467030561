from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ConsoleConfig(AppConfig):
    """The operator's console: the admin's front page is the bot's dashboard."""

    name = "console"
    verbose_name = _("Console")

    def ready(self) -> None:
        from django.contrib import admin

        # The stock index with the dashboard above the app list (console/templates/console/index.html).
        admin.site.index_template = "console/index.html"
