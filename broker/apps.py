from django.apps import AppConfig


class BrokerConfig(AppConfig):
    name = "broker"
    verbose_name = "Broker"

    def ready(self) -> None:
        from broker import receivers  # noqa: F401  - connects plugin signals to the outbox
