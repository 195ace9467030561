"""Kombu's Redis transport with one client object per channel instead of one per command.

Kombu builds a new ``redis.Redis`` for every publish, acknowledgement and queue operation
(``Channel.conn_or_acquire``); redis-py's client set-up (its table of response callbacks)
then cost more CPU than the Redis command itself, on the broker's side of every message
and on the worker's. A client is only a handle on the channel's connection pool and is
safe to share between threads, so the channel keeps one, renewed if its pool is replaced.
"""

from __future__ import annotations

from typing import Any

from kombu.transport import redis


class Channel(redis.Channel):
    _shared_client: Any = None

    def _create_client(self, asynchronous: bool = False) -> Any:
        if asynchronous:
            return super()._create_client(asynchronous=True)  # type: ignore[misc]  # not in the stubs
        client = self._shared_client
        if client is None or client.connection_pool is not self.pool:
            client = self._shared_client = super()._create_client()  # type: ignore[misc]
        return client


class Transport(redis.Transport):
    Channel = Channel
