"""Fewer round trips on the hot paths: statements sent together, rows inserted without reading back.

psycopg spends a round trip on its own ``BEGIN`` before a transaction's first statement,
and one per statement after it; on PostgreSQL each costs about a millisecond here with the
Python around it. These helpers send several statements in one round trip, in psycopg's
pipeline mode. Every value travels as a bound parameter, apart from the statement's text
(settings.py turns on server-side binding): PostgreSQL logs the text of a statement that
fails, and a value bound on the client would land there, message text and all. Elsewhere
(SQLite, in-process) they run the statements one by one, which costs nothing there.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

import psycopg
from django.db import connection, transaction
from django.db.models import Model

M = TypeVar("M", bound=Model)
Statement = tuple[str, Sequence[Any] | None]  # SQL with %s placeholders, and their values


def commit_relaxed() -> None:
    """Let this transaction commit without waiting for PostgreSQL's disk flush.

    Only for writes whose loss in a database crash is harmless: a lost claim or finish
    means the invocation runs again, a lost confirm a resend; reply refs are stable, so
    nobody is answered twice.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")


class ReadInWriteBatch(RuntimeError):
    """A statement that reads ran inside :func:`writes_batched`, whose statements run later."""


def _reads(sql: str) -> bool:
    head = sql.lstrip()[:6].upper()
    return head in ("SELECT", "WITH") or " RETURNING " in sql.upper()


@contextmanager
def _sqlite_synced(synced: bool) -> Iterator[None]:
    """Within the block, this SQLite connection's commits sync the log to disk."""
    if not synced:
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA synchronous=FULL")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA synchronous=NORMAL")  # as settings.py sets every connection


@contextmanager
def writes_batched(*, relaxed: bool = True) -> Iterator[None]:
    """A transaction that only writes: one round trip on PostgreSQL.

    The block's statements are not run as they are issued. They are gathered, with their
    values, and sent when the block ends in one round trip (a pipeline): ``BEGIN``, the
    statements, ``COMMIT``. So the block must read nothing back: a statement
    that would return rows raises :class:`ReadInWriteBatch`, and row counts are not known
    (``update()`` returns -1). ``on_commit`` callbacks run after the ``COMMIT``, as usual;
    an error rolls it all back. ``relaxed`` commits without waiting for the disk flush
    (:func:`commit_relaxed`); pass False when the commit is a promise to someone.
    Elsewhere (SQLite), or inside another transaction, it is an ordinary atomic block
    (inside another, the outer transaction's commit is left as it is). On SQLite, whose
    connections commit without syncing the write-ahead log (``synchronous=NORMAL``: safe
    from a crash of the process, not of the machine), a commit that is not ``relaxed``
    syncs it (``FULL``).
    """
    if connection.in_atomic_block:
        with transaction.atomic():  # the outer transaction decides how it commits
            yield
        return
    if connection.vendor != "postgresql":
        with _sqlite_synced(not relaxed and connection.vendor == "sqlite"), transaction.atomic():
            yield
        return
    statements: list[Statement] = []

    def gather(execute: Any, sql: str, params: Any, many: bool, context: dict[str, Any]) -> None:
        if _reads(sql):
            raise ReadInWriteBatch(f"a statement that reads inside writes_batched(): {sql[:80]}")
        statements.extend((sql, one) for one in (params if many else [params]))

    with transaction.atomic():
        connection.ensure_connection()
        with connection.execute_wrapper(gather):
            yield
        if not statements:
            return
        head: list[Statement] = [("BEGIN", None)]
        if relaxed:
            head.append(("SET LOCAL synchronous_commit TO OFF", None))
        raw = connection.connection
        raw.autocommit = True  # nothing ran yet: psycopg sends no BEGIN of its own
        try:
            pipelined([*head, *statements, ("COMMIT", None)])
        except Exception:
            with contextlib.suppress(Exception):
                raw.execute("ROLLBACK")  # a failed statement leaves the explicit transaction open
            raise
        finally:
            raw.autocommit = False  # as the atomic block expects; its commit finds nothing to do


