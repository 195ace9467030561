"""Accept a bridge's message: validate, store durably, route to a plugin or answer it.

Storing and routing happen in one transaction, so an ``accepted`` ack means the message,
its routing decision and any broker answer are all on disk; the plugin's task is enqueued
only once that transaction commits.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import time
from dataclasses import dataclass
from typing import Literal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from broker.frames import AttachmentFrame, Message
from broker.models import InboundMessage
from broker.outbox import outbox_enqueue_answer
from broker.ratelimit import Verdict, rate_limit_check
from broker.router import MessageMeta, ParsedCommand, command_parse, filters_match
from broker.validator import message_check
from plugins.models import BotUser, PermissionGrant, Plugin, PluginCommand, PluginVersion, Policy
from plugins.permissions import permission_check
from plugins.services import invocation_create

log = logging.getLogger(__name__)
Status = InboundMessage.Status


@dataclass(frozen=True, slots=True)
class AcceptResult:
    status: Literal["accepted", "duplicate", "rejected"]
    reason: str | None = None


def _attachments_store(attachments: tuple[AttachmentFrame, ...]) -> list[dict[str, object]]:
    """Keep contents in data/attachments by digest (idempotent); the database holds metadata."""
    folder = settings.DATA_DIR / "attachments"
    stored: list[dict[str, object]] = []
    for att in attachments:
        data = base64.b64decode(att.data_b64)
        digest = hashlib.sha256(data).hexdigest()
        path = folder / digest
        if not path.exists():
            # Owner only: plugin hosts (another user when the worker is root) get files by pipe.
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            folder.chmod(0o700)
            tmp = path.with_suffix(".part")
            with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as handle:
                handle.write(data)
            tmp.replace(path)
        stored.append(
            {"name": att.name, "content_type": att.content_type, "size": att.size, "sha256": digest, "path": str(path)}
        )
    return stored


def inbound_accept(*, message: Message, bot_id: str) -> AcceptResult:
    """Validate and store ``message``, then route it; duplicates change nothing."""
    reason = message_check(message, max_attachments=settings.BOT_CONFIG.max_attachments)
    if reason is not None:
        return AcceptResult("rejected", reason)
    if InboundMessage.objects.filter(message_id=message.id).exists():
        return AcceptResult("duplicate")
    attachments = _attachments_store(message.attachments or ())
    try:
        with transaction.atomic():
            inbound = InboundMessage(
                message_id=message.id,
                sender=message.sender,
                conversation=message.conversation,
                conversation_type=message.conversation_type,
                timestamp=message.timestamp,
                text=message.text,
                author_name=message.author_name or "",
                attachments=attachments,
                reply_to=message.reply_to.dump() if message.reply_to else None,
            )
            inbound_route(inbound=inbound, bot_id=bot_id)
            inbound.save(force_insert=True)  # last: one insert holding the routing decision
    except IntegrityError:
        # Another connection stored the same hash first.
        if InboundMessage.objects.filter(message_id=message.id).exists():
            return AcceptResult("duplicate")
        raise
    return AcceptResult("accepted")


def botuser_touch(*, session_id: str, author_name: str) -> BotUser:
    """Return the user behind ``session_id``, created on first contact, with last_seen now."""
    now = timezone.now()
    user, created = BotUser.objects.get_or_create(
        session_id=session_id, defaults={"display_name": author_name[:100], "first_seen": now, "last_seen": now}
    )
    if not created:
        changes: dict[str, object] = {"last_seen": now}
        if author_name and not user.display_name:
            changes["display_name"] = author_name[:100]
        BotUser.objects.filter(pk=user.pk).update(**changes)
    return user


def _answer(inbound: InboundMessage, text: str) -> None:
    outbox_enqueue_answer(message_id=inbound.message_id, to=inbound.conversation, text=text, reply_to=_quote(inbound))
    inbound.status = Status.ANSWERED


def _quote(inbound: InboundMessage) -> dict[str, object]:
    return {"id": inbound.message_id, "author": inbound.sender, "timestamp": inbound.timestamp}


def inbound_route(*, inbound: InboundMessage, bot_id: str) -> None:
    """Decide what ``inbound`` gets, inside the caller's transaction; the caller saves it."""
    if inbound.sender == bot_id:
        inbound.status = Status.IGNORED  # our own sync copy
    else:
        user = botuser_touch(session_id=inbound.sender, author_name=inbound.author_name)
        if user.blocked:
            inbound.status = Status.IGNORED
        else:
            language = user.language or settings.BOT_CONFIG.default_language
            with translation.override(language):
                _route_user_message(inbound, user, language)
    if settings.BROKER_LOG_TEXT:
        log.info(
            "message %s from %s: %r → %s", inbound.message_id[:12], inbound.sender[:10], inbound.text, inbound.status
        )


