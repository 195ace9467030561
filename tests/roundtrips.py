"""Count the queries psycopg sends to PostgreSQL while a block runs: one round trip each.

Django's query log is no count of round trips: it logs its transaction markers, and the
statements ``writes_batched`` gathers without sending them. This wraps psycopg's cursor,
which every Django query goes through, and leaves what it does unchanged.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg


@dataclass(frozen=True, slots=True)
class Sent:
    sql: str
    autocommit: bool  # off, psycopg sends a BEGIN of its own first: one more round trip


@contextmanager
def queries_sent() -> Iterator[list[Sent]]:
    sent: list[Sent] = []
    execute, executemany = psycopg.ClientCursor.execute, psycopg.ClientCursor.executemany

    def counted_execute(self: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
        sent.append(Sent(str(query), self.connection.autocommit))
        return execute(self, query, *args, **kwargs)

    def counted_executemany(self: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
        sent.append(Sent(str(query), self.connection.autocommit))
        return executemany(self, query, *args, **kwargs)

    psycopg.ClientCursor.execute = counted_execute  # type: ignore[method-assign]
    psycopg.ClientCursor.executemany = counted_executemany  # type: ignore[method-assign]
    try:
        yield sent
    finally:
        psycopg.ClientCursor.execute = execute  # type: ignore[method-assign]
        psycopg.ClientCursor.executemany = executemany  # type: ignore[method-assign]
