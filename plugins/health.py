"""Plugin health: what each invocation says about its plugin, error rates, health checks.

Writes use ``update()`` on the health fields only, so they never move ``updated_at``,
which is the plugin's reload generation (see ``plugins.execution``).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db.models import Case, Q, Value, When
from django.utils import timezone

from plugins.models import Invocation, Plugin

log = logging.getLogger(__name__)

ERROR_RATE_WINDOW = timedelta(hours=1)
HEALTH_INTERVAL_SECONDS = 300.0
UNKNOWN = "unknown"  # not loaded or run since it was installed
LOADED = "loaded"
# The last reload failed and the previous code serves; stays until a reload works.
RELOAD_FAILED = "reload-failed"
# Statuses that count against a plugin; ``error`` is a PluginError meant for the user.
FAULTS = (Invocation.Status.FAILED, Invocation.Status.TIMEOUT, Invocation.Status.CRASHED)


SUCCESS_NOTE_SECONDS = 5.0


def plugin_outcome_record(
    *, plugin_id: int, status: str, error: str, unavailable: bool, known: Plugin | None = None
) -> None:
    """Note an invocation's result on its plugin: last success, or last error and when.

    ``known`` is the plugin as the caller read it: a success on a plugin already ``loaded``
    whose last success is a few seconds old writes nothing, since every invocation writing
    the same row made it the busiest lock of the database under load.
    """
    now = timezone.now()
    if known is not None and status in (Invocation.Status.OK, Invocation.Status.ERROR):
        recent = (
            known.last_success_at is not None and (now - known.last_success_at).total_seconds() < SUCCESS_NOTE_SECONDS
        )
        if recent and known.load_state == "loaded":
            return
    loaded = Case(When(load_state=RELOAD_FAILED, then=Value(RELOAD_FAILED)), default=Value("loaded"))
    if status in (Invocation.Status.OK, Invocation.Status.ERROR):
        Plugin.objects.filter(pk=plugin_id).update(last_success_at=now, load_state=loaded)
    elif status in FAULTS:
        fields = {"last_error": error[:4000], "last_error_at": now}
        Plugin.objects.filter(pk=plugin_id).update(**fields, load_state=Value("error") if unavailable else loaded)


def plugin_error_rate(*, plugin: Plugin, window: timedelta = ERROR_RATE_WINDOW) -> float:
    """Share of the plugin's finished invocations in ``window`` that failed, timed out or crashed."""
    since = timezone.now() - window
    finished = Invocation.objects.filter(
        plugin_version__plugin=plugin, finished_at__gte=since, status__in=Invocation.FINISHED
    )
    total = finished.count()
    return finished.filter(status__in=FAULTS).count() / total if total else 0.0


def _declared(plugin: Plugin) -> dict[str, Any]:
    """The active version's ``health_check`` from plugins.yaml, or {}."""
    version = plugin.active_version
    manifest = version.manifest if version is not None and isinstance(version.manifest, dict) else {}
    declared = manifest.get("health_check")
    return declared if isinstance(declared, dict) else {}


def health_interval(*, plugin: Plugin) -> float:
    try:
        return float(_declared(plugin).get("interval_seconds", HEALTH_INTERVAL_SECONDS))
    except (TypeError, ValueError):
        return HEALTH_INTERVAL_SECONDS


def health_message(*, plugin: Plugin) -> dict[str, Any]:
    """What to send the plugin's code: its declared command (run as an admin), its declared
    method, or, with neither, :meth:`plugins.api.Plugin.health_check`."""
    declared = _declared(plugin)
    command = declared.get("command")
    if isinstance(command, str) and command:
        ctx = {
            "user_id": "",
            "conversation": "",
            "conversation_type": "private",
            "language": settings.BOT_CONFIG.default_language,
            "command": command,
            "config": dict(plugin.config or {}),
            "is_admin": True,
            "groups": [],
            "attachments": [],
        }
        return {"op": "run", "command": command, "arguments": "", "ctx": ctx}
    method = declared.get("method")
    return {"op": "health", "method": method if isinstance(method, str) and method else None}


def health_claim(*, plugin: Plugin, force: bool = False) -> bool:
    """Whether this process should run the plugin's check now (one process wins per period)."""
    now = timezone.now()
    period = timedelta(seconds=health_interval(plugin=plugin))
    due = Q(health_checked_at__isnull=True) | Q(health_checked_at__lte=now - period)
    qs = Plugin.objects.filter(pk=plugin.pk)
    if not force:
        qs = qs.filter(due)
    return qs.update(health_checked_at=now) == 1


def health_result_store(*, plugin_id: int, status: str, detail: str) -> None:
    Plugin.objects.filter(pk=plugin_id).update(
        health_status=status, health_detail=detail[:2000].replace("\x00", ""), health_checked_at=timezone.now()
    )
    if status not in ("ok", ""):  # "": the plugin declares no check
        log.warning("health check of plugin %s: %s: %s", plugin_id, status, detail)


def health_checks_run(*, force: bool = False) -> int:
    """Run the health check of every enabled plugin that is due; return how many ran.

    Each check runs like a command (same host, same limits). Several workers may call this
    at once: ``health_claim`` lets one of them run each plugin's check per period.
    """
    from plugins.execution import version_request

    ran = 0
    for plugin in Plugin.objects.select_related("active_version").filter(enabled=True, active_version__isnull=False):
        if not health_claim(plugin=plugin, force=force):
            continue
        version = plugin.active_version
        assert version is not None
        version.plugin = plugin
        outcome = version_request(version=version, message=health_message(plugin=plugin), on_call=_no_platform)
        if outcome.status == "none":
            health_result_store(plugin_id=plugin.pk, status="", detail="")
            ran += 1
            continue
        lines = outcome.error.strip().splitlines()
        detail = outcome.reply.text if outcome.reply is not None else (lines[-1] if lines else outcome.status)
        health_result_store(plugin_id=plugin.pk, status="ok" if outcome.status == "ok" else "failing", detail=detail)
        ran += 1
    return ran


def _no_platform(method: str, args: dict[str, object]) -> object:
    from plugins.api import PluginError

    raise PluginError("no platform services in a health check")