def pipelined(statements: Sequence[Statement]) -> list[list[tuple[Any, ...]]]:
    """Run ``statements`` in one round trip (PostgreSQL's pipeline), each with its values
    bound; the rows of each (empty for those that return none)."""
    connection.ensure_connection()
    raw = connection.connection
    cursors = []
    with connection.wrap_database_errors, raw.pipeline():
        for sql, params in statements:
            cursor = psycopg.Cursor(raw)  # server-side binding, whatever the connection's default
            cursor.execute(sql, params)
            cursors.append(cursor)
    results = []
    for cursor in cursors:  # their results are in: no more round trips
        results.append(list(cursor.fetchall()) if cursor.pgresult is not None and cursor.pgresult.nfields else [])
        cursor.close()
    return results


def reads_together(statements: Sequence[Statement]) -> list[list[tuple[Any, ...]]]:
    """The rows of each of ``statements`` (each a SELECT), in one round trip on PostgreSQL.

    Outside a transaction each statement sees its own snapshot, as separate queries would.
    """
    if connection.vendor != "postgresql" or len(statements) < 2:
        results = []
        with connection.cursor() as cursor:
            for sql, params in statements:
                cursor.execute(sql, params)
                results.append(list(cursor.fetchall()))
        return results
    return pipelined(statements)


def ids_next(models: Sequence[type[Model]], count: int) -> Statement | None:
    """A SELECT of ``count`` new primary keys of each of ``models`` from their sequences
    (PostgreSQL): ``count`` rows, a column per model. None elsewhere.

    Keys known before the insert let the insert skip ``RETURNING`` (see :func:`rows_insert`),
    so it can travel in :func:`writes_batched`. A key taken and not used leaves a gap.
    """
    if connection.vendor != "postgresql" or count < 1 or not models:
        return None
    columns = ", ".join(["nextval(pg_get_serial_sequence(%s, %s))"] * len(models))
    params: list[Any] = []
    for model in models:
        params += [connection.ops.quote_name(model._meta.db_table), model._meta.pk.column]
    return f"SELECT {columns} FROM generate_series(1, %s)", [*params, count]  # noqa: S608


Converter = tuple[list[Any], Any]


def field_converters(model: type[Model], fields: Sequence[Any]) -> list[Converter]:
    """Per field of ``model``: the database's and the field's converters, as the ORM applies them."""
    found = []
    for field in fields:
        col = field.get_col(model._meta.db_table)
        found.append((connection.ops.get_db_converters(col) + col.get_db_converters(connection), col))
    return found


def values_converted(values: Sequence[Any], converters: Sequence[Converter]) -> list[Any]:
    """A raw row's ``values`` as the ORM would load them (SQLite's datetimes are text, say)."""
    out = []
    for value, (functions, col) in zip(values, converters, strict=True):
        for convert in functions:
            value = convert(value, col, connection)
        out.append(value)
    return out


def rows_insert(objs: Sequence[M]) -> None:
    """Insert ``objs`` (one model) in one statement; with their keys set, read nothing back.

    ``bulk_create`` asks PostgreSQL for the keys (``RETURNING``) even when they are given;
    this does not, so it works inside :func:`writes_batched`. Without keys it is
    ``bulk_create``, which sets them.
    """
    if not objs:
        return
    model = type(objs[0])
    if any(obj.pk is None for obj in objs):
        model._default_manager.bulk_create(objs)
        return
    for obj in objs:
        obj._prepare_related_fields_for_save(operation_name="rows_insert")  # type: ignore[attr-defined]
    db = connection.alias
    fields = [field for field in model._meta.concrete_fields if not field.generated]
    model._base_manager._insert(objs, fields=fields, using=db)  # type: ignore[attr-defined]
    for obj in objs:
        obj._state.adding = False
        obj._state.db = db
