"""Adding, switching and removing bots, and reading a bot's identity for its bridge.

A bot's identity is its 13-word mnemonic. It is sealed (``sessionbot.sealing``, purpose
"bot identities") under ``PLUGIN_SECRETS_KEY`` before it reaches the database, is opened
only for the bridge and for ``bots export-key``, and is never logged: error messages name
the bot, never the words.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from cryptography.fernet import InvalidToken
from django.apps import apps
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.db.models.deletion import Collector
from django.utils import timezone
from django.utils.translation import gettext as _
from session_python import Session

from bots.adoption import FIRST_BOT, todays_words
from bots.models import Bot, BotKey
from bridge.identity import IdentityError, mnemonic_check, mnemonic_load, session_id_of
from sessionbot import sealing
from sessionbot.botconfig import BotConfig, ConfigError, bot_config_apply


class BotError(Exception):
    """A bot action cannot be done; ``str(error)`` says why, never with the words."""


@dataclass(frozen=True, slots=True)
class BotIdentity:
    """What a bridge needs to serve a bot."""

    name: str
    session_id: str
    display_name: str
    words: str = field(repr=False)
    config: BotConfig  # config.yaml with the bot's settings on top
    revision: str = ""  # changes when anything above does


@dataclass(frozen=True, slots=True)
class BotsServed:
    """The bots a bridge process serves now, and those it cannot (name: why, never the words)."""

    identities: tuple[BotIdentity, ...]
    problems: Mapping[str, str]


def _keys() -> str:
    keys = str(getattr(settings, "PLUGIN_SECRETS_KEY", "") or "")
    if not keys:
        raise BotError(
            _(
                "Bot identities are sealed with PLUGIN_SECRETS_KEY: set it, the same on every machine "
                "(REDIS_URL is set, so several machines share the bots)."
            )
        )
    return keys


def identities_problem() -> str:
    """Why no bot identity can be stored or read on this machine ("" when it can)."""
    try:
        _keys()
    except BotError as exc:
        return str(exc)
    return ""


def _bot(name: str) -> Bot:
    """The bot ``name`` (removed bots have no name any more: it may be a new bot's)."""
    try:
        return Bot.objects.get(name=name, removed_at__isnull=True)
    except Bot.DoesNotExist:
        if Bot.objects.filter(name=name).exists():
            raise BotError(
                _("The bot %(name)s was removed: add a new bot (manage.py bots add NAME).") % {"name": name}
            ) from None
        raise BotError(_("No bot is named %(name)s.") % {"name": name}) from None


def _bot_to_purge(name: str) -> Bot:
    """The bot ``name``, or the removed bot named or with the Session ID ``name``."""
    live = Bot.objects.filter(name=name, removed_at__isnull=True).first()
    if live is not None:
        return live
    removed = list(Bot.objects.filter(Q(name=name) | Q(session_id=name), removed_at__isnull=False)[:2])
    if not removed:
        raise BotError(_("No bot is named %(name)s.") % {"name": name})
    if len(removed) > 1:
        raise BotError(
            _("Several removed bots are named %(name)s: give the Session ID of the one to purge.") % {"name": name}
        )
    return removed[0]


def _words_open(bot: Bot) -> str:
    try:
        sealed = BotKey.objects.get(bot=bot).key_sealed
    except BotKey.DoesNotExist:
        raise BotError(_("The bot %(name)s has no stored identity.") % {"name": bot.name}) from None
    try:
        return sealing.unseal(sealed, keys=_keys(), purpose=sealing.BOT_IDENTITIES)
    except sealing.SealError:
        raise BotError(
            _(
                "The identity of bot %(name)s cannot be decrypted with this machine's PLUGIN_SECRETS_KEY "
                "(it was stored under another key)."
            )
            % {"name": bot.name}
        ) from None


def bot_add(*, name: str, words: str | None, display_name: str = "") -> Bot:
    """Create the bot ``name`` with the identity ``words``, or a new identity when None."""
    if words is None:
        words = Session.generate_mnemonic()
    try:
        words = mnemonic_check(words, source=_("The mnemonic"))
    except IdentityError as exc:
        raise BotError(str(exc)) from None
    bot = Bot(name=name, session_id=session_id_of(words), display_name=display_name)
    try:
        bot.full_clean()
    except ValidationError as exc:
        raise BotError(" ".join(message for messages in exc.message_dict.values() for message in messages)) from None
    sealed = sealing.seal(words, keys=_keys(), purpose=sealing.BOT_IDENTITIES)
    try:
        with transaction.atomic():
            bot.save()
            BotKey.objects.create(bot=bot, key_sealed=sealed)
    except IntegrityError:
        raise BotError(_("A bot named %(name)s or with that identity exists already.") % {"name": name}) from None
    return bot


def _enabled_set(name: str, enabled: bool) -> Bot:
    bot = _bot(name)
    if bot.enabled != enabled:
        bot.enabled = enabled
        bot.save(update_fields=["enabled", "updated_at"])
    return bot


def bot_enable(*, name: str) -> Bot:
    """Let the bot ``name`` be served."""
    return _enabled_set(name, True)


def bot_disable(*, name: str) -> Bot:
    """Stop serving the bot ``name``: a bridge refuses to start for it."""
    return _enabled_set(name, False)


def bot_remove(*, name: str) -> Bot:
    """Remove the bot ``name`` and keep its history; return it.

    Its identity (the stored words) is deleted and the bot is disabled for good; its
    messages, users, invocations and sends stay, under a bot that the lists hide. Its name
    and Session ID are free for a new bot.
    """
    with transaction.atomic():
        bot = _bot(name)
        BotKey.objects.filter(bot=bot).delete()
        bot.enabled = False
        bot.removed_at = timezone.now()
        bot.save(update_fields=["enabled", "removed_at", "updated_at"])
    return bot


def bots_remove(*, pks: list[int]) -> int:
    """Remove the bots ``pks`` (already removed ones are left as they are); return how many."""
    with transaction.atomic():
        live = Bot.objects.select_for_update().filter(pk__in=pks, removed_at__isnull=True)
        names = list(live.values_list("name", flat=True))
        for name in names:
            bot_remove(name=name)
    return len(names)


@dataclass(frozen=True, slots=True)
class Purge:
    """What purging a bot deletes: rows by kind (``verbose_name_plural``), the bot's too."""

    rows: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.rows.values())


