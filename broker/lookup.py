"""What a batch of messages needs to know before it is stored, read in one round trip.

Which messages are stored already (duplicates), the senders' user records, and, on
PostgreSQL, keys for the rows the batch may insert, so that its writes read nothing back
and travel as one query. Elsewhere the same statements run one by one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db import connection
from django.db.models import Model, QuerySet
from django.db.models.sql.compiler import SQLCompiler

from broker.models import InboundMessage
from plugins.models import BotUser, Invocation
from sessionbot.dbbatch import Statement, ids_next, reads_together


@dataclass(frozen=True, slots=True)
class Lookup:
    stored: frozenset[str] = frozenset()  # message hashes already stored
    users: dict[str, BotUser] = field(default_factory=dict)  # senders found (the others are new)
    invocation_ids: list[int] = field(default_factory=list)  # reserved keys (PostgreSQL only)
    inbound_ids: list[int] = field(default_factory=list)


def batch_lookup(*, message_ids: list[str], senders: list[str], reserve: int) -> Lookup:
    """Read the duplicates among ``message_ids``, the users among ``senders``, and reserve
    ``reserve`` keys each for invocations and inbound messages (PostgreSQL)."""
    duplicates = InboundMessage.objects.filter(message_id__in=message_ids).order_by().values_list("message_id")
    reads = [_compiled(duplicates)] if message_ids else []
    if senders:
        reads.append(_compiled(BotUser.objects.filter(session_id__in=senders).order_by()))
    reserved = [ids_next(model, reserve) for model in (Invocation, InboundMessage)]
    statements = [statement for statement, _ in reads] + [s for s in reserved if s is not None]
    if not statements:
        return Lookup()
    results = reads_together(statements)
    found_rows = results[: len(reads)]
    rows = [
        list(compiler.results_iter(results=[list(found)]))
        for (_, compiler), found in zip(reads, found_rows, strict=True)
    ]
    keys = [[int(row[0]) for row in found] for found in results[len(reads) :]] or [[], []]
    stored = frozenset(str(row[0]) for row in rows.pop(0)) if message_ids else frozenset()
    users = _instances(BotUser, reads[-1][1], rows.pop(0)) if senders else []
    return Lookup(
        stored=stored,
        users={user.session_id: user for user in users},
        invocation_ids=keys[0],
        inbound_ids=keys[1],
    )


def _compiled(queryset: QuerySet[Any, Any]) -> tuple[Statement, SQLCompiler]:
    compiler = queryset.query.get_compiler(using=connection.alias)
    sql, params = compiler.as_sql()
    return (sql, params), compiler


def _instances(model: type[Model], compiler: SQLCompiler, rows: list[Any]) -> list[Any]:
    names = [column.target.attname for column, _, _ in compiler.select]
    return [model.from_db(connection.alias, names, tuple(row)) for row in rows]
