"""The bot's activity by hour: read from the message and invocation rows, kept as rollups.

A message counts in the hour it was stored, a reply part in the hour the bridge confirmed
it sent, an invocation in the hour it was queued; each under the plugin that ran it ("" for
a message no plugin handled). Reply latency is the time from a message's storage to the
confirmation of its reply's first part, the same measure as ``/metrics``' histogram.

``runbroker`` calls :func:`activity_rollup_tick` every few minutes: it counts again the
last hours (whose invocations and replies may still have been running) and every hour since
the last tick, one short transaction each. ``manage.py rollup --hours N`` counts N hours
again. Readers take whole hours from ``ActivityHour``, summed by the database into the
slots they show (:func:`activity_slots`), and the last two hours from the rows themselves
(:func:`activity_events`, a few indexed range queries).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import close_old_connections, connection, transaction
from django.db.models import Case, IntegerField, Min, Model, QuerySet, Sum, Value, When
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast
from django.utils import timezone

from broker.activityrules import BUCKETS, Events, Key, Tally, events_tally, hours_between
from broker.models import ActivityHour, ActivityRollup, InboundMessage, OutboundMessage
from plugins.models import Invocation

log = logging.getLogger(__name__)

HOUR = timedelta(hours=1)
RECOUNT_HOURS = 3  # hours counted again at each tick: replies and runs that finished late
FIRST_HOURS = 7 * 24  # a first tick counts the last week
INTERVAL_SECONDS = 300.0


def hour_floor(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def _moment(value: Any) -> datetime | None:
    """A time as the database returned it: SQLite's naive UTC (text or parsed), or PostgreSQL's aware time."""
    if value is None:
        return None
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _fetch(rows: QuerySet[Model, Any], *, times: Sequence[int]) -> list[list[Any]]:
    """The rows of ``rows`` with its times (the columns ``times``) parsed, without the ORM's
    per-value converters: the dashboard reads thousands of rows and they cost more than the query."""
    sql, params = rows.query.sql_with_params()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # psycopg's time loader runs in Python; the text and fromisoformat are C.
            from psycopg.types.string import TextLoader

            cursor.cursor.adapters.register_loader("timestamptz", TextLoader)
        cursor.execute(sql, params)
        found = [list(row) for row in cursor.fetchall()]
    for row in found:
        for i in times:
            row[i] = _moment(row[i])
    return found


def activity_events(*, start: datetime, end: datetime) -> Events:
    """The rows of [``start``, ``end``): three range queries on indexed times."""
    received = (
        InboundMessage.objects.filter(received_at__gte=start, received_at__lt=end)
        .order_by()
        .values_list("id", "bot_id", "invocation__plugin_version__plugin__name", "received_at")
        .annotate(first_sent=Min("invocation__outbound_messages__sent_at"))
    )
    sent = (
        OutboundMessage.objects.filter(status=OutboundMessage.Status.SENT, sent_at__gte=start, sent_at__lt=end)
        .order_by()
        .values_list("bot_id", "invocation__plugin_version__plugin__name", "sent_at")
    )
    # Naming every status lets the (status, queued_at) index answer.
    queued = (
        Invocation.objects.filter(status__in=Invocation.Status.values, queued_at__gte=start, queued_at__lt=end)
        .order_by()
        .values_list("bot_id", "plugin_version__plugin__name", "queued_at", "status")
    )
    return Events(
        received=[(bot, plugin or "", at, first) for _id, bot, plugin, at, first in _fetch(received, times=(3, 4))],
        sent=[(bot, plugin or "", at) for bot, plugin, at in _fetch(sent, times=(2,)) if at is not None],
        queued=[(bot, plugin or "", at, status) for bot, plugin, at, status in _fetch(queued, times=(2,))],
    )


def _hour_store(hour: datetime) -> int:
    """Count ``hour`` from the rows and replace its rollup; the number of rows written."""
    tallies = events_tally(activity_events(start=hour, end=hour + HOUR), start=hour, width=HOUR, slots=1)
    rows = [
        ActivityHour(
            hour=hour,
            bot_id=bot,
            plugin=plugin,
            messages_in=t.messages_in,
            messages_out=t.messages_out,
            invocations=t.invocations,
            finished=t.finished,
            faults=t.faults,
            latency=t.latency,
        )
        for ((bot, plugin), _slot), t in sorted(tallies.items())
    ]
    with transaction.atomic():
        mark, _created = ActivityRollup.objects.select_for_update().get_or_create(pk=1)
        ActivityHour.objects.filter(hour=hour).delete()
        ActivityHour.objects.bulk_create(rows)
        end = hour + HOUR
        if mark.rolled_until is None or mark.rolled_until < end:
            mark.rolled_until = end
        mark.rolled_at = timezone.now()
        mark.save()
    return len(rows)


def activity_rollup(*, hours: int, now: datetime | None = None) -> int:
    """Count the last ``hours`` whole hours again (the current one is read live); rows written."""
    end = hour_floor(now or timezone.now())
    return sum(_hour_store(hour) for hour in hours_between(end - hours * HOUR, end))


def activity_rollup_due(*, now: datetime) -> list[datetime]:
    """The whole hours a tick counts: the last few, and every one since the last tick."""
    end = hour_floor(now)
    mark = ActivityRollup.objects.filter(pk=1).values_list("rolled_until", flat=True).first()
    start = end - FIRST_HOURS * HOUR if mark is None else min(mark, end - RECOUNT_HOURS * HOUR)
    return hours_between(max(start, end - FIRST_HOURS * HOUR), end)


def activity_rollup_tick() -> int:
    """One rollup from ``runbroker``'s own thread, on a connection that may have gone stale."""
    close_old_connections()
    try:
        written = sum(_hour_store(hour) for hour in activity_rollup_due(now=timezone.now()))
    finally:
        close_old_connections()
    log.debug("activity rollup: %d rows", written)
    return written


