"""Route a stored message: to a plugin's invocation, to a broker answer, or to nothing.

Runs inside the transaction that stores the message (``broker.accept``), so an
``accepted`` ack means the message, its routing decision and any broker answer are all on
disk. A :class:`Routing` gathers what a batch of messages decided (the users they come
from, the invocations they create) so that it is read and written a few statements at a
time; the invocations' tasks are enqueued once the transaction commits.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from bots.live import bot_config
from bridgeprotocol.logformat import log_fields
from broker.command_rules import MessageMeta, command_match, filters_match
from broker.models import InboundMessage
from broker.outbox import outbox_enqueue_answer
from broker.ratelimit import Verdict, rate_limit_check
from plugins.commandline import ParsedCommand
from plugins.models import BotUser, Invocation, PermissionGrant, Plugin, PluginCommand, PluginVersion, Policy
from plugins.offers import bot_offers, bot_offers_forget, policy_of
from plugins.permissions import permission_check
from plugins.services import invocations_enqueue
from sessionbot.botconfig import BotConfig
from sessionbot.dbbatch import rows_insert

log = logging.getLogger(__name__)
Status = InboundMessage.Status


# last_seen is for people reading the admin: a minute's precision spares a write per message.
LAST_SEEN_GRANULARITY_SECONDS = 60.0


@dataclass(slots=True)
class Routing:
    """One batch's routing: decided first, reading what it needs, then written in one go.

    Deciding may read (users, permissions, the default handler); :meth:`write` only writes,
    so on PostgreSQL a batch's writes travel as one query (``sessionbot.dbbatch``).
    """

    bot: int  # the bot the messages came to
    config: BotConfig | None = None  # its settings, read while deciding: writing reads nothing
    users: dict[str, BotUser] = field(default_factory=dict)
    # Author names by Session ID, to fill in a user's missing display name when writing.
    people: dict[str, str] = field(default_factory=dict)
    pending: list[tuple[InboundMessage, Invocation]] = field(default_factory=list)
    answers: list[tuple[InboundMessage, str]] = field(default_factory=list)
    # Look for invocations already holding a key before creating them (one more statement).
    # Without it an existing key fails the insert, and the caller stores again with it.
    careful: bool = True
    # Rate-limit verdicts counted beforehand, by message hash (one Redis round trip a batch).
    verdicts: dict[str, Verdict] = field(default_factory=dict)
    # Keys reserved for new invocations (PostgreSQL): their insert then reads nothing back.
    invocation_ids: list[int] = field(default_factory=list)
    _existing: dict[str, Invocation] = field(default_factory=dict)

    def user(self, *, session_id: str, author_name: str) -> BotUser:
        found = self.users.get(session_id)
        if found is None:
            found = self.users[session_id] = botusers_find(bot=self.bot, people={session_id: author_name})[session_id]
        if author_name and not self.people.get(session_id):
            self.people[session_id] = author_name
        return found

    def prepare(self) -> None:
        """Read what the writes need: the invocations that already hold a key (careful only)."""
        if self.careful and self.pending:
            keys = [inv.key for _, inv in self.pending]
            self._existing = {inv.key: inv for inv in Invocation.objects.filter(key__in=keys)}
        new = [inv for _, inv in self.pending if inv.key not in self._existing]
        if len(self.invocation_ids) >= len(new):
            for inv, pk in zip(new, self.invocation_ids, strict=False):
                inv.pk = pk

    def write(self) -> None:
        """Write what was decided, inside the caller's transaction; tasks go out after commit."""
        botusers_refresh(users=self.users, people=self.people)
        for inbound, text in self.answers:
            outbox_enqueue_answer(
                bot=self.bot,
                config=self.config,
                message_id=inbound.message_id,
                to=inbound.conversation,
                text=text,
                reply_to=_quote(inbound),
            )
        new = [inv for _, inv in self.pending if inv.key not in self._existing]
        rows_insert(new)  # sets the keys that were not reserved (INSERT … RETURNING)
        for inbound, inv in self.pending:
            inbound.invocation = self._existing.get(inv.key, inv)
        ids = [inv.pk for inv in new]
        if ids:
            queues = {inv.pk: inv.plugin_version.queue if inv.plugin_version else "" for inv in new}
            transaction.on_commit(lambda: invocations_enqueue(ids=ids, queues=queues))
        self.answers, self.pending, self._existing = [], [], {}


