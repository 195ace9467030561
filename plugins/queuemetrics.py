"""``sessionbot_celery_queue_length``: tasks waiting in the default queue and every queue a
plugin is sent to or a worker serves."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily, Metric

from plugins.models import PluginVersion, QueueWorker
from plugins.readiness import default_queue
from sessionbot.queuelength import queue_lengths


def queue_names() -> set[str]:
    """The default queue, the queues of installed plugin versions and those workers serve."""
    named = PluginVersion.objects.exclude(queue="").order_by().values_list("queue", flat=True).distinct()
    served = QueueWorker.objects.order_by().values_list("queue", flat=True).distinct()
    return {default_queue(), *named, *served}


def queue_families() -> Iterator[Metric]:
    family = GaugeMetricFamily(
        "sessionbot_celery_queue_length",
        "Tasks waiting in the Celery queue (absent: the broker is unreachable).",
        labels=["queue"],
    )
    for name, length in sorted((queue_lengths(queue_names()) or {}).items()):
        family.add_metric([name], length)
    yield family
