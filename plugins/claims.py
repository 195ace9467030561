"""Claiming an invocation for one run: the worker's first step, on the hot path of every message.

A claim is a conditional UPDATE: a finished invocation is never claimed, and a running one
only once its worker is past its limit (it died). The common case, a queued invocation,
costs one round trip: on PostgreSQL the relaxed commit, the UPDATE and the commit travel
as one simple-protocol query.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from plugins.execution import version_limits
from plugins.liveness import Thresholds, running_abandoned
from plugins.models import Invocation

Status = Invocation.Status


def commit_relaxed() -> None:
    """Let this transaction commit without waiting for PostgreSQL's disk flush.

    Only for writes whose loss in a database crash is harmless: a lost claim or finish
    means the invocation runs again, a lost confirm a resend; reply refs are stable, so
    nobody is answered twice.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")


def invocation_claim(invocation_id: int) -> Invocation | None:
    """Claim ``invocation_id`` for this worker and return it, or None if it is not ours to run."""
    claimed = _claim_queued(invocation_id)
    if not claimed:
        with transaction.atomic():
            commit_relaxed()
            inv = Invocation.objects.select_related("plugin_version__plugin").filter(pk=invocation_id).first()
            if inv is not None and inv.status == Status.RUNNING and not _running_elsewhere(inv):
                # Its worker died: take it over, unless another copy took it a moment ago.
                same = Invocation.objects.filter(pk=invocation_id, status=inv.status, started_at=inv.started_at)
                claimed = _claim(same) > 0
    if not claimed:
        return None
    return Invocation.objects.select_related("plugin_version__plugin", "user").get(pk=invocation_id)


def _claim_queued(invocation_id: int) -> bool:
    quote = connection.ops.quote_name
    # The model's fields of these names keep their default columns.
    status, started, attempts, pk = (quote(name) for name in ("status", "started_at", "attempts", "id"))
    # Identifiers come from the model and are quoted; every value is a parameter.
    update = (
        f"UPDATE {quote(Invocation._meta.db_table)} SET {status} = %s, {started} = %s, "  # noqa: S608
        f"{attempts} = {attempts} + 1 WHERE {pk} = %s AND {status} = %s RETURNING {pk}"
    )
    params: list[Any] = [Status.RUNNING, connection.ops.adapt_datetimefield_value(timezone.now()), invocation_id]
    params.append(Status.QUEUED)
    with connection.cursor() as cursor:
        if connection.vendor != "postgresql" or not connection.get_autocommit():
            cursor.execute(update, params)
            return cursor.fetchone() is not None
        cursor.execute(f"BEGIN; SET LOCAL synchronous_commit TO OFF; {update}; COMMIT", params)
        raw = cursor.cursor
        while raw.description is None and raw.nextset():
            pass
        return raw.description is not None and raw.fetchone() is not None


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
