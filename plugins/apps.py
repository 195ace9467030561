from django.apps import AppConfig
from django.core import checks


class PluginsConfig(AppConfig):
    name = "plugins"
    verbose_name = "Plugins"

    def ready(self) -> None:
        from plugins.checks import sandbox_check

        checks.register(sandbox_check)
