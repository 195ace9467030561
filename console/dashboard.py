"""The dashboard's figures: each bot and each plugin over the last hour, day and week.

Whole hours come from the hourly rollup (``broker.activity``); the last two hours from the
rows themselves, so the page is exact up to now whether or not the rollup has run since
the hour turned. The state (bridges, outbox, queue, plugin health) is read as ``botstatus``
and ``/metrics`` read it. A fixed number of queries, however many bots, plugins or rows.
"""

from __future__ import annotations

import logging
import math
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core.cache import cache
from django.db.models import Count, Min
from django.urls import reverse
from django.utils import dateformat, timezone
from django.utils.translation import gettext as _

from bots.models import Bot
from broker.activity import (
    HOUR,
    activity_events,
    activity_rollup_mark,
    activity_slots,
    hour_floor,
)
from broker.activityrules import Key, Tally, events_tally
from broker.models import BridgeStatus, InboundMessage, OutboundMessage
from broker.status import PluginRow, plugins_health
from broker.statusrules import FAULT_STATUSES, IN_PROGRESS_STATUSES, age_text, poll_age_seconds
from console.charts import Series, bar_chart, line_chart
from plugins.adminlabels import HEALTH_STATUSES, LOAD_STATES, code_label
from plugins.models import Invocation
from sessionbot.durations import duration_text

log = logging.getLogger(__name__)

WEEK_HOURS = 7 * 24
LAST_ERRORS = 10


@dataclass(frozen=True, slots=True)
class Span:
    """How a range is charted: ``slots`` slots of ``width`` ending now."""

    key: str
    width: timedelta
    slots: int


SPANS = {
    "hour": Span("hour", timedelta(minutes=5), 12),
    "day": Span("day", HOUR, 24),
    "week": Span("week", 6 * HOUR, 28),
}


@dataclass(frozen=True, slots=True)
class Figures:
    messages_in: int
    messages_out: int
    invocations: int
    faults: int
    error_ratio: float
    error_rate: str  # the ratio as a percentage; "-" when nothing finished
    p50: str
    p95: str


@dataclass(frozen=True, slots=True)
class Windows:
    hour: Figures
    day: Figures
    week: Figures


@dataclass(frozen=True, slots=True)
class BotCard:
    pk: int
    name: str
    display_name: str
    session_id: str
    enabled: bool
    bridge: str
    bridge_ok: bool
    last_poll: str
    windows: Windows
    charts: list[str]


@dataclass(frozen=True, slots=True)
class PluginLine:
    name: str
    health: PluginRow | None
    windows: Windows
    chart: str

    @property
    def load_label(self) -> str:
        """The plugin's load state in the operator's language."""
        return code_label(LOAD_STATES, self.health.load_state) if self.health else "-"

    @property
    def health_label(self) -> str:
        """Its declared health check's last verdict in the operator's language."""
        return code_label(HEALTH_STATUSES, self.health.health_status) if self.health else "-"


@dataclass(frozen=True, slots=True)
class ErrorLine:
    url: str
    pk: int
    at: datetime
    bot: str
    plugin: str
    command: str
    status: str
    error: str


@dataclass(frozen=True, slots=True)
class Dashboard:
    now: datetime
    span: str
    rolled_until: datetime | None
    inbound_waiting: int
    invocations_queued: int
    invocations_running: int
    outbox_pending: int
    outbox_oldest: str
    sends_failed_hour: int
    bots: list[BotCard]
    plugins: list[PluginLine]
    errors: list[ErrorLine]


def latency_text(seconds: float | None) -> str:
    """``340 ms``, ``2.5 s``, ``> 30 s``; ``-`` without a reply to measure."""
    if seconds is None:
        return "-"
    if math.isinf(seconds):
        return "> 30 s"
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.1f} s"


def figures_of(t: Tally) -> Figures:
    return Figures(
        messages_in=t.messages_in,
        messages_out=t.messages_out,
        invocations=t.invocations,
        faults=t.faults,
        error_ratio=t.error_ratio,
        error_rate=f"{t.error_ratio:.1%}" if t.finished else "-",
        p50=latency_text(t.quantile(0.5)),
        p95=latency_text(t.quantile(0.95)),
    )


