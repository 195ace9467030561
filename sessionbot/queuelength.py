"""How many tasks wait in each Celery queue, through kombu, whatever the broker is.

kombu answers a passive queue declaration with the queue's message count on every
transport: the embedded filesystem queue counts its files, Redis adds up the lists of the
queue's priorities, RabbitMQ asks the server. A Redis queue with nothing in it has no key
and is "not found": that is zero.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from kombu.exceptions import ChannelError, OperationalError

from sessionbot.celery import app

log = logging.getLogger(__name__)
CONNECT_TIMEOUT = 2.0


def queue_lengths(names: Iterable[str]) -> dict[str, int] | None:
    """Waiting tasks in each queue of ``names``; None when the broker cannot be reached."""
    lengths: dict[str, int] = {}
    try:
        with app.connection_for_read(connect_timeout=CONNECT_TIMEOUT) as conn:
            conn.ensure_connection(max_retries=1)
            for name in sorted(set(names)):
                channel: Any = conn.channel()  # a transport's channel; the stubs know only the base
                try:
                    lengths[name] = int(channel.queue_declare(queue=name, passive=True).message_count)
                except ChannelError:
                    lengths[name] = 0  # never declared, or emptied (Redis drops an empty list)
                finally:
                    channel.close()
    except (OperationalError, OSError) as exc:
        log.warning("the Celery queues cannot be measured: %s", type(exc).__name__)
        return None
    return lengths
