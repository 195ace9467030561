from django.apps import AppConfig
from django.core import checks


class PluginsConfig(AppConfig):
    name = "plugins"
    verbose_name = "Plugins"

    def ready(self) -> None:
        from plugins.celery_hooks import celery_hooks_connect
        from plugins.checks import index_check, sandbox_check, secrets_key_check

        celery_hooks_connect()

        checks.register(sandbox_check)
        checks.register(secrets_key_check)
        checks.register(index_check)
