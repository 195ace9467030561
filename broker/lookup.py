"""What a batch of messages needs to know before it is stored, read in one round trip.

Which messages are stored already (duplicates), the senders' user records, and, on
PostgreSQL, keys for the rows the batch may insert, so that its writes read nothing back
and travel as one query. Elsewhere the same statements run one by one.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import connection

from broker.models import InboundMessage
from plugins.models import BotUser, Invocation
from sessionbot.dbbatch import Converter, Statement, field_converters, ids_next, reads_together, values_converted


@dataclass(frozen=True, slots=True)
class Lookup:
    stored: frozenset[str] = frozenset()  # message hashes already stored
    users: dict[str, BotUser] = field(default_factory=dict)  # senders found (the others are new)
    invocation_ids: list[int] = field(default_factory=list)  # reserved keys (PostgreSQL only)
    inbound_ids: list[int] = field(default_factory=list)


def batch_lookup(*, bot: int, message_ids: list[str], senders: list[str], reserve: int) -> Lookup:
    """Read bot ``bot``'s duplicates among ``message_ids`` and users among ``senders``, and reserve
    ``reserve`` keys each for invocations and inbound messages (PostgreSQL)."""
    sql = _sql(connection.vendor)
    statements: list[Statement] = []
    if message_ids:
        statements.append((sql.duplicates + _placeholders(message_ids), [bot, *message_ids]))
    if senders:
        statements.append((sql.users + _placeholders(senders), [bot, *senders]))
    reserving = ids_next((Invocation, InboundMessage), reserve)
    if reserving is not None:
        statements.append(reserving)
    if not statements:
        return Lookup()
    results = reads_together(statements)
    stored = frozenset(str(row[0]) for row in results.pop(0)) if message_ids else frozenset()
    users = [_user(row) for row in results.pop(0)] if senders else []
    keys = [[int(row[0]) for row in results[0]], [int(row[1]) for row in results[0]]] if results else [[], []]
    return Lookup(
        stored=stored,
        users={user.session_id: user for user in users},
        invocation_ids=keys[0],
        inbound_ids=keys[1],
    )


@dataclass(frozen=True, slots=True)
class _Statements:
    duplicates: str  # … IN, then the bot and the message hashes
    users: str  # … IN, then the bot and the Session IDs


@functools.cache
def _sql(vendor: str) -> _Statements:
    # Written once per process from the models' metadata: compiling ORM queries cost more
    # than the round trip. Identifiers are quoted; every value is a parameter.
    quote = connection.ops.quote_name
    columns = ", ".join(quote(str(field.column)) for field in _USER_FIELDS)
    message_id, bot = quote("message_id"), quote("bot_id")
    inbound, users = quote(InboundMessage._meta.db_table), quote(BotUser._meta.db_table)
    return _Statements(
        duplicates=f"SELECT {message_id} FROM {inbound} WHERE {bot} = %s AND {message_id} IN ",  # noqa: S608
        users=f"SELECT {columns} FROM {users} WHERE {bot} = %s AND {quote('session_id')} IN ",  # noqa: S608
    )


_USER_FIELDS = tuple(BotUser._meta.concrete_fields)
_USER_NAMES = [field.attname for field in _USER_FIELDS]


@functools.cache
def _user_converters(vendor: str) -> list[Converter]:
    return field_converters(BotUser, _USER_FIELDS)


def _user(row: Sequence[Any]) -> BotUser:
    values = values_converted(row, _user_converters(connection.vendor))
    return BotUser.from_db(connection.alias, _USER_NAMES, values)


def _placeholders(values: list[str]) -> str:
    return "(" + ", ".join(["%s"] * len(values)) + ")"
