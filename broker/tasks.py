"""Celery tasks of the broker: only the probe that measures the bare Celery round trip."""

from __future__ import annotations

import re

from celery import shared_task
from django.conf import settings

_PROBE_NAME = re.compile(r"[a-z0-9-]{1,64}")


@shared_task(name="broker.probe", ignore_result=True)
def broker_probe_task(name: str) -> None:
    """Create ``data/probes/<name>``: the benchmark waits for it to time a task's round trip."""
    if _PROBE_NAME.fullmatch(name):
        folder = settings.DATA_DIR / "probes"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / name).touch()
