"""Hooks into the Celery worker's life: the health ticker and, with DEBUG, the code watcher.

No Celery beat: each worker's main process enqueues ``plugins.health_checks_run`` every
``HEALTH_TICK_SECONDS``; the task runs only the checks that are due, once across workers.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from celery.signals import task_postrun, task_prerun, worker_process_shutdown, worker_ready
from django.conf import settings
from django.db import close_old_connections

log = logging.getLogger(__name__)
HEALTH_TICK_SECONDS = 60.0
_stop = threading.Event()


def _health_ticker() -> None:
    from plugins.tasks import health_checks_run_task

    while not _stop.wait(HEALTH_TICK_SECONDS):
        try:
            health_checks_run_task.delay()
        except Exception:
            log.exception("could not enqueue the health checks")


def _on_worker_ready(**_: Any) -> None:
    threading.Thread(target=_health_ticker, name="plugin-health", daemon=True).start()
    if settings.DEBUG:
        from plugins.watcher import watcher_start

        watcher_start()


def _on_shutdown(**_: Any) -> None:
    from plugins.execution import pool_close

    _stop.set()
    pool_close()


def _connections_tidy(**_: Any) -> None:
    # Keep healthy connections between tasks (CELERY_DB_REUSE_MAX); drop broken or old ones.
    close_old_connections()


def celery_hooks_connect() -> None:
    """Connect the hooks to Celery's signals (from ``PluginsConfig.ready``; repeat-safe)."""
    worker_ready.connect(_on_worker_ready, weak=False, dispatch_uid="plugins.health_ticker")
    worker_process_shutdown.connect(_on_shutdown, weak=False, dispatch_uid="plugins.pool_close")
    task_prerun.connect(_connections_tidy, weak=False, dispatch_uid="plugins.tidy_before")
    task_postrun.connect(_connections_tidy, weak=False, dispatch_uid="plugins.tidy_after")