def activity_hours(*, start: datetime, end: datetime) -> dict[tuple[Key, datetime], Tally]:
    """The stored rollups of the hours in [``start``, ``end``), one query."""
    rows = ActivityHour.objects.filter(hour__gte=start, hour__lt=end).values_list(
        "bot_id", "plugin", "hour", "messages_in", "messages_out", "invocations", "finished", "faults", "latency"
    )
    found: dict[tuple[Key, datetime], Tally] = {}
    for bot, plugin, hour, m_in, m_out, invocations, finished, faults, latency in _fetch(rows, times=(2,)):
        tally = Tally(m_in, m_out, invocations, finished, faults)
        buckets = json.loads(latency) if isinstance(latency, str | bytes) else latency
        if isinstance(buckets, list) and len(buckets) == len(tally.latency):
            tally.latency = [int(n) for n in buckets]
        found[((bot, plugin), hour)] = tally
    return found


COUNTS = ("messages_in", "messages_out", "invocations", "finished", "faults")


def activity_slots(*, bounds: Sequence[datetime]) -> dict[tuple[Key, int], Tally]:
    """The stored rollups summed per (bot, plugin) and slot, by the database: slot ``i`` holds
    the hours in [``bounds[i]``, ``bounds[i + 1]``). One query; a row per key and slot, however
    many hours a slot holds."""
    if len(bounds) < 2:
        return {}
    slot = Case(
        *(When(hour__lt=bound, then=Value(i)) for i, bound in enumerate(bounds[1:-1])),
        default=Value(len(bounds) - 2),
        output_field=IntegerField(),
    )
    # Each bucket of the latency histogram (a JSON list) as a number the database can add up.
    buckets = {f"b{i}": Sum(Cast(KeyTextTransform(str(i), "latency"), IntegerField())) for i in range(BUCKETS)}
    rows = (
        ActivityHour.objects.filter(hour__gte=bounds[0], hour__lt=bounds[-1])
        .annotate(slot=slot)
        .order_by()
        .values("bot_id", "plugin", "slot")
        .annotate(**{f"sum_{name}": Sum(name) for name in COUNTS}, **buckets)
        .values_list("bot_id", "plugin", "slot", *(f"sum_{name}" for name in COUNTS), *buckets)
    )
    found: dict[tuple[Key, int], Tally] = {}
    for bot, plugin, i, *sums in _fetch(rows, times=()):
        m_in, m_out, invocations, finished, faults, *latency = (int(n or 0) for n in sums)
        found[((bot, plugin), i)] = Tally(m_in, m_out, invocations, finished, faults, latency)
    return found


def activity_rollup_mark() -> tuple[datetime | None, datetime | None]:
    """The end of the last hour the rollup counted and when it last wrote (None, None before
    its first tick); stored hours change only when it writes."""
    found = ActivityRollup.objects.filter(pk=1).values_list("rolled_until", "rolled_at").first()
    return found if found is not None else (None, None)