def _history(bots: QuerySet[Bot]) -> Collector:
    collector = Collector(using=bots.db)
    collector.collect(bots)
    return collector


def _counted(collector: Collector) -> Purge:
    rows: dict[str, int] = {}
    for model, instances in collector.data.items():
        rows[str(model._meta.verbose_name_plural)] = rows.get(str(model._meta.verbose_name_plural), 0) + len(instances)
    for query in collector.fast_deletes:
        count = query.count()
        if count:
            label = str(query.model._meta.verbose_name_plural)
            rows[label] = rows.get(label, 0) + count
    return Purge(rows=dict(sorted(rows.items())))


def bot_purge_preview(*, pks: list[int]) -> Purge:
    """The rows that purging the bots ``pks`` would delete, counted without deleting."""
    return _counted(_history(Bot.objects.filter(pk__in=pks)))


def bots_purge(*, pks: list[int]) -> Purge:
    """Delete the bots ``pks`` with their whole history: messages, users, invocations, sends."""
    with transaction.atomic():
        _, deleted = Bot.objects.filter(pk__in=pks).delete()
    rows: dict[str, int] = {}
    for label, count in deleted.items():
        if count:
            model = apps.get_model(label)
            rows[str(model._meta.verbose_name_plural)] = count
    return Purge(rows=dict(sorted(rows.items())))


def bot_purge(*, name: str) -> Purge:
    """Delete the bot ``name`` (or the removed bot named so, or with that Session ID) and its
    whole history."""
    return bots_purge(pks=[_bot_to_purge(name).pk])


def bot_purge_target(*, name: str) -> Bot:
    """The bot that ``bot_purge(name=name)`` would delete, for a confirmation."""
    return _bot_to_purge(name)