def _group(tallies: dict[tuple[Key, int], Tally], by: Callable[[Key], object]) -> dict[tuple[object, int], Tally]:
    found: dict[tuple[object, int], Tally] = defaultdict(Tally)
    for (key, slot), t in tallies.items():
        found[(by(key), slot)].add(t)
    return found


@dataclass(frozen=True, slots=True)
class _Activity:
    hourly: dict[tuple[Key, int], Tally]  # slot = hours ago (0 = the current hour), up to a week; 6 h slots past a day
    last_hour: dict[tuple[Key, int], Tally]  # the last 60 minutes, slot 0
    chart: dict[tuple[Key, int], Tally]  # the chosen range's slots
    labels: list[str]


# The week's chart adds hours up 6 by 6; the stored hours older than a day are needed no finer.
WEEK_SLOT_HOURS = 6


def _stored_hours(*, current: datetime, live_start: datetime) -> dict[tuple[Key, int], Tally]:
    """The rollup's hours of the week before ``live_start``, by hours ago, summed by the database:
    one slot per hour of the last day, one per 6 hours before it (the week chart's slots), each
    keyed by its oldest hour's hours ago."""
    oldest = current - (WEEK_HOURS - 1) * HOUR
    day = current - 23 * HOUR
    bounds = [oldest + i * WEEK_SLOT_HOURS * HOUR for i in range(int((day - oldest) / HOUR) // WEEK_SLOT_HOURS)]
    bounds += [day + i * HOUR for i in range(int((live_start - day) / HOUR) + 1)]
    return {(key, int((current - bounds[slot]) / HOUR)): t for (key, slot), t in activity_slots(bounds=bounds).items()}


# The stored hours change only when the rollup writes: their sums are kept in Django's cache
# (shared by the web processes with Redis) under the rollup's mark and the current hour.
CACHE_SECONDS = 3600
Kept = list[tuple[int, str, int, int, int, int, int, int, list[int]]]


def _stored_hours_kept(
    *, current: datetime, live_start: datetime, rolled_at: datetime | None
) -> dict[tuple[Key, int], Tally]:
    """:func:`_stored_hours`, from the cache while the rollup has not written since."""
    name = f"console:stored-hours:{rolled_at.isoformat() if rolled_at else '-'}:{current.isoformat()}"
    try:
        kept: Kept | None = cache.get(name)
    except Exception:  # the cache's server down: the database still answers
        log.warning("dashboard cache unreachable", exc_info=True)
        kept = None
    if kept is not None:
        return {
            ((bot, plugin), ago): Tally(m_in, m_out, invocations, finished, faults, list(latency))
            for bot, plugin, ago, m_in, m_out, invocations, finished, faults, latency in kept
        }
    found = _stored_hours(current=current, live_start=live_start)
    kept = [
        (bot, plugin, ago, t.messages_in, t.messages_out, t.invocations, t.finished, t.faults, t.latency)
        for ((bot, plugin), ago), t in found.items()
    ]
    try:
        cache.set(name, kept, CACHE_SECONDS)
    except Exception:
        log.warning("dashboard cache unreachable", exc_info=True)
    return found


def _activity(*, now: datetime, span: Span, rolled_at: datetime | None) -> _Activity:
    """Every tally the page shows, from one read of the rollup and one of the last two hours."""
    current = hour_floor(now)
    live_start = current - HOUR
    events = activity_events(start=live_start, end=now + timedelta(seconds=1))
    hourly = _stored_hours_kept(current=current, live_start=live_start, rolled_at=rolled_at)
    for (key, slot), t in events_tally(events, start=live_start, width=HOUR, slots=2).items():
        hourly[(key, 1 - slot)] = t
    last_hour = events_tally(events, start=now - HOUR, width=HOUR, slots=1)
    if span.key == "hour":
        start = now - span.slots * span.width
        chart = events_tally(events, start=start, width=span.width, slots=span.slots)
        labels = [dateformat.format(timezone.localtime(start + i * span.width), "H:i") for i in range(span.slots)]
    else:
        per = int(span.width / HOUR)
        oldest = span.slots * per - 1  # hours ago of the first slot's first hour
        chart = defaultdict(Tally)
        for (key, ago), t in hourly.items():
            if ago <= oldest:
                chart[(key, (oldest - ago) // per)].add(t)
        first = current - oldest * HOUR
        fmt = "H:00" if span.key == "day" else "D H:00"  # D: the weekday, in the page's language
        labels = [dateformat.format(timezone.localtime(first + i * span.width), fmt) for i in range(span.slots)]
    return _Activity(hourly=hourly, last_hour=last_hour, chart=dict(chart), labels=labels)


def _windows_by(totals: dict[Key, tuple[Tally, Tally, Tally]], by: Callable[[Key], object]) -> dict[object, Windows]:
    """Each group's (bot's or plugin's) figures over the last hour, day and week."""
    grouped: dict[object, tuple[Tally, Tally, Tally]] = {}
    for key, (hour, day, week) in totals.items():
        sums = grouped.setdefault(by(key), (Tally(), Tally(), Tally()))
        sums[0].add(hour)
        sums[1].add(day)
        sums[2].add(week)
    return {group: Windows(*(figures_of(t) for t in sums)) for group, sums in grouped.items()}


def _key_totals(activity: _Activity) -> dict[Key, tuple[Tally, Tally, Tally]]:
    """Each (bot, plugin)'s last hour, day and week: one pass over the hours."""
    totals: dict[Key, tuple[Tally, Tally, Tally]] = defaultdict(lambda: (Tally(), Tally(), Tally()))
    for (key, _slot), t in activity.last_hour.items():
        totals[key][0].add(t)
    for (key, ago), t in activity.hourly.items():
        hour_day_week = totals[key]
        hour_day_week[2].add(t)
        if ago < 24:
            hour_day_week[1].add(t)
    return totals


NOTHING = Windows(*(figures_of(Tally()),) * 3)


def _bot_charts(per_slot: dict[tuple[object, int], Tally], pk: int, span: Span, labels: list[str]) -> list[str]:
    slots = [per_slot.get((pk, i), Tally()) for i in range(span.slots)]
    latency = [(t.quantile(0.5), t.quantile(0.95)) for t in slots]
    return [
        bar_chart(
            _("Messages"),
            [
                Series(_("in"), [t.messages_in for t in slots]),
                Series(_("out"), [t.messages_out for t in slots]),
            ],
            labels,
        ),
        bar_chart(
            _("Invocations"),
            [Series(_("runs"), [t.invocations for t in slots]), Series(_("faults"), [t.faults for t in slots])],
            labels,
        ),
        line_chart(
            _("Reply latency"),
            [
                Series("p50", [None if a is None else a for a, _b in latency]),
                Series("p95", [None if b is None else b for _a, b in latency]),
            ],
            labels,
            text=duration_text,
        ),
    ]


def _bridges(bots: list[Bot], now: datetime) -> dict[str, tuple[str, bool, str]]:
    found = {}
    for row in BridgeStatus.objects.filter(bot_id__in=[bot.session_id for bot in bots]):
        status = row.status if isinstance(row.status, dict) else {}
        if row.connected:
            since = age_text((now - row.connected_at).total_seconds()) if row.connected_at else "-"
            state = _("connected for %(age)s") % {"age": since}
        else:
            gone = age_text((now - row.last_seen).total_seconds()) if row.last_seen else "-"
            state = _("disconnected for %(age)s") % {"age": gone}
        poll = age_text(poll_age_seconds(status, last_seen=row.last_seen, now=now))
        found[row.bot_id] = (state, row.connected, poll)
    return found


def _errors(now: datetime) -> list[ErrorLine]:
    # The ids first, the latest of each status from the (status, queued_at) index alone (with
    # an IN list both databases read every fault of the week); then those ten rows.
    since = now - WEEK_HOURS * HOUR
    latest = [
        row
        for status in FAULT_STATUSES
        for row in Invocation.objects.filter(status=status, queued_at__gte=since)
        .order_by("-queued_at")
        .values_list("queued_at", "id")[:LAST_ERRORS]
    ]
    ids = [pk for _at, pk in sorted(latest, reverse=True)[:LAST_ERRORS]]
    rows = (
        Invocation.objects.filter(id__in=ids)
        .select_related("bot", "plugin_version__plugin")
        .only("id", "status", "command", "queued_at", "error", "bot__name", "plugin_version__plugin__name")
        .order_by("-queued_at")
    )
    return [
        ErrorLine(
            url=reverse("admin:plugins_invocation_change", args=[row.pk]),
            pk=row.pk,
            at=row.queued_at,
            bot=row.bot.name,
            plugin=row.plugin_version.plugin.name if row.plugin_version else "",
            command=row.command,
            status=row.get_status_display(),
            error=(row.error.strip().splitlines() or [""])[-1][:160],
        )
        for row in rows
    ]


def dashboard_collect(*, span: str = "day", now: datetime | None = None) -> Dashboard:
    """Read everything the dashboard shows; ``span`` (hour, day, week) is the charts' range."""
    now = now or timezone.now()
    chosen = SPANS.get(span, SPANS["day"])
    rolled_until, rolled_at = activity_rollup_mark()
    activity = _activity(now=now, span=chosen, rolled_at=rolled_at)
    bots = list(Bot.objects.filter(removed_at__isnull=True).order_by("name"))
    bridges = _bridges(bots, now)
    by_bot = _group(activity.chart, lambda key: key[0])
    totals = _key_totals(activity)
    bot_windows = _windows_by(totals, lambda key: key[0])
    cards = []
    for bot in bots:
        state, ok, poll = bridges.get(bot.session_id, (_("never connected"), False, "-"))
        cards.append(
            BotCard(
                pk=bot.pk,
                name=bot.name,
                display_name=bot.display_name,
                session_id=bot.session_id,
                enabled=bot.enabled,
                bridge=state,
                bridge_ok=ok,
                last_poll=poll,
                windows=bot_windows.get(bot.pk, NOTHING),
                charts=_bot_charts(by_bot, bot.pk, chosen, activity.labels),
            )
        )
    health = {row.name: row for row in plugins_health(since=now - HOUR)}
    names = set(health) | {key[1] for key, _slot in activity.hourly} | {key[1] for key, _slot in activity.last_hour}
    by_plugin = _group(activity.chart, lambda key: key[1])
    plugin_windows = _windows_by(totals, lambda key: key[1])
    plugins = []
    for name in sorted(names, key=lambda n: (n == "", n)):
        slots = [by_plugin.get((name, i), Tally()) for i in range(chosen.slots)]
        chart = bar_chart(
            name or _("no plugin"),
            [Series(_("runs"), [t.invocations for t in slots]), Series(_("faults"), [t.faults for t in slots])],
            activity.labels,
        )
        windows = plugin_windows.get(name, NOTHING)
        plugins.append(PluginLine(name=name, health=health.get(name), windows=windows, chart=chart))
    # One equality each: with an IN list SQLite's planner scans the whole outbox instead.
    pending = OutboundMessage.objects.filter(status=OutboundMessage.Status.PENDING).aggregate(
        n=Count("id"), oldest=Min("created_at")
    )
    failed = OutboundMessage.objects.filter(status=OutboundMessage.Status.FAILED, created_at__gte=now - HOUR).count()
    running = dict(
        Invocation.objects.filter(status__in=IN_PROGRESS_STATUSES)
        .order_by()
        .values_list("status")
        .annotate(n=Count("id"))
        .values_list("status", "n")
    )
    oldest = pending["oldest"]
    return Dashboard(
        now=now,
        span=chosen.key,
        rolled_until=rolled_until,
        inbound_waiting=InboundMessage.objects.filter(status=InboundMessage.Status.ACCEPTED).count(),
        invocations_queued=running.get("queued", 0),
        invocations_running=running.get("running", 0),
        outbox_pending=pending["n"],
        outbox_oldest=age_text((now - oldest).total_seconds()) if oldest else "-",
        sends_failed_hour=failed,
        bots=cards,
        plugins=plugins,
        errors=_errors(now),
    )
