"""The bot's Prometheus families, read from the database at scrape time.

The ASGI server, the Celery workers and the bridge are separate processes, scaled out on
separate machines, so in-process counters would each see a slice. Every number here comes
from the shared database instead: one aggregate query per family, and the histograms
look at a bounded recent window, so a scrape stays cheap however long the bot has run.

No label carries message text or a user's Session ID: Session users chose a private
messenger. Labels are plugin names, statuses and the bot's own (public) Session ID.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, Min, Q, Sum
from django.utils import timezone
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeHistogramMetricFamily,
    GaugeMetricFamily,
    Metric,
)

from broker.models import InboundMessage
from broker.status import bridges_list, outbox_summary, plugins_health
from broker.statusrules import (
    DURATION_BUCKETS,
    FINISHED_STATUSES,
    IN_PROGRESS_STATUSES,
    histogram_cumulate,
    status_fields,
)
from plugins.models import Invocation, Plugin

# The window of the histograms and the error ratio; documented in docs/metrics.md.
WINDOW = timedelta(minutes=15)
# At most this many recent messages are read for the reply latency histogram.
LATENCY_SAMPLE = 10_000
NO_PLUGIN = "(none)"  # invocations whose plugin version was deleted; not a valid plugin name
_STATUS_FIELD = re.compile(r"^[a-z][a-z0-9_]{0,39}\Z")


def _bucket_pairs(counts: list[int]) -> list[tuple[str, float]]:
    bounds = [*(f"{b:g}" for b in DURATION_BUCKETS), "+Inf"]
    return [(le, float(n)) for le, n in zip(bounds, counts, strict=True)]


def inbound_families() -> Iterator[Metric]:
    counts = dict(InboundMessage.objects.order_by().values("status").annotate(n=Count("id")).values_list("status", "n"))
    total = CounterMetricFamily(
        "sessionbot_inbound_messages",
        "Messages received from Session users and handled, by outcome (routed, answered, ignored).",
        labels=["status"],
    )
    for status in InboundMessage.Status.values:
        if status != InboundMessage.Status.ACCEPTED:
            total.add_metric([status], counts.get(status, 0))
    yield total
    # Accepted but not yet routed: a transient state, so a gauge (a counter must never fall).
    yield GaugeMetricFamily(
        "sessionbot_inbound_messages_waiting",
        "Messages stored but not yet routed.",
        value=counts.get(InboundMessage.Status.ACCEPTED, 0),
    )


def outbound_families(*, now: datetime, since: datetime) -> Iterator[Metric]:
    out = outbox_summary(now=now, since=since)
    sends = CounterMetricFamily(
        "sessionbot_outbound_messages", "Sends the bridge confirmed (sent) or gave up (failed).", labels=["status"]
    )
    sends.add_metric(["sent"], out.sent_total)
    sends.add_metric(["failed"], out.failed_total)
    yield sends
    yield GaugeMetricFamily("sessionbot_outbound_pending", "Sends waiting for the bridge.", value=out.pending)
    yield GaugeMetricFamily(
        "sessionbot_outbound_oldest_pending_age_seconds",
        "Age of the oldest send waiting for the bridge (0 when none waits).",
        value=out.oldest_pending_seconds or 0.0,
    )


def invocation_families(*, plugin_names: list[str]) -> Iterator[Metric]:
    rows = Invocation.objects.order_by().values_list("plugin_version__plugin__name", "status").annotate(n=Count("id"))
    counts = {(name or NO_PLUGIN, status): n for name, status, n in rows}
    finished = CounterMetricFamily(
        "sessionbot_invocations", "Finished plugin invocations by plugin and status.", labels=["plugin", "status"]
    )
    # Every installed plugin gets every status from the start, so rate() sees the first one.
    keys = {(name, status) for name in plugin_names for status in FINISHED_STATUSES}
    keys |= {key for key in counts if key[1] in FINISHED_STATUSES}
    for name, status in sorted(keys):
        finished.add_metric([name, status], counts.get((name, status), 0))
    yield finished
    active = GaugeMetricFamily(
        "sessionbot_invocations_in_progress", "Invocations queued or running now.", labels=["plugin", "status"]
    )
    for name in sorted({key[0] for key in counts} | set(plugin_names)):
        for status in IN_PROGRESS_STATUSES:
            active.add_metric([name, status], counts.get((name, status), 0))
    yield active


def duration_family(*, since: datetime) -> Metric:
    buckets = {f"le{i}": Count("id", filter=Q(duration_ms__lte=b * 1000)) for i, b in enumerate(DURATION_BUCKETS)}
    rows = (
        Invocation.objects.filter(queued_at__gte=since, status__in=FINISHED_STATUSES, duration_ms__isnull=False)
        .order_by()
        .values("plugin_version__plugin__name")
        .annotate(n=Count("id"), total=Sum("duration_ms"), **buckets)
    )
    family = GaugeHistogramMetricFamily(
        "sessionbot_invocation_duration_recent_seconds",
        f"Plugin run time of invocations queued in the last {WINDOW.seconds // 60} minutes.",
        labels=["plugin"],
    )
    for typed_row in rows:
        row: dict[str, Any] = dict(typed_row)  # the bucket keys are built, not literal
        counts = [row[f"le{i}"] for i in range(len(DURATION_BUCKETS))] + [row["n"]]
        name = row["plugin_version__plugin__name"] or NO_PLUGIN
        family.add_metric([name], _bucket_pairs(counts), gsum_value=(row["total"] or 0.0) / 1000)
    return family


def latency_family(*, since: datetime) -> Metric:
    """Time from a message's arrival to the bridge's confirmation of the first part of its reply."""
    rows = (
        InboundMessage.objects.filter(received_at__gte=since, invocation__isnull=False)
        .order_by()
        .values("id", "received_at")
        .annotate(first_sent=Min("invocation__outbound_messages__sent_at"))
        .filter(first_sent__isnull=False)
        .order_by("-received_at")[:LATENCY_SAMPLE]
    )
    seconds = (max((row["first_sent"] - row["received_at"]).total_seconds(), 0.0) for row in rows)
    counts, total, _n = histogram_cumulate(seconds, DURATION_BUCKETS)
    family = GaugeHistogramMetricFamily(
        "sessionbot_reply_latency_recent_seconds",
        f"Message received to first reply part sent, for messages of the last {WINDOW.seconds // 60} minutes.",
    )
    family.add_metric([], _bucket_pairs(counts), gsum_value=total)
    return family


def plugin_families(*, since: datetime) -> Iterator[Metric]:
    rows = plugins_health(since=since)
    enabled = GaugeMetricFamily("sessionbot_plugin_enabled", "1 if the plugin is enabled.", labels=["plugin"])
    loaded = GaugeMetricFamily("sessionbot_plugin_loaded", "1 if the plugin's code is loaded.", labels=["plugin"])
    health = GaugeMetricFamily(
        "sessionbot_plugin_health_ok",
        "Result of the plugin's own health check (absent if it has none).",
        labels=["plugin"],
    )
    ratio = GaugeMetricFamily(
        "sessionbot_plugin_error_ratio",
        f"Share of the last {WINDOW.seconds // 60} minutes' finished invocations that failed, timed out or crashed.",
        labels=["plugin"],
    )
    success = GaugeMetricFamily(
        "sessionbot_plugin_last_success_timestamp_seconds", "When the plugin last answered.", labels=["plugin"]
    )
    info = GaugeMetricFamily("sessionbot_plugin_info", "The plugin's active version.", labels=["plugin", "version"])
    for row in rows:
        enabled.add_metric([row.name], float(row.enabled))
        loaded.add_metric([row.name], float(row.load_state == "loaded"))
        if row.health_status:
            health.add_metric([row.name], float(row.health_status == "ok"))
        ratio.add_metric([row.name], row.error_ratio)
        if row.last_success_at:
            success.add_metric([row.name], row.last_success_at.timestamp())
        info.add_metric([row.name, row.version or NO_PLUGIN], 1.0)
    yield from (enabled, loaded, health, ratio, success, info)


def bridge_families() -> Iterator[Metric]:
    connected = GaugeMetricFamily("sessionbot_bridge_connected", "1 while the bridge is connected.", labels=["bot_id"])
    seen = GaugeMetricFamily(
        "sessionbot_bridge_last_seen_timestamp_seconds",
        "When the broker last heard from the bridge (hello, status frame or disconnect).",
        labels=["bot_id"],
    )
    fields = GaugeMetricFamily(
        "sessionbot_bridge_status", "Numeric fields of the bridge's latest status frame.", labels=["bot_id", "field"]
    )
    for bridge in bridges_list():
        connected.add_metric([bridge.bot_id], float(bridge.connected))
        if bridge.last_seen:
            seen.add_metric([bridge.bot_id], bridge.last_seen.timestamp())
        for key, value in status_fields(bridge.status, sep="_"):
            if _STATUS_FIELD.match(key) and isinstance(value, int | float):
                fields.add_metric([bridge.bot_id, key], float(value))
    yield from (connected, seen, fields)


def bot_families() -> Iterator[Metric]:
    """Every family of the bot, built from the database now."""
    now = timezone.now()
    since = now - WINDOW
    plugin_names = list(Plugin.objects.order_by("name").values_list("name", flat=True))
    yield from inbound_families()
    yield from outbound_families(now=now, since=since)
    yield from invocation_families(plugin_names=plugin_names)
    yield duration_family(since=since)
    yield latency_family(since=since)
    yield from plugin_families(since=since)
    yield from bridge_families()