def botusers_find(*, bot: int, people: dict[str, str], found: dict[str, BotUser] | None = None) -> dict[str, BotUser]:
    """Bot ``bot``'s users behind ``{session_id: author_name}``, created on first contact.

    ``found`` are those already read (``broker.lookup``); only the others are looked up.
    """
    found = dict(found or {})
    wanted = [sid for sid in people if sid not in found]
    if wanted:
        found.update((u.session_id, u) for u in BotUser.objects.filter(bot_id=bot, session_id__in=wanted))
    now = timezone.now()
    missing = [
        BotUser(bot_id=bot, session_id=sid, display_name=name[:100], first_seen=now, last_seen=now)
        for sid, name in people.items()
        if sid not in found
    ]
    if missing:
        BotUser.objects.bulk_create(missing, ignore_conflicts=True)  # another process may add one too
        added = BotUser.objects.filter(bot_id=bot, session_id__in=[m.session_id for m in missing])
        found.update((u.session_id, u) for u in added)
    return found


def botusers_refresh(*, users: dict[str, BotUser], people: dict[str, str]) -> None:
    """Keep ``last_seen`` to the minute and fill in missing display names; writes only."""
    now = timezone.now()
    stale = [u for u in users.values() if (now - u.last_seen).total_seconds() >= LAST_SEEN_GRANULARITY_SECONDS]
    if stale:
        BotUser.objects.filter(pk__in=[u.pk for u in stale]).update(last_seen=now)
        for user in stale:
            user.last_seen = now
    for sid, user in users.items():
        name = people.get(sid, "")
        if name and not user.display_name:
            user.display_name = name[:100]
            BotUser.objects.filter(pk=user.pk).update(display_name=user.display_name)


def _answer(inbound: InboundMessage, text: str, routing: Routing) -> None:
    routing.answers.append((inbound, text))
    inbound.status = Status.ANSWERED


def _quote(inbound: InboundMessage) -> dict[str, object]:
    return {"id": inbound.message_id, "author": inbound.sender, "timestamp": inbound.timestamp}


def inbound_route(*, inbound: InboundMessage, bot_id: str, routing: Routing | None = None) -> None:
    """Decide what ``inbound`` gets, inside the caller's transaction; the caller saves it.

    With ``routing``, what it decided is written at its ``write()`` (the caller's, before it
    saves the message); without, before this returns.
    """
    own = routing is None
    routing = Routing(bot=inbound.bot_id) if routing is None else routing
    config = routing.config = routing.config or bot_config(routing.bot)
    if inbound.sender == bot_id:
        inbound.status = Status.IGNORED  # our own sync copy
    else:
        user = routing.user(session_id=inbound.sender, author_name=inbound.author_name)
        if user.blocked:
            inbound.status = Status.IGNORED
        else:
            language = user.language or config.default_language
            with translation.override(language):
                _route_user_message(inbound, user, language, routing, config)
    if own:
        routing.prepare()
        routing.write()
    if settings.BROKER_LOG_TEXT:
        log.info(
            "message %s from %s: %r → %s",
            inbound.message_id[:12],
            inbound.sender[:10],
            inbound.text,
            inbound.status,
            extra=log_fields(message_hash=inbound.message_id, invocation=inbound.invocation_id),
        )


def _route_user_message(
    inbound: InboundMessage, user: BotUser, language: str, routing: Routing, config: BotConfig
) -> None:
    verdict = routing.verdicts.pop(inbound.message_id, None) or rate_limit_check(
        user_key=f"{routing.bot}:{user.session_id}", limit=config.rate_limit
    )
    if verdict is not Verdict.OK:
        if verdict is Verdict.WARN:
            _answer(inbound, _("You are sending messages too fast. Please wait a few seconds and try again."), routing)
        else:
            inbound.status = Status.IGNORED
        return
    prefix = config.command_prefix
    match = command_match(inbound.text, bot_prefix=prefix, own_prefixes=own_prefixes(bot=routing.bot))
    candidates = (
        commands_named(match.name, prefix=match.prefix, bot=routing.bot, bot_prefix=prefix) if match is not None else []
    )
    if match is None or (match.own and not candidates):
        # A word after a command's own prefix that no command answers is text, as the older
        # bot read it ("!" starts many sentences).
        _route_plain_text(inbound, user, language, routing, config)
        return
    parsed = ParsedCommand(name=match.name, arguments=match.arguments)
    shown = match.prefix + match.name
    if not candidates:
        _answer(
            inbound,
            _("Unknown command %(command)s. Send %(help)s to see what I can do.")
            % {"command": shown, "help": prefix + "help"},
            routing,
        )
        return
    meta = _meta(inbound, user, language, need_groups=any(c.filters.get("groups") for c in candidates))
    fitting = [c for c in candidates if filters_match(c.filters, meta)]
    if not fitting:
        _answer(inbound, _("%(command)s is not available in this conversation.") % {"command": shown}, routing)
        return
    command = fitting[0]
    if not _may_run(user, command.version.plugin, command):
        _answer(inbound, _("Sorry, you are not allowed to use %(command)s.") % {"command": shown}, routing)
        return
    _invoke(inbound, user, command.version, parsed, language, routing)


