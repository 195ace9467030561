from django.apps import AppConfig
from django.core import checks
from django.utils.translation import gettext_lazy as _


class PluginsConfig(AppConfig):
    name = "plugins"
    verbose_name = _("Plugins and users")

    def ready(self) -> None:
        from bots.userdata import userdata_register
        from plugins.celery_hooks import celery_hooks_connect
        from plugins.checks import index_check, sandbox_check, secrets_key_check
        from plugins.forgetting import plugin_data_erase, plugin_data_export
        from plugins.queuemetrics import queue_families
        from plugins.readiness import worker_check
        from plugins.userdata import user_erase, user_export
        from sessionbot.metrics import metrics_families_register
        from sessionbot.readiness import readiness_check_register

        celery_hooks_connect()
        readiness_check_register("worker", worker_check)
        metrics_families_register("celery_queues", queue_families)
        userdata_register(key="plugins", export=user_export, erase=user_erase, order=50)
        userdata_register(key="plugin_data", export=plugin_data_export, erase=plugin_data_erase, order=60)

        checks.register(sandbox_check)
        checks.register(secrets_key_check)
        checks.register(index_check)
