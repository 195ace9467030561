"""Service functions of the plugin runtime: resolve commands, create and run invocations."""

from __future__ import annotations

import base64
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone, translation

from bots.live import bot_config
from bridgeprotocol.logformat import log_fields
from plugins import signals
from plugins.api import Reply
from plugins.claims import Claimed, finish_write, invocation_claim
from plugins.execution import version_limits, version_request
from plugins.health import plugin_outcome_record
from plugins.models import BotUser, Invocation, Plugin, PluginCommand, PluginVersion
from plugins.outcomes import outcome_reply, text_clean
from plugins.permissions import user_is_admin
from plugins.platform import PlatformServices
from plugins.queues import queue_served
from plugins.sandbox.host import CRASHED, UNAVAILABLE
from plugins.sandbox.runner import Outcome
from sessionbot.dbbatch import writes_batched

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ResolvedCommand:
    plugin: Plugin
    version: PluginVersion
    command: PluginCommand


def command_resolve(*, name: str) -> ResolvedCommand | None:
    """Find the enabled plugin whose active version defines command ``name``."""
    found = (
        PluginCommand.objects.select_related("version__plugin")
        .filter(name=name, version__plugin__enabled=True, version__plugin__active_version=F("version"))
        .first()
    )
    if found is None:
        return None
    return ResolvedCommand(plugin=found.version.plugin, version=found.version, command=found)


def invocation_create(
    *,
    key: str,
    user: BotUser,
    version: PluginVersion,
    command: str,
    arguments: str,
    conversation: str,
    conversation_type: str,
    language: str,
    reply_to: dict[str, object] | None = None,
    attachments: list[dict[str, object]] | None = None,
) -> Invocation:
    """Record an invocation and enqueue its task once the surrounding transaction commits."""
    invocation, created = Invocation.objects.get_or_create(
        key=key,
        defaults={
            "bot_id": user.bot_id,  # the bot the user talks to
            "user": user,
            "plugin_version": version,
            "command": command,
            "arguments": arguments,
            "conversation": conversation,
            "conversation_type": conversation_type,
            "language": language,
            "reply_to": reply_to,
            "attachments": attachments or [],
        },
    )
    if created:
        queues = {invocation.pk: version.queue}
        transaction.on_commit(lambda: invocations_enqueue(ids=[invocation.pk], queues=queues))
    return invocation


def invocations_enqueue(*, ids: list[int], queues: dict[int, str] | None = None, answer_unserved: bool = True) -> None:
    """Send one task per invocation, all through one producer (one broker connection) and,
    on Redis, in one round trip (kombu's publish batch: one pipeline of ``LPUSH``es).

    Each goes to its plugin's queue (``queues`` by invocation id, else read here; "" is the
    default queue). One whose queue no worker serves is answered "unavailable" instead,
    unless ``answer_unserved`` is false (a restart, before its workers are up: the recovery
    sweep answers those still queued later).
    """
    from plugins.tasks import invocation_execute_task

    if not ids:
        return
    if queues is None:
        queues = dict(Invocation.objects.filter(pk__in=ids).values_list("pk", "plugin_version__queue"))
    unserved = {pk for pk in ids if answer_unserved and not queue_served(queue=queues.get(pk) or "")}
    for pk in unserved:
        invocation_unserved(invocation_id=pk, queue=queues.get(pk) or "")
    # A batch that fails leaves its invocations queued: the recovery sweep sends them again.
    with invocation_execute_task.app.producer_or_acquire() as producer, producer.batch():
        for pk in ids:
            if pk in unserved:
                continue
            # The reprs are what Celery would compute for its logs, given to spare it the work.
            options: dict[str, Any] = {"argsrepr": f"({pk},)", "kwargsrepr": "{}"}
            if queues.get(pk):
                options["queue"] = queues[pk]
            invocation_execute_task.apply_async((pk,), producer=producer, **options)


def invocation_unserved(*, invocation_id: int, queue: str) -> None:
    """Answer an invocation whose plugin's queue no worker serves: "unavailable", at once.

    Claimed like a run, so a worker that takes its task later finds it finished.
    """
    claimed = invocation_claim(invocation_id)
    if claimed is None:
        return
    inv = claimed.invocation
    started = time.perf_counter()
    outcome = Outcome(UNAVAILABLE, error=f"no worker serves the queue {queue!r} of this plugin")
    with translation.override(inv.language or bot_config(inv.bot_id).default_language):
        reply, status = outcome_reply(outcome=outcome, command=inv.command, timeout_seconds=0)
    # The plugin itself is fine: its last error says why, its load state stays.
    _invocation_finish(inv, reply=reply, status=status, outcome=outcome, started=started, plugin_fault=False)