def bot_key_export(*, name: str) -> str:
    """The words of the bot ``name``, for a backup; the caller warns whoever sees them."""
    return _words_open(_bot(name))


def bot_first_ensure() -> Bot | None:
    """Make today's identity (``SESSION_MNEMONIC`` or ``data/session_mnemonic``, generated
    when neither exists) the bot "main" when there is no bot; None when there is one.

    An install that predates bots keeps its Session ID without a step by hand. The file
    is left in place: it is the operator's, and a copy of the identity.
    """
    if Bot.objects.exists():
        _first_key_fill()
        return None
    try:
        words = mnemonic_load(env_value=settings.SESSION_MNEMONIC, path=settings.DATA_DIR / "session_mnemonic")
    except IdentityError as exc:
        raise BotError(str(exc)) from None
    try:
        return bot_add(name=FIRST_BOT, words=words, display_name=settings.CLIENT_NAME)
    except BotError:
        if Bot.objects.filter(name=FIRST_BOT, session_id=session_id_of(words), removed_at__isnull=True).exists():
            return None  # another process made it at the same moment
        raise


def _first_key_fill() -> None:
    """Seal today's identity for the first bot when a migration made it without its key
    (PLUGIN_SECRETS_KEY was not set then): its bridge can then serve it. A removed bot's
    key stays deleted."""
    bot = Bot.objects.filter(name=FIRST_BOT, key__isnull=True, removed_at__isnull=True).first()
    if bot is None or identities_problem():
        return
    words = todays_words()  # "" when missing or unreadable: bot_identity_serve says so
    if words and session_id_of(words) == bot.session_id:
        sealed = sealing.seal(words, keys=_keys(), purpose=sealing.BOT_IDENTITIES)
        BotKey.objects.get_or_create(bot=bot, defaults={"key_sealed": sealed})


def bot_identity_serve(*, name: str | None) -> BotIdentity:
    """The identity a bridge serves: the bot ``name``, or the first enabled bot (made from
    today's identity when there is no bot at all).

    BotError for an unknown or disabled bot, and when ``SESSION_MNEMONIC`` is set to
    another identity than the bot's: the operator expects that identity to be served.
    """
    if name is None:
        bot_first_ensure()
        bot = Bot.objects.filter(enabled=True, removed_at__isnull=True).order_by("created_at", "pk").first()
        if bot is None:
            raise BotError(_("Every bot is disabled: enable one (manage.py bots enable NAME)."))
    else:
        bot = _bot(name)
        if not bot.enabled:
            raise BotError(_("The bot %(name)s is disabled (manage.py bots enable %(name)s).") % {"name": name})
    words = _words_open(bot)
    if settings.SESSION_MNEMONIC.strip():
        try:
            configured = session_id_of(mnemonic_check(settings.SESSION_MNEMONIC, source="SESSION_MNEMONIC"))
        except IdentityError as exc:
            raise BotError(str(exc)) from None
        if configured != bot.session_id:
            raise BotError(
                _(
                    "SESSION_MNEMONIC is the identity %(configured)s, but the bot %(name)s is %(session_id)s: "
                    "unset SESSION_MNEMONIC (the bots' identities are in the database) or choose its bot."
                )
                % {"configured": configured, "name": bot.name, "session_id": bot.session_id}
            )
    try:
        config = bot_config_apply(base=settings.BOT_CONFIG, overrides=bot.settings)
    except ConfigError as exc:
        raise BotError(_("The settings of bot %(name)s: %(error)s") % {"name": bot.name, "error": exc}) from None
    return BotIdentity(
        name=bot.name, session_id=bot.session_id, display_name=bot.display_name, words=words, config=config
    )


def bots_enable(*, names: list[str], enabled: bool) -> int:
    """Enable (or disable) the bots ``names``; return how many changed (a removed bot never)."""
    live = Bot.objects.filter(name__in=names, removed_at__isnull=True)
    return live.exclude(enabled=enabled).update(enabled=enabled)


