"""The Celery application; configuration comes from Django settings (``CELERY_*``)."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator, Mapping
from typing import Any

from celery import Celery
from celery.signals import celeryd_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sessionbot.settings")


class DjangoCelerySettings(Mapping[str, Any]):
    """The ``CELERY_*`` Django settings, read once when Celery first needs them.

    Celery looks several keys up on every task it sends or runs; through Django's lazy
    settings object each lookup (most of them for keys not set, so an AttributeError)
    cost more than the Redis command that sends the task.
    """

    def __init__(self) -> None:
        self._data: dict[str, Any] | None = None

    def _settings(self) -> dict[str, Any]:
        if self._data is None:
            from django.conf import settings

            names = [name for name in dir(settings) if name.startswith("CELERY_")]
            self._data = {_celery_key(name): getattr(settings, name) for name in names}
        return self._data

    def __getitem__(self, key: str) -> Any:
        return self._settings()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._settings())

    def __len__(self) -> int:
        return len(self._settings())


def _celery_key(name: str) -> str:
    """``CELERY_TASK_ACKS_LATE`` → ``task_acks_late``: Celery's own names, given without a
    namespace. Through ``namespace="CELERY"`` Celery took the upper-case names for its
    pre-4.0 ones and warned at every worker start that they were deprecated (celery#6366).
    Names Celery does not know (``CELERY_DB_REUSE_MAX``, read as such by its Django fix-up;
    our own ``CELERY_FS_DIR``) stay as they are."""
    from celery.app.defaults import SETTING_KEYS

    key = name.removeprefix("CELERY_").lower()
    return key if key in SETTING_KEYS else name


app = Celery("sessionbot")
app.config_from_object(DjangoCelerySettings())
app.autodiscover_tasks()


@celeryd_init.connect
def _database_reachable(**_: Any) -> None:
    """A worker whose database cannot be reached stops at its start, with one line naming
    DATABASE_URL, instead of failing every task it takes."""
    from django.db import connection

    from sessionbot.dbconnect import database_connect_check

    database_connect_check()
    connection.close()


@celeryd_init.connect
def _warnings_logged(**_: Any) -> None:
    """Warnings at the worker's start (running as root, say) go through the log's format,
    not raw to stderr: with LOG_FORMAT=json every line must parse."""
    logging.captureWarnings(True)
    from django.conf import settings

    if settings.LOG_FORMAT == "json":
        import celery.apps.worker

        # Its "worker: Warm shutdown" line, printed past the log.
        celery.apps.worker.safe_say = _say_json  # type: ignore[attr-defined]


def _say_json(msg: str, f: Any = sys.__stderr__) -> None:
    """Celery's ``safe_say`` (one write, safe in a signal handler), as a JSON log object."""
    from bridgeprotocol.logformat import console_line

    os.write(f.fileno(), (console_line(msg, log_format="json", logger="celery.worker") + "\n").encode())
