"""Count the round trips psycopg makes to PostgreSQL while a block runs.

Django's query log is no count of round trips: it logs its transaction markers, and the
statements ``writes_batched`` gathers without sending them. This wraps psycopg's cursor,
which every Django query goes through, and its pipeline (the statements of one pipeline
travel together: one round trip), and leaves what they do unchanged.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg


@dataclass(frozen=True, slots=True)
class Sent:
    sql: str  # a pipeline's statements joined with "; "
    autocommit: bool  # off, psycopg sends a BEGIN of its own first: one more round trip


@contextmanager
def queries_sent() -> Iterator[list[Sent]]:
    sent: list[Sent] = []
    open_pipelines: list[list[str]] = []
    execute, executemany = psycopg.Cursor.execute, psycopg.Cursor.executemany
    pipeline = psycopg.Connection.pipeline

    def record(cursor: Any, query: Any) -> None:
        if open_pipelines:
            open_pipelines[-1].append(str(query))
        else:
            sent.append(Sent(str(query), cursor.connection.autocommit))

    def counted_execute(self: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
        record(self, query)
        return execute(self, query, *args, **kwargs)

    def counted_executemany(self: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
        record(self, query)
        return executemany(self, query, *args, **kwargs)

    @contextmanager
    def counted_pipeline(self: Any) -> Iterator[Any]:
        statements: list[str] = []
        autocommit = self.autocommit
        open_pipelines.append(statements)
        try:
            with pipeline(self) as p:
                yield p
        finally:
            open_pipelines.pop()
            if open_pipelines:  # nested: the outer pipeline's round trip
                open_pipelines[-1].extend(statements)
            elif statements:
                sent.append(Sent("; ".join(statements), autocommit))

    psycopg.Cursor.execute = counted_execute  # type: ignore[method-assign]
    psycopg.Cursor.executemany = counted_executemany  # type: ignore[method-assign]
    psycopg.Connection.pipeline = counted_pipeline  # type: ignore[method-assign]
    try:
        yield sent
    finally:
        psycopg.Cursor.execute = execute  # type: ignore[method-assign]
        psycopg.Cursor.executemany = executemany  # type: ignore[method-assign]
        psycopg.Connection.pipeline = pipeline  # type: ignore[method-assign]
