"""``botstatus`` output: one screen of text for people, a JSON document for scripts."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from broker.status import StatusReport
from broker.statusrules import Problem, age_text, status_fields


def _ago(moment: datetime | None, now: datetime) -> str:
    return age_text((now - moment).total_seconds()) if moment else "-"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=False)]
    lines = [header, *rows]
    return ["  ".join(str(cell).ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in lines]


def _problem_text(problem: Problem, window: str) -> str:
    if problem.code == "bridge_disconnected":
        if math.isinf(problem.value):
            return _("the bridge has never connected")
        return _("the bridge has been disconnected for %(age)s (limit %(limit)s)") % {
            "age": age_text(problem.value),
            "limit": age_text(problem.limit),
        }
    return ngettext(
        "%(n)d send failed in the last %(window)s (limit %(limit)d)",
        "%(n)d sends failed in the last %(window)s (limit %(limit)d)",
        int(problem.value),
    ) % {
        "n": problem.value,
        "window": window,
        "limit": problem.limit,
    }


def _bridge_lines(report: StatusReport) -> list[str]:
    bridge, now = report.bridge, report.checked_at
    if bridge is None:
        return [_("Bridge       never connected")]
    if bridge.connected:
        state = _("connected for %(age)s") % {"age": _ago(bridge.connected_at, now)}
    else:
        state = _("DISCONNECTED for %(age)s") % {"age": _ago(bridge.last_seen, now)}
    frame = " ".join(f"{key}={json.dumps(value)[:40]}" for key, value in status_fields(bridge.status))
    return [
        _("Bridge       %(state)s, last seen %(age)s ago (%(client)s)")
        % {"state": state, "age": _ago(bridge.last_seen, now), "client": bridge.client or "-"},
        _("Bot          %(bot_id)s") % {"bot_id": bridge.bot_id},
        _("Last status  %(frame)s") % {"frame": frame or "-"},
    ]


def _plugin_lines(report: StatusReport, now: datetime) -> list[str]:
    header = [_("Plugin"), _("Enabled"), _("Version"), _("State"), _("Health"), _("Runs"), _("Faults")]
    header += [_("Error rate"), _("Last success")]
    rows = [
        [
            p.name,
            _("yes") if p.enabled else _("no"),
            p.version or "-",
            p.load_state or "-",
            p.health_status or "-",
            str(p.finished),
            str(p.faults),
            f"{p.error_ratio:.0%}",
            _ago(p.last_success_at, now),
        ]
        for p in report.plugins
    ]
    return _table(header, rows) if rows else [_("No plugins installed (manage.py importplugins data/plugins.yaml).")]


def status_text(report: StatusReport) -> str:
    """The one-screen status for an operator's terminal."""
    now, out = report.checked_at, report.outbox
    window = age_text(report.window_seconds)
    verdict = _("HEALTHY") if report.healthy else _("UNHEALTHY")
    runs = ", ".join(f"{status} {n}" for status, n in report.invocations.items())
    lines = [
        _("sessionbot %(verdict)s at %(time)s") % {"verdict": verdict, "time": now.strftime("%Y-%m-%d %H:%M:%S %Z")},
        *_bridge_lines(report),
        _("Outbox       %(pending)d pending (oldest %(oldest)s), %(failed)d failed in %(window)s (%(all)d in all)")
        % {
            "pending": out.pending,
            "oldest": age_text(out.oldest_pending_seconds),
            "failed": out.failed_recent,
            "window": window,
            "all": out.failed_total,
        },
        _("Invocations  last %(window)s: %(runs)s") % {"window": window, "runs": runs},
        _("Queue        %(queue)s") % {"queue": report.queue},
        _("Database     %(database)s") % {"database": report.database},
        "",
        *_plugin_lines(report, now),
    ]
    if report.problems:
        lines += ["", _("Problems:"), *(f"  - {_problem_text(p, window)}" for p in report.problems)]
    return "\n".join(lines) + "\n"


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _finite(value: float | None) -> float | None:
    return None if value is None or math.isinf(value) else round(value, 3)


def status_json(report: StatusReport) -> dict[str, Any]:
    """The same status as a JSON-ready document; field names are stable for scripts."""
    bridge = report.bridge
    return {
        "healthy": report.healthy,
        "checked_at": _iso(report.checked_at),
        "window_seconds": report.window_seconds,
        "bridge": None
        if bridge is None
        else {
            "bot_id": bridge.bot_id,
            "client": bridge.client,
            "connected": bridge.connected,
            "connected_at": _iso(bridge.connected_at),
            "last_seen": _iso(bridge.last_seen),
            "down_seconds": _finite(report.bridge_down_seconds),
            "status": bridge.status,
        },
        "outbox": {
            "pending": report.outbox.pending,
            "oldest_pending_seconds": _finite(report.outbox.oldest_pending_seconds),
            "failed_recent": report.outbox.failed_recent,
            "failed_total": report.outbox.failed_total,
            "sent_total": report.outbox.sent_total,
        },
        "invocations": report.invocations,
        "plugins": [
            {
                "name": p.name,
                "enabled": p.enabled,
                "version": p.version,
                "load_state": p.load_state,
                "health_status": p.health_status,
                "last_success_at": _iso(p.last_success_at),
                "last_error_at": _iso(p.last_error_at),
                "finished": p.finished,
                "faults": p.faults,
                "error_ratio": round(p.error_ratio, 4),
            }
            for p in report.plugins
        ],
        "queue": report.queue,
        "database": report.database,
        "problems": [{"code": p.code, "value": _finite(p.value), "limit": p.limit} for p in report.problems],
    }
