"""Claiming an invocation for one run: the worker's first step, on the hot path of every message.

A claim is a conditional UPDATE: a finished invocation is never claimed, and a running one
only once its worker is past its limit (it died). The common case, a queued invocation,
costs one round trip on PostgreSQL: the relaxed commit, the UPDATE and the read of
everything the run needs (its version, plugin, user and the user's groups) travel
together in a pipeline, the values as bound parameters. The statements are written once per process from the models'
metadata, and rows are converted with the ORM's own converters.
"""

from __future__ import annotations

import contextlib
import functools
import json
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Model, QuerySet
from django.utils import timezone

from plugins.execution import version_limits
from plugins.liveness import Thresholds, running_abandoned
from plugins.models import BotGroup, BotUser, Invocation, Plugin, PluginVersion
from sessionbot.dbbatch import Converter, commit_relaxed, field_converters, pipelined, values_converted

Status = Invocation.Status


@dataclass(frozen=True, slots=True)
class Claimed:
    """A claimed invocation with its version, plugin and user loaded, and the user's groups."""

    invocation: Invocation
    groups: tuple[str, ...]


def invocation_claim(invocation_id: int) -> Claimed | None:
    """Claim ``invocation_id`` for this worker and load it, or None if it is not ours to run."""
    claimed = _claim_queued(invocation_id)
    if claimed is not None:
        return claimed
    with transaction.atomic():
        commit_relaxed()
        inv = Invocation.objects.select_related("plugin_version__plugin").filter(pk=invocation_id).first()
        if inv is None or inv.status != Status.RUNNING or _running_elsewhere(inv):
            return None
        # Its worker died: take it over, unless another copy took it a moment ago.
        same = Invocation.objects.filter(pk=invocation_id, status=inv.status, started_at=inv.started_at)
        if not _claim(same):
            return None
    return _load(invocation_id)


def _claim_queued(invocation_id: int) -> Claimed | None:
    """The common case: a queued invocation, claimed and loaded in one round trip on PostgreSQL."""
    sql = _sql()
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    params: list[Any] = [Status.RUNNING, now, invocation_id, Status.QUEUED]
    if connection.vendor != "postgresql" or not connection.get_autocommit():
        with connection.cursor() as cursor:
            cursor.execute(sql.update_returning, params)
            if cursor.fetchone() is None:
                return None
        return _load(invocation_id)
    relaxed = "SET LOCAL synchronous_commit TO OFF"
    try:
        _, _, rows, _ = pipelined([("BEGIN", None), (relaxed, None), (sql.claim_and_load, params), ("COMMIT", None)])
    except Exception:
        with contextlib.suppress(Exception):
            connection.connection.execute("ROLLBACK")  # a failed statement leaves the transaction open
        raise
    return _from_row(rows[0]) if rows else None


def _load(invocation_id: int) -> Claimed:
    with connection.cursor() as cursor:
        cursor.execute(_sql().load, [invocation_id])
        row = cursor.fetchone()
    if row is None:
        raise Invocation.DoesNotExist(invocation_id)
    return _from_row(row)


def _claim(rows: QuerySet[Invocation]) -> int:
    return rows.update(status=Status.RUNNING, started_at=timezone.now(), attempts=F("attempts") + 1)


def _running_elsewhere(inv: Invocation) -> bool:
    """A live worker runs it now: this is a copy the recovery sweep sent, or a redelivery."""
    if inv.status != Status.RUNNING or inv.plugin_version is None:
        return False
    recovery = settings.BOT_CONFIG.recovery
    thresholds = Thresholds(recovery.queued_after_seconds, recovery.running_margin_seconds)
    timeout = version_limits(version=inv.plugin_version).timeout_seconds
    return not running_abandoned(
        started_at=inv.started_at, now=timezone.now(), timeout_seconds=timeout, thresholds=thresholds
    )


_MODELS: tuple[type[Model], ...] = (Invocation, PluginVersion, Plugin, BotUser)
# Columns a run does not need are left deferred (read on first use, as with ``.defer()``):
# fewer columns to send, describe and convert on every claim.
_DEFERRED = {
    PluginVersion: {"dependencies", "requirements", "checksum", "imported_at", "activated_at"},
    Plugin: {"last_error", "health_status", "health_detail", "health_checked_at", "created_at"},
}


@functools.cache
def _loaded_fields(model: type[Model]) -> tuple[Any, ...]:
    skip = _DEFERRED.get(model, set())
    return tuple(field for field in model._meta.concrete_fields if field.name not in skip)


