from django.apps import AppConfig


class BrokerConfig(AppConfig):
    name = "broker"
    verbose_name = "Broker"

    def ready(self) -> None:
        from django.core import checks

        from broker import receivers  # noqa: F401  - connects plugin signals to the outbox
        from broker.checks import redis_password_check

        checks.register(redis_password_check, checks.Tags.security)
