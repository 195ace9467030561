"""The bot's health at a glance, read from the database: the service behind ``botstatus``.

Every process (ASGI server, workers, bridge) writes its state to the database, so any
machine that reaches the database can tell how the whole bot is doing. Each part is one
aggregate query; ``sessionbot.metrics`` reuses them for the Prometheus scrape.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import Count, Min, Q
from django.utils import timezone

from broker.models import BridgeStatus, OutboundMessage
from broker.statusrules import (
    FAULT_STATUSES,
    FINISHED_STATUSES,
    Problem,
    Thresholds,
    bridge_down_seconds,
    error_ratio,
    problems_find,
    url_redact,
)
from plugins.models import Invocation, Plugin


@dataclass(frozen=True, slots=True)
class BridgeView:
    bot_id: str
    client: str
    connected: bool
    connected_at: datetime | None
    last_seen: datetime | None
    status: dict[str, Any]


@dataclass(frozen=True, slots=True)
class OutboxView:
    pending: int
    oldest_pending_seconds: float | None
    failed_recent: int
    failed_total: int
    sent_total: int


@dataclass(frozen=True, slots=True)
class PluginRow:
    name: str
    enabled: bool
    version: str
    load_state: str
    health_status: str
    last_success_at: datetime | None
    last_error_at: datetime | None
    finished: int
    faults: int
    error_ratio: float


@dataclass(frozen=True, slots=True)
class StatusReport:
    checked_at: datetime
    window_seconds: float
    bridge: BridgeView | None
    bridge_down_seconds: float | None
    outbox: OutboxView
    invocations: dict[str, int]
    plugins: list[PluginRow]
    queue: str
    database: str
    problems: list[Problem] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        return not self.problems


def bridges_list() -> list[BridgeView]:
    """Every bridge that ever said hello, the connected and most recently seen first."""
    rows = BridgeStatus.objects.order_by("-connected", "-last_seen", "-id")
    return [
        BridgeView(
            bot_id=row.bot_id,
            client=row.client,
            connected=row.connected,
            connected_at=row.connected_at,
            last_seen=row.last_seen,
            status=row.status if isinstance(row.status, dict) else {},
        )
        for row in rows[:20]
    ]


def outbox_summary(*, now: datetime, since: datetime) -> OutboxView:
    """Pending sends and their oldest age; sends given up since ``since`` and in all."""
    Status = OutboundMessage.Status
    # One equality on the status each, so the (status, ...) indexes answer: counts filtered
    # inside a single aggregate read the whole outbox, every sent part ever.
    outbox = OutboundMessage.objects.order_by()
    pending = outbox.filter(status=Status.PENDING).aggregate(n=Count("id"), oldest=Min("created_at"))
    failed = outbox.filter(status=Status.FAILED).aggregate(
        total=Count("id"), recent=Count("id", filter=Q(created_at__gte=since))
    )
    oldest = pending["oldest"]
    return OutboxView(
        pending=pending["n"],
        oldest_pending_seconds=max((now - oldest).total_seconds(), 0.0) if oldest else None,
        failed_recent=failed["recent"],
        failed_total=failed["total"],
        sent_total=outbox.filter(status=Status.SENT).count(),
    )


def invocations_by_status(*, since: datetime) -> dict[str, int]:
    """Invocations queued since ``since``, counted by status (every status, zeros included)."""
    # Naming every status lets the (status, queued_at) index answer instead of a table scan.
    recent = Invocation.objects.filter(status__in=Invocation.Status.values, queued_at__gte=since)
    rows = recent.order_by().values("status").annotate(n=Count("id"))
    counts = dict.fromkeys(Invocation.Status.values, 0)
    counts.update({row["status"]: row["n"] for row in rows})
    return counts


def plugins_health(*, since: datetime) -> list[PluginRow]:
    """Each plugin's state, and its finished and faulty invocations queued since ``since``."""
    tallies = {
        row["plugin_version__plugin_id"]: row
        for row in Invocation.objects.filter(queued_at__gte=since, status__in=FINISHED_STATUSES)
        .order_by()
        .values("plugin_version__plugin_id")
        .annotate(finished=Count("id"), faults=Count("id", filter=Q(status__in=FAULT_STATUSES)))
    }
    rows = []
    for plugin in Plugin.objects.select_related("active_version").order_by("name"):
        tally = tallies.get(plugin.pk, {"finished": 0, "faults": 0})
        rows.append(
            PluginRow(
                name=plugin.name,
                enabled=plugin.enabled,
                version=plugin.active_version.version if plugin.active_version else "",
                load_state=plugin.load_state,
                health_status=plugin.health_status,
                last_success_at=plugin.last_success_at,
                last_error_at=plugin.last_error_at,
                finished=tally["finished"],
                faults=tally["faults"],
                error_ratio=error_ratio(faults=tally["faults"], finished=tally["finished"]),
            )
        )
    return rows


def backends_describe() -> tuple[str, str]:
    """The queue and the database this process uses, without credentials."""
    broker_url = settings.CELERY_BROKER_URL
    if broker_url.startswith("filesystem://"):
        queue = f"embedded (filesystem queue in {settings.CELERY_FS_DIR})"
    else:
        queue = url_redact(broker_url)
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        database = f"sqlite {db['NAME']}"
    else:
        database = f"{connection.vendor} {db.get('HOST') or 'localhost'}:{db.get('PORT') or 5432}/{db['NAME']}"
    return queue, database


def status_collect(
    *, window: timedelta = timedelta(hours=1), thresholds: Thresholds | None = None, now: datetime | None = None
) -> StatusReport:
    """Read the bot's state and judge it against ``thresholds``."""
    thresholds = thresholds or Thresholds()
    now = now or timezone.now()
    since = now - window
    bridges = bridges_list()
    bridge = bridges[0] if bridges else None
    down = bridge_down_seconds(
        connected=bridge.connected if bridge else None, last_seen=bridge.last_seen if bridge else None, now=now
    )
    outbox = outbox_summary(now=now, since=since)
    queue, database = backends_describe()
    return StatusReport(
        checked_at=now,
        window_seconds=window.total_seconds(),
        bridge=bridge,
        bridge_down_seconds=down,
        outbox=outbox,
        invocations=invocations_by_status(since=since),
        plugins=plugins_health(since=since),
        queue=queue,
        database=database,
        problems=problems_find(bridge_down=down, failed_sends=outbox.failed_recent, thresholds=thresholds),
    )