_COMMANDS_TTL = 1.0  # an admin's change reaches routing within a second
_commands_cache: dict[tuple[int, str, str, str], tuple[float, list[PluginCommand]]] = {}
_own_prefixes: dict[int, tuple[float, frozenset[str]]] = {}


def _active_commands(bot: int) -> QuerySet[PluginCommand]:
    """The commands of the enabled plugins' active versions that bot ``bot`` offers."""
    found = PluginCommand.objects.filter(version__plugin__enabled=True, version__plugin__active_version=F("version"))
    offered = bot_offers(bot=bot).plugins
    return found if offered is None else found.filter(version__plugin_id__in=offered)


def commands_named(name: str, *, bot: int, bot_prefix: str, prefix: str = "") -> list[PluginCommand]:
    """The active commands of bot ``bot`` called ``name`` that a message writes after
    ``prefix`` ("": the bot's prefix, ``bot_prefix``); cached briefly, as every message asks."""
    now = time.monotonic()
    wanted = prefix or bot_prefix
    hit = _commands_cache.get((bot, bot_prefix, wanted, name))
    if hit is not None and hit[0] > now:
        return hit[1]
    # A command without a prefix of its own takes the bot's.
    written = Q(prefix=wanted) | Q(prefix="") if wanted == bot_prefix else Q(prefix=wanted)
    found = list(
        _active_commands(bot)
        .select_related("version__plugin")
        .filter(written, name=name)
        .order_by("version__plugin__name")
    )
    if len(_commands_cache) > 1000:
        _commands_cache.clear()
    _commands_cache[(bot, bot_prefix, wanted, name)] = (now + _COMMANDS_TTL, found)
    return found


def own_prefixes(*, bot: int) -> frozenset[str]:
    """The prefixes bot ``bot``'s commands bring of their own (``!`` of an older bot's plugin); cached."""
    now = time.monotonic()
    hit = _own_prefixes.get(bot)
    if hit is None or hit[0] <= now:
        found = frozenset(_active_commands(bot).exclude(prefix="").values_list("prefix", flat=True).distinct())
        if len(_own_prefixes) > 1000:
            _own_prefixes.clear()
        hit = _own_prefixes[bot] = (now + _COMMANDS_TTL, found)
    return hit[1]


def commands_cache_clear() -> None:
    _commands_cache.clear()
    _own_prefixes.clear()
    _granted_plugins.clear()
    bot_offers_forget()


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
    policy = policy_of(bot=user.bot_id, plugin=plugin, command=command)
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


def _default_handler(bot: int, config: BotConfig) -> Plugin | None:
    """Bot ``bot``'s handler of plain text: its settings' ``default_handler``, else the plugin
    marked as the default handler, among the plugins it offers."""
    plugins = Plugin.objects.filter(enabled=True, active_version__isnull=False).select_related("active_version")
    offered = bot_offers(bot=bot).plugins
    if offered is not None:
        plugins = plugins.filter(pk__in=offered)
    configured = config.default_handler
    own = configured if configured != settings.BOT_CONFIG.default_handler else None  # set for this bot
    found = plugins.filter(name=own).first() if own else None
    found = found or plugins.filter(default_handler=True).first()
    if found is None and configured:
        found = plugins.filter(name=configured).first()
    return found


def _route_plain_text(
    inbound: InboundMessage, user: BotUser, language: str, routing: Routing, config: BotConfig
) -> None:
    plugin = _default_handler(routing.bot, config)
    if plugin is None or plugin.active_version is None or not inbound.text.strip():
        inbound.status = Status.IGNORED
        return
    if not _may_run(user, plugin, None):
        inbound.status = Status.IGNORED
        return
    # The default handler gets the whole text as arguments under the empty command name.
    plain = ParsedCommand(name="", arguments=inbound.text)
    _invoke(inbound, user, plugin.active_version, plain, language, routing)


def _invocation_key(bot: int, message_id: str) -> str:
    # A group message reaches every bot in the group under one hash: the key names the bot.
    key = f"msg:{bot}:{message_id}"
    return key if len(key) <= 100 else "msg:sha256:" + hashlib.sha256(key.encode()).hexdigest()


def _invoke(
    inbound: InboundMessage,
    user: BotUser,
    version: PluginVersion,
    parsed: ParsedCommand,
    language: str,
    routing: Routing,
) -> None:
    invocation = Invocation(
        key=_invocation_key(inbound.bot_id, inbound.message_id),
        bot_id=inbound.bot_id,
        user=user,
        plugin_version=version,
        command=parsed.name,
        arguments=parsed.arguments,
        conversation=inbound.conversation,
        conversation_type=inbound.conversation_type,
        language=language,
        reply_to=_quote(inbound),
        attachments=list(inbound.attachments),
    )
    routing.pending.append((inbound, invocation))
    inbound.status = Status.ROUTED
