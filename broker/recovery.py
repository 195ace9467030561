"""Finish what a crash interrupted: accepted messages whose invocation never finished.

``broker_recover`` runs once when ``runbroker`` starts; ``recovery_sweep`` runs in every
``runbroker`` process (``--no-worker`` included) every ``recovery.sweep_interval_seconds``
and re-sends invocations whose worker died (``plugins.liveness``). Several processes may
sweep at once: a cache marker keeps them from sending the same invocation together, and
what decides is the runtime's claim under the invocation's row lock (a finished one never
runs again, a running one with a live worker is left alone) and the outbox's stable refs.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import close_old_connections, transaction
from django.utils import timezone

from bridgeprotocol.logformat import log_fields
from broker.message_routing import inbound_route
from broker.models import InboundMessage
from plugins.execution import version_limits
from plugins.liveness import Thresholds, invocation_lost
from plugins.models import Invocation
from plugins.services import invocations_enqueue

log = logging.getLogger(__name__)


def broker_recover(*, bot_id: str = "") -> int:
    """Re-enqueue unfinished invocations of stored messages; return how many.

    Safe to repeat: the runtime never runs a finished invocation again, and the outbox
    keys every part by a stable ref, so a message is never answered twice.
    """
    for inbound in InboundMessage.objects.filter(status=InboundMessage.Status.ACCEPTED, invocation__isnull=True):
        with transaction.atomic():  # stored but never routed (not possible today; cheap to cover)
            inbound_route(inbound=inbound, bot_id=bot_id)
            inbound.save(update_fields=["status", "invocation"])
    pending = list(
        Invocation.objects.filter(
            status__in=[Invocation.Status.QUEUED, Invocation.Status.RUNNING], inbound_message__isnull=False
        ).values_list("pk", flat=True)
    )
    # This process's own workers start after this: a queue of theirs is not served yet.
    invocations_enqueue(ids=pending, answer_unserved=False)
    if pending:
        log.info("re-enqueued %d unfinished invocations after a restart", len(pending))
    return len(pending)


SWEEP_BATCH = 500
_MARKER = "sessionbot:recovery:sent:{}:{:.6f}"  # pk and queued_at: a new database reuses pks


def _thresholds() -> Thresholds:
    recovery = settings.BOT_CONFIG.recovery
    return Thresholds(recovery.queued_after_seconds, recovery.running_margin_seconds)


def _candidates(now: datetime, thresholds: Thresholds) -> list[Invocation]:
    # The database narrows to old enough rows; the version's own timeout decides in Python.
    queued_before = now - timedelta(seconds=thresholds.queued_after_seconds)
    started_before = now - timedelta(seconds=thresholds.running_margin_seconds)
    unfinished = Invocation.objects.filter(inbound_message__isnull=False).select_related("plugin_version")
    queued = unfinished.filter(status=Invocation.Status.QUEUED, queued_at__lt=queued_before)
    running = unfinished.filter(status=Invocation.Status.RUNNING, started_at__lt=started_before)
    never_started = unfinished.filter(status=Invocation.Status.RUNNING, started_at__isnull=True)
    found = list(queued.order_by("queued_at")[:SWEEP_BATCH])
    found += list((running | never_started).order_by("started_at")[:SWEEP_BATCH])
    return found


def _timeout_of(inv: Invocation) -> float:
    if inv.plugin_version is None:
        return settings.BOT_CONFIG.plugin_limits.timeout_seconds
    return version_limits(version=inv.plugin_version).timeout_seconds


def recovery_sweep(*, now: datetime | None = None) -> int:
    """Send lost invocations (``plugins.liveness``) to the workers again; return how many.

    One marker per invocation, held for ``queued_after_seconds``, keeps several sweeping
    processes (on the shared Redis cache) and consecutive sweeps from piling up copies.
    """
    now = now or timezone.now()
    thresholds = _thresholds()
    sent = 0
    for inv in _candidates(now, thresholds):
        lost = invocation_lost(
            status=inv.status,
            queued_at=inv.queued_at,
            started_at=inv.started_at,
            now=now,
            timeout_seconds=_timeout_of(inv),
            thresholds=thresholds,
        )
        if not lost or not cache.add(
            _MARKER.format(inv.pk, inv.queued_at.timestamp()), 1, timeout=thresholds.queued_after_seconds
        ):
            continue
        invocations_enqueue(ids=[inv.pk])
        sent += 1
        log.warning(
            "invocation %s was %s and its worker is gone: sent to the workers again",
            inv.pk,
            inv.status,
            extra=log_fields(invocation=inv.pk),
        )
    return sent


def recovery_sweep_tick() -> int:
    """One sweep from ``runbroker``'s own thread, on a connection that may have gone stale."""
    close_old_connections()
    try:
        return recovery_sweep()
    finally:
        close_old_connections()