@functools.cache
def _loaded_names(model: type[Model]) -> list[str]:
    return [field.attname for field in _loaded_fields(model)]


def finish_write(inv: Invocation) -> None:
    """Store a run's result: status, error, finished_at and duration_ms, in one statement."""
    params = [inv.status, inv.error, connection.ops.adapt_datetimefield_value(inv.finished_at), inv.duration_ms, inv.pk]
    with connection.cursor() as cursor:
        cursor.execute(_sql().finish, params)


@dataclass(frozen=True, slots=True)
class _Statements:
    finish: str  # a run's result columns
    update_returning: str  # claim a queued invocation: its pk, or no row
    load: str  # an invocation with its version, plugin, user and the user's group names
    claim_and_load: str  # both at once (PostgreSQL: a data-modifying WITH)


@functools.cache
def _sql_for(vendor: str) -> _Statements:
    quote = connection.ops.quote_name
    inv = quote(Invocation._meta.db_table)
    # The models' fields of these names keep their default columns. Identifiers come
    # from the models and are quoted; every value is a parameter.
    status, started, attempts, pk = (quote(name) for name in ("status", "started_at", "attempts", "id"))
    update = (
        f"UPDATE {inv} SET {status} = %s, {started} = %s, {attempts} = {attempts} + 1 "  # noqa: S608
        f"WHERE {pk} = %s AND {status} = %s RETURNING "
    )
    aliases = ("i", "v", "p", "u")
    columns = ", ".join(
        f"{alias}.{quote(str(field.column))}"
        for alias, model in zip(aliases, _MODELS, strict=True)
        for field in _loaded_fields(model)
    )
    members = quote(BotGroup.members.through._meta.db_table)
    names = "json_agg(g.name)" if vendor == "postgresql" else "json_group_array(g.name)"
    groups = (
        f"(SELECT {names} FROM {members} m JOIN {quote(BotGroup._meta.db_table)} g "  # noqa: S608
        f"ON g.{pk} = m.{quote('botgroup_id')} WHERE m.{quote('botuser_id')} = i.{quote('user_id')})"
    )
    joins = (
        f"LEFT JOIN {quote(PluginVersion._meta.db_table)} v ON v.{pk} = i.{quote('plugin_version_id')} "
        f"LEFT JOIN {quote(Plugin._meta.db_table)} p ON p.{pk} = v.{quote('plugin_id')} "
        f"LEFT JOIN {quote(BotUser._meta.db_table)} u ON u.{pk} = i.{quote('user_id')}"
    )
    select = f"SELECT {columns}, {groups} FROM "  # noqa: S608
    error, finished, duration = (quote(name) for name in ("error", "finished_at", "duration_ms"))
    return _Statements(
        finish=f"UPDATE {inv} SET {status} = %s, {error} = %s, {finished} = %s, {duration} = %s WHERE {pk} = %s",  # noqa: S608
        update_returning=update + pk,
        load=f"{select}{inv} i {joins} WHERE i.{pk} = %s",
        claim_and_load=f"WITH claimed AS ({update}*) {select}claimed i {joins}",
    )


def _sql() -> _Statements:
    return _sql_for(connection.vendor)


@functools.cache
def _converters(vendor: str) -> list[list[Converter]]:
    """Per model, per loaded field: the converters the ORM applies."""
    return [field_converters(model, _loaded_fields(model)) for model in _MODELS]


def _from_row(row: tuple[Any, ...]) -> Claimed:
    position = 0
    loaded: list[Model | None] = []
    for model, per_field in zip(_MODELS, _converters(connection.vendor), strict=True):
        values = values_converted(row[position : position + len(per_field)], per_field)
        position += len(per_field)
        loaded.append(None if values[0] is None else model.from_db(connection.alias, _loaded_names(model), values))
    inv, version, plugin, user = loaded
    assert isinstance(inv, Invocation)
    if isinstance(version, PluginVersion) and isinstance(plugin, Plugin):
        version.plugin = plugin
    inv.plugin_version = version if isinstance(version, PluginVersion) else None
    inv.user = user if isinstance(user, BotUser) else None
    raw_groups = row[position]
    groups = json.loads(raw_groups) if isinstance(raw_groups, str) else (raw_groups or [])
    return Claimed(invocation=inv, groups=tuple(sorted(str(g) for g in groups if g is not None)))