def _route_user_message(inbound: InboundMessage, user: BotUser, language: str) -> None:
    verdict = rate_limit_check(user_key=user.session_id)
    if verdict is not Verdict.OK:
        if verdict is Verdict.WARN:
            _answer(inbound, _("You are sending messages too fast. Please wait a few seconds and try again."))
        else:
            inbound.status = Status.IGNORED
        return
    prefix = settings.BOT_CONFIG.command_prefix
    parsed = command_parse(inbound.text, prefix=prefix)
    if parsed is None:
        _route_plain_text(inbound, user, language)
        return
    shown = prefix + parsed.name
    candidates = commands_named(parsed.name)
    if not candidates:
        _answer(
            inbound,
            _("Unknown command %(command)s. Send %(help)s to see what I can do.")
            % {"command": shown, "help": prefix + "help"},
        )
        return
    meta = _meta(inbound, user, language, need_groups=any(c.filters.get("groups") for c in candidates))
    fitting = [c for c in candidates if filters_match(c.filters, meta)]
    if not fitting:
        _answer(inbound, _("%(command)s is not available in this conversation.") % {"command": shown})
        return
    command = fitting[0]
    if not _may_run(user, command.version.plugin, command):
        _answer(inbound, _("Sorry, you are not allowed to use %(command)s.") % {"command": shown})
        return
    _invoke(inbound, user, command.version, parsed, language)


_COMMANDS_TTL = 1.0  # an admin's change reaches routing within a second
_commands_cache: dict[str, tuple[float, list[PluginCommand]]] = {}


def commands_named(name: str) -> list[PluginCommand]:
    """Enabled, active commands called ``name``; cached briefly, as every message asks."""
    now = time.monotonic()
    hit = _commands_cache.get(name)
    if hit is not None and hit[0] > now:
        return hit[1]
    found = list(
        PluginCommand.objects.select_related("version__plugin")
        .filter(name=name, version__plugin__enabled=True, version__plugin__active_version=F("version"))
        .order_by("version__plugin__name")
    )
    if len(_commands_cache) > 1000:
        _commands_cache.clear()
    _commands_cache[name] = (now + _COMMANDS_TTL, found)
    return found


def commands_cache_clear() -> None:
    _commands_cache.clear()
    _granted_plugins.clear()


_granted_plugins: dict[str, tuple[float, frozenset[int]]] = {}


def _plugins_with_grants() -> frozenset[int]:
    now = time.monotonic()
    hit = _granted_plugins.get("ids")
    if hit is None or hit[0] <= now:
        ids = frozenset(PermissionGrant.objects.values_list("plugin_id", flat=True).distinct())
        hit = _granted_plugins["ids"] = (now + _COMMANDS_TTL, ids)
    return hit[1]


def _may_run(user: BotUser, plugin: Plugin, command: PluginCommand | None) -> bool:
    """``permission_check``, skipped for the common case it would allow without looking."""
    policy = (command.policy if command is not None and command.policy else "") or plugin.default_policy
    if policy == Policy.EVERYONE and plugin.pk not in _plugins_with_grants():
        return True
    return permission_check(user=user, plugin=plugin, command=command)


def _meta(inbound: InboundMessage, user: BotUser, language: str, *, need_groups: bool) -> MessageMeta:
    groups = frozenset(user.bot_groups.values_list("name", flat=True)) if need_groups else frozenset()
    return MessageMeta(
        conversation_type=inbound.conversation_type,
        has_attachments=bool(inbound.attachments),
        language=language,
        groups=groups,
    )


def _default_handler() -> Plugin | None:
    plugins = Plugin.objects.filter(enabled=True, active_version__isnull=False).select_related("active_version")
    found = plugins.filter(default_handler=True).first()
    configured = settings.BOT_CONFIG.default_handler
    if found is None and configured:
        found = plugins.filter(name=configured).first()
    return found


def _route_plain_text(inbound: InboundMessage, user: BotUser, language: str) -> None:
    plugin = _default_handler()
    if plugin is None or plugin.active_version is None or not inbound.text.strip():
        inbound.status = Status.IGNORED
        return
    if not _may_run(user, plugin, None):
        inbound.status = Status.IGNORED
        return
    # The default handler gets the whole text as arguments under the empty command name.
    _invoke(inbound, user, plugin.active_version, ParsedCommand(name="", arguments=inbound.text), language)


def _invocation_key(message_id: str) -> str:
    key = f"msg:{message_id}"
    return key if len(key) <= 100 else "msg:sha256:" + hashlib.sha256(message_id.encode()).hexdigest()


def _invoke(
    inbound: InboundMessage, user: BotUser, version: PluginVersion, parsed: ParsedCommand, language: str
) -> None:
    inbound.invocation = invocation_create(
        key=_invocation_key(inbound.message_id),
        user=user,
        version=version,
        command=parsed.name,
        arguments=parsed.arguments,
        conversation=inbound.conversation,
        conversation_type=inbound.conversation_type,
        language=language,
        reply_to=_quote(inbound),
        attachments=list(inbound.attachments),
    )
    inbound.status = Status.ROUTED