def invocation_execute(*, invocation_id: int) -> None:
    """Run an invocation once; an invocation already finished is never run again.

    The plugin runs outside any transaction (it may take seconds); the finish is one
    transaction that records the telemetry and hands the reply to ``invocation_replied``.
    """
    claimed = invocation_claim(invocation_id)
    if claimed is None:
        return
    inv = claimed.invocation
    started = time.perf_counter()
    limits = version_limits(version=inv.plugin_version) if inv.plugin_version is not None else None
    # The user's language for the platform's answers to the plugin ("unknown language", say)
    # and for the sentences the outcome gets.
    with translation.override(inv.language or bot_config(inv.bot_id).default_language):
        outcome = _outcome(claimed)
        reply, status = outcome_reply(
            outcome=outcome, command=inv.command, timeout_seconds=limits.timeout_seconds if limits else 0
        )
    _invocation_finish(inv, reply=reply, status=status, outcome=outcome, started=started)


def _outcome(claimed: Claimed) -> Outcome:
    inv, version = claimed.invocation, claimed.invocation.plugin_version
    if inv.attempts > settings.BOT_CONFIG.recovery.max_attempts or version is None:
        # Delivered again after killing its worker each time: stop the loop here.
        return Outcome(CRASHED, error=f"given up after {inv.attempts - 1} attempts")
    if not version.plugin.enabled:
        return Outcome(UNAVAILABLE, error="the plugin is disabled")
    platform = _platform_for(inv)
    try:
        return version_request(
            version=version, message=_run_message(inv, groups=claimed.groups), on_call=platform.dispatch
        )
    finally:
        platform.finished = True  # its messages come before the answer, never after


def _invocation_finish(
    inv: Invocation, *, reply: Reply | None, status: str, outcome: Outcome, started: float, plugin_fault: bool = True
) -> None:
    # One round trip, committed without waiting for the disk: lost in a database crash, the
    # invocation runs again (same refs, no double answer). Everything below only writes:
    # the bot's settings, by which the reply is cut into parts, are read before.
    config = bot_config(inv.bot_id)
    with writes_batched():
        inv.status = status
        inv.error = text_clean(outcome.error[:10000])
        inv.finished_at = timezone.now()
        inv.duration_ms = (time.perf_counter() - started) * 1000
        finish_write(inv)
        if inv.plugin_version is not None:
            plugin_outcome_record(
                plugin_id=inv.plugin_version.plugin_id,
                known=inv.plugin_version.plugin,
                status=status,
                error=inv.error,
                unavailable=plugin_fault and outcome.status == UNAVAILABLE,
            )
        signals.invocation_replied.send(sender=Invocation, invocation=inv, reply=reply or Reply(""), config=config)
    log.info(
        "invocation %s /%s %s status=%s duration_ms=%.1f queued_ms=%.1f",
        inv.pk,
        inv.command,
        inv.plugin_version,
        status,
        inv.duration_ms,
        ((inv.started_at or inv.queued_at) - inv.queued_at).total_seconds() * 1000,
        extra=log_fields(invocation=inv.pk),
    )
    if status not in (Invocation.Status.OK, Invocation.Status.ERROR):
        log.warning(
            "invocation %s of %s: %s: %s",
            inv.pk,
            inv.plugin_version,
            status,
            outcome.error,
            extra=log_fields(invocation=inv.pk),
        )


def _attachments_wire(raw: list[Any]) -> list[dict[str, str]]:
    """Attachments as the plugin sees them: name, content type and base64 data."""
    wire = []
    for item in raw:
        if not isinstance(item, dict):
            continue
        data = item.get("data", "")
        if not data and item.get("path"):
            try:
                data = base64.b64encode(Path(str(item["path"])).read_bytes()).decode()
            except OSError:
                continue
        name = str(item.get("name") or item.get("filename") or "")
        wire.append({"name": name, "content_type": str(item.get("content_type", "")), "data": str(data)})
    return wire


def _run_message(inv: Invocation, *, groups: tuple[str, ...]) -> dict[str, Any]:
    assert inv.plugin_version is not None
    user = inv.user
    ctx = {
        "user_id": user.session_id if user is not None else "",
        "conversation": inv.conversation,
        "conversation_type": inv.conversation_type,
        "language": inv.language or bot_config(inv.bot_id).default_language,
        "command": inv.command,
        "config": dict(inv.plugin_version.plugin.config or {}),
        "is_admin": user is not None and user_is_admin(user=user),
        "groups": list(groups),
        "attachments": _attachments_wire(inv.attachments),
    }
    prefix = bot_config(inv.bot_id).command_prefix
    return {"op": "run", "command": inv.command, "arguments": inv.arguments, "ctx": ctx, "prefix": prefix}


def _platform_for(inv: Invocation) -> PlatformServices:
    assert inv.plugin_version is not None
    return PlatformServices(
        user=inv.user,
        version=inv.plugin_version,
        language=inv.language or bot_config(inv.bot_id).default_language,
        invocation=inv,
    )
