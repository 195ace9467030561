"""Service functions of the plugin runtime: resolve commands, create and run invocations."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from plugins import signals
from plugins.api import Context, PluginError, Reply
from plugins.loader import PluginLoadError, plugin_class_load
from plugins.models import BotUser, Invocation, Plugin, PluginCommand, PluginVersion

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
    from plugins.tasks import invocation_execute_task

    invocation, created = Invocation.objects.get_or_create(
        key=key,
        defaults={
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
        transaction.on_commit(lambda: invocation_execute_task.delay(invocation.pk))
    return invocation


def invocation_execute(*, invocation_id: int) -> None:
    """Run an invocation once; an invocation already finished is never run again."""
    with transaction.atomic():
        # Lock the row alone: PostgreSQL refuses FOR UPDATE across nullable joins.
        Invocation.objects.select_for_update().filter(pk=invocation_id).values_list("pk").get()
        inv = Invocation.objects.select_related("plugin_version__plugin", "user").get(pk=invocation_id)
        if inv.status in Invocation.FINISHED:
            return
        inv.status = Invocation.Status.RUNNING
        inv.started_at = timezone.now()
        inv.attempts += 1
        inv.save(update_fields=["status", "started_at", "attempts"])
    started = time.perf_counter()
    reply, status, error = _run_inline(inv)
    with transaction.atomic():
        inv.status = status
        inv.error = error
        inv.finished_at = timezone.now()
        inv.duration_ms = (time.perf_counter() - started) * 1000
        inv.save(update_fields=["status", "error", "finished_at", "duration_ms"])
        signals.invocation_replied.send(sender=Invocation, invocation=inv, reply=reply)


def _run_inline(inv: Invocation) -> tuple[Reply, str, str]:
    version = inv.plugin_version
    assert version is not None
    ctx = Context(
        user_id=inv.user.session_id if inv.user else "",
        conversation=inv.conversation,
        conversation_type=inv.conversation_type,
        language=inv.language,
        config=dict(version.plugin.config),
    )
    try:
        plugin = plugin_class_load(entrypoint=version.entrypoint, roots=settings.PLUGIN_ROOTS)()
        handler = plugin.commands()[inv.command]
        result = handler(ctx, inv.arguments)
    except PluginError as exc:
        return Reply(str(exc)), Invocation.Status.ERROR, str(exc)
    except PluginLoadError as exc:
        return Reply("This command is unavailable right now."), Invocation.Status.FAILED, str(exc)
    except Exception as exc:
        log.exception("plugin %s failed", version)
        return Reply("Sorry, that command failed."), Invocation.Status.FAILED, f"{type(exc).__name__}: {exc}"
    return (result if isinstance(result, Reply) else Reply(str(result))), Invocation.Status.OK, ""
