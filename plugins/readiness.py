"""The ``/readyz`` check of the workers: one serving the default queue recorded itself lately.

Every worker records the queues it serves every ``HEARTBEAT_SECONDS`` (``plugins.queues``),
in the database that every broker process reads, so this holds for workers on other
machines too and costs one indexed query, not a broadcast to the workers.
"""

from __future__ import annotations

from django.conf import settings
from django.db.models import Max
from django.utils import timezone

from plugins.models import QueueWorker
from sessionbot.readyrules import Check, heartbeat_check


def default_queue() -> str:
    """The name Celery gives the default queue (``celery`` unless the settings rename it)."""
    return str(getattr(settings, "CELERY_TASK_DEFAULT_QUEUE", "") or "celery")


def worker_check() -> Check:
    latest = QueueWorker.objects.filter(queue=default_queue()).aggregate(at=Max("seen_at"))["at"]
    age = (timezone.now() - latest).total_seconds() if latest else None
    return heartbeat_check(name="worker", age_seconds=age)
