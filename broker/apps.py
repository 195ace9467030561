from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BrokerConfig(AppConfig):
    name = "broker"
    verbose_name = _("Messages and bridges")

    def ready(self) -> None:
        from django.core import checks

        from bots.userdata import userdata_register
        from broker import signal_handlers  # noqa: F401  - connects plugin signals to the outbox
        from broker.checks import redis_password_check
        from broker.metrics import bot_families
        from broker.processmetrics import process_families
        from broker.readiness import bridges_ready_check
        from broker.userdata import files_erase, files_export, messages_erase, messages_export
        from sessionbot.metrics import metrics_families_register
        from sessionbot.readiness import readiness_check_register

        checks.register(redis_password_check, checks.Tags.security)
        metrics_families_register("broker", bot_families)
        metrics_families_register("processes", process_families)
        readiness_check_register("bridges", bridges_ready_check)
        # Files first: emptying the messages forgets which files were theirs.
        userdata_register(key="files", export=files_export, erase=files_erase, order=10)
        # Before the plugins' keeper, which unlinks finished invocations from the user.
        userdata_register(key="messages", export=messages_export, erase=messages_erase, order=20)
