from django.apps import AppConfig


class BrokerConfig(AppConfig):
    name = "broker"
    verbose_name = "Broker"

    def ready(self) -> None:
        from django.core import checks

        from broker import signal_handlers  # noqa: F401  - connects plugin signals to the outbox
        from broker.checks import redis_password_check
        from broker.metrics import bot_families
        from sessionbot.metrics import metrics_families_register

        checks.register(redis_password_check, checks.Tags.security)
        metrics_families_register("broker", bot_families)