def bot_keys_rekey() -> int:
    """Seal every bot's identity again under the first ``PLUGIN_SECRETS_KEY``; return how many.

    After a key rotation (the new key first, the old one after it), so the old key can be
    dropped without losing a bot.
    """
    cipher = sealing.cipher(_keys(), purpose=sealing.BOT_IDENTITIES)
    done = 0
    with transaction.atomic():
        for key in BotKey.objects.select_for_update().select_related("bot"):
            try:
                rotated = cipher.rotate(key.key_sealed.encode("ascii")).decode("ascii")
            except InvalidToken:
                _words_open(key.bot)  # raises, naming the bot
                raise
            BotKey.objects.filter(pk=key.pk).update(key_sealed=rotated)
            done += 1
    return done


def _configured_session_id() -> str:
    """The Session ID of ``SESSION_MNEMONIC`` ("" when it is unset)."""
    if not settings.SESSION_MNEMONIC.strip():
        return ""
    try:
        return session_id_of(mnemonic_check(settings.SESSION_MNEMONIC, source="SESSION_MNEMONIC"))
    except IdentityError as exc:
        raise BotError(str(exc)) from None


def bots_serve_check(*, names: Sequence[str]) -> None:
    """Refuse to start a bridge process for unknown or disabled ``names``, for no enabled bot
    at all (none named; the first bot is made from today's identity when there is no bot),
    or when ``SESSION_MNEMONIC`` is an identity it would not serve."""
    if names:
        for name in names:
            if not _bot(name).enabled:
                raise BotError(_("The bot %(name)s is disabled (manage.py bots enable %(name)s).") % {"name": name})
    else:
        bot_first_ensure()
    served = Bot.objects.filter(enabled=True).order_by("created_at", "pk")
    if names:
        served = served.filter(name__in=names)
    first = served.first()
    if first is None:
        raise BotError(_("Every bot is disabled: enable one (manage.py bots enable NAME)."))
    configured = _configured_session_id()
    if configured and not served.filter(session_id=configured).exists():
        raise BotError(
            _(
                "SESSION_MNEMONIC is the identity %(configured)s, but the bot %(name)s is %(session_id)s: "
                "unset SESSION_MNEMONIC (the bots' identities are in the database) or choose its bot."
            )
            % {"configured": configured, "name": first.name, "session_id": first.session_id}
        )


def bots_serve(*, names: Sequence[str] = (), known: Mapping[str, BotIdentity] | None = None) -> BotsServed:
    """The enabled bots (only ``names`` when given) with their identities and settings.

    A bot whose identity cannot be opened or whose settings are invalid is left out and
    named in ``problems``. An identity in ``known`` whose bot has not changed since is
    returned as it is, so that reading the bots every few seconds opens no key again.
    """
    rows = Bot.objects.filter(enabled=True).order_by("created_at", "pk")
    if names:
        rows = rows.filter(name__in=names)
    identities: list[BotIdentity] = []
    problems: dict[str, str] = {}
    # Plain rows, not models: this runs every few seconds over every bot.
    fields = ("pk", "name", "session_id", "display_name", "settings", "key__key_sealed")
    for pk, name, session_id, display_name, overrides, sealed in rows.values_list(*fields):
        row = [name, session_id, display_name, json.dumps(overrides, sort_keys=True), sealed or ""]
        revision = hashlib.sha256("\0".join(row).encode()).hexdigest()
        previous = (known or {}).get(name)
        if previous is not None and previous.revision == revision:
            identities.append(previous)
            continue
        try:
            identities.append(_identity(Bot.objects.get(pk=pk), revision))
        except Bot.DoesNotExist:
            continue  # removed a moment ago
        except BotError as exc:
            problems[name] = str(exc)
    return BotsServed(tuple(identities), problems)


def _identity(bot: Bot, revision: str) -> BotIdentity:
    words = _words_open(bot)
    try:
        config = bot_config_apply(base=settings.BOT_CONFIG, overrides=bot.settings)
    except ConfigError as exc:
        raise BotError(_("The settings of bot %(name)s: %(error)s") % {"name": bot.name, "error": exc}) from None
    return BotIdentity(
        name=bot.name,
        session_id=bot.session_id,
        display_name=bot.display_name,
        words=words,
        config=config,
        revision=revision,
    )
