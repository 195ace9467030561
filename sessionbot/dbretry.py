"""Retry a database call once when its connection turned out to be broken.

Connections are kept open between calls without a health check (that cost a round trip
per call). A connection that broke meanwhile (a database restart, a dropped socket) fails
its next statement; the hot paths call through :func:`once_more_on_lost_connection`, which
closes it and runs the call again on a new one. Only for idempotent calls.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from django.db import InterfaceError, OperationalError, connection

log = logging.getLogger(__name__)
P = ParamSpec("P")
R = TypeVar("R")


def once_more_on_lost_connection(func: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    """``func(*args, **kwargs)``; if it failed on a connection that is no longer usable, once more."""
    try:
        return func(*args, **kwargs)
    except (OperationalError, InterfaceError):
        if connection.in_atomic_block or connection.connection is None or connection.is_usable():
            raise  # not a lost connection (or not ours to replace here)
        log.warning("the database connection was lost; retrying on a new one")
        connection.close()
        return func(*args, **kwargs)
