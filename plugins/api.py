"""The public plugin API: the one surface plugin authors import.

A plugin is a subclass of :class:`Plugin` whose methods marked with :func:`command` answer
chat commands. Arguments after ``ctx`` are parsed from the message text by their type
(``str``, ``int``, ``float``, ``bool``); the last ``str`` argument takes the rest of the
text unchanged::

    from plugins.api import Context, Plugin, PluginError, Reply, command

    class Weather(Plugin):
        @command("weather", summary="Weather for a city")
        def weather(self, ctx: Context, city: str) -> Reply:
            \"\"\"Today's weather for CITY, e.g. /weather Paris.\"\"\"
            if city == "Atlantis":
                raise PluginError("No weather under the sea.")
            return Reply(f"Sunny in {city}")

Text that does not fit the arguments gets the user a usage line (``/weather <city…>``),
the same line ``/help weather`` and the admin show.

The code is the one description of a command: its name and ``summary`` (what ``/help``
lists), its arguments (the signature) and its English help (the handler's docstring,
shown by ``/help weather``). Translations go in ``<module>.docs.json`` beside the module
(see ``plugins.catalog``)::

    {"es": {"weather": {"summary": "El tiempo de una ciudad", "help": "/weather CIUDAD"}}}

Plain text (a message that is not a command) goes to one plugin at most: the one the
operator marks as the default handler. That plugin answers it in :meth:`Plugin.on_text`::

    class Chat(Plugin):
        def on_text(self, ctx: Context, text: str) -> Reply:
            return Reply(f"You said {len(text)} characters. Try /help.")

A command that works for a while can tell the user how it goes with :meth:`Context.send`,
and a handler may be ``async def`` (it runs on an event loop of its own)::

    class Slow(Plugin):
        @command("think", summary="Think hard")
        async def think(self, ctx: Context, question: str) -> str:
            ctx.send("Thinking…")
            answer = await ask_the_model(question)
            return answer

This module knows nothing of Django, the broker or the database: plugins run in a plugin
host process that has none of them. Everything platform-specific reaches a plugin through
the :class:`Context`.
"""

from __future__ import annotations

import base64
import json
import logging
import sqlite3
import threading
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

__all__ = [
    "Attachment",
    "CommandDoc",
    "CommandInfo",
    "Context",
    "Platform",
    "Plugin",
    "PluginError",
    "PluginInfo",
    "Reply",
    "Storage",
    "command",
]


class PluginError(Exception):
    """Raise to answer the user with ``str(error)``; the invocation is recorded as an error.

    Any other exception is a bug: the user gets a generic "that command failed" and the
    traceback goes to the plugin's last error in the admin.
    """


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file sent or received: ``data`` holds the bytes (at most 10,000,000)."""

    name: str
    content_type: str
    data: bytes


@dataclass(frozen=True, slots=True)
class Reply:
    """What a command answers: text, and optionally files. Long text is split by the broker.

    A handler may also return a plain ``str`` (treated as ``Reply(text)``) or ``None``
    (no answer).
    """

    text: str = ""
    attachments: tuple[Attachment, ...] = ()


class Storage:
    """A small persistent key-value store private to one plugin.

    Values are anything JSON can hold. The data lives in ``storage.sqlite3`` in the plugin's
    own data folder and survives restarts, reloads and new versions; several worker
    processes may use it at once. ``Storage()`` without a path keeps the values in memory
    (what the test fixture uses unless told otherwise).
    """

    def __init__(self, path: Path | str | None = None) -> None:
        self._path = str(path) if path is not None else ":memory:"
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            if self._path != ":memory:":
                Path(self._path).parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(self._path, timeout=10, check_same_thread=False, isolation_level=None)
            self._conn.execute("CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        return self._conn

    def get(self, key: str, default: Any = None) -> Any:
        """Return the value stored under ``key``, or ``default``."""
        with self._lock:
            row = self._db().execute("SELECT value FROM kv WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else default

    def set(self, key: str, value: Any) -> None:
        """Store ``value`` (JSON-serializable) under ``key``, replacing what was there."""
        raw = json.dumps(value)
        with self._lock:
            self._db().execute("INSERT OR REPLACE INTO kv (key, value) VALUES (?, ?)", (key, raw))

    def delete(self, key: str) -> None:
        """Forget ``key``; forgetting a missing key is not an error."""
        with self._lock:
            self._db().execute("DELETE FROM kv WHERE key = ?", (key,))

    def keys(self) -> list[str]:
        """Return every stored key, sorted."""
        with self._lock:
            return [r[0] for r in self._db().execute("SELECT key FROM kv ORDER BY key")]

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())


@dataclass(frozen=True, slots=True)
class CommandInfo:
    """A command as the help lists it: ``summary`` is in the user's language when known.

    ``prefix`` is what the command is written with: the bot's (``/``) or, for an older
    bot's plugin, its own (``!``).
    """

    name: str
    summary: str
    plugin: str
    usage: str = ""
    prefix: str = "/"


@dataclass(frozen=True, slots=True)
class CommandDoc:
    """A command's manual page in the user's language (else the bot's default, else English).

    ``title`` is the command's summary, ``body`` its help, ``usage`` its usage line.
    """

    name: str
    title: str
    body: str
    usage: str = ""


@dataclass(frozen=True, slots=True)
class PluginInfo:
    """A plugin as ``/plugins`` lists it (admins only)."""

    name: str
    version: str
    enabled: bool
    load_state: str
    health: str
    error_rate: float
    last_error: str
    versions: tuple[str, ...] = ()


Transport = Callable[[str, dict[str, Any]], Any]


def _no_platform(method: str, args: dict[str, Any]) -> Any:
    raise PluginError("The platform is not available here.")


class Platform:
    """Narrow services of the bot platform, for plugins that need more than their context.

    Each call goes to the worker that runs the invocation (over the plugin host's pipe when
    the plugin is isolated). Calls a user may not make raise :class:`PluginError` with a
    message for that user; the admin-only ones check that the invoking user is an admin.
    """

    def __init__(self, transport: Transport = _no_platform) -> None:
        self._call = transport

    def commands(self) -> tuple[CommandInfo, ...]:
        """The commands the invoking user may run, with summaries in their language."""
        return tuple(CommandInfo(**row) for row in self._call("commands", {}))

    def command_doc(self, name: str) -> CommandDoc | None:
        """The localized manual of command ``name``, or None if the user may not run it."""
        row = self._call("command_doc", {"name": name})
        return CommandDoc(**row) if row else None

    def languages(self) -> tuple[str, ...]:
        """The language codes the bot speaks (``en``, ``es``, ``zh-hans``...)."""
        return tuple(self._call("languages", {}))

    def user_language_set(self, language: str) -> str:
        """Make ``language`` the invoking user's language; return the code stored."""
        return str(self._call("user_language_set", {"language": language}))

    def plugins(self) -> tuple[PluginInfo, ...]:
        """Every installed plugin with its active version and health (admins only)."""
        return tuple(PluginInfo(**{**row, "versions": tuple(row["versions"])}) for row in self._call("plugins", {}))

    def send(self, reply: Reply) -> None:
        """Send ``reply`` now, before the command's answer: see :meth:`Context.send`."""
        files = [
            {"name": a.name, "content_type": a.content_type, "data": base64.b64encode(a.data).decode("ascii")}
            for a in reply.attachments
        ]
        self._call("send", {"text": reply.text, "attachments": files})

    def user_data(self) -> dict[str, Any]:
        """What this bot keeps about the invoking user, as ``manage.py userdata export``
        shows it for one bot (built-in plugins only)."""
        return dict(self._call("user_data", {}))

    def user_forget(self) -> dict[str, int]:
        """Erase what this bot keeps about the invoking user (built-in plugins only).

        Returns the count of rows or files erased by kind. Work still under way for the
        user (this command, a reply not yet delivered) finishes first and is erased by the
        retention purge.
        """
        return {str(kind): int(count) for kind, count in self._call("user_forget", {}).items()}

    def plugin_manage(self, action: str, name: str, version: str = "") -> str:
        """Run ``action`` (reload, enable, disable, activate, rollback) on plugin ``name``.

        Admins only. ``version`` is needed by ``activate``. Returns a sentence for the user.
        """
        return str(self._call("plugin_manage", {"action": action, "name": name, "version": version}))


@dataclass(frozen=True, slots=True)
class Context:
    """Who asked and where: passed to every command as its first argument.

    ``user_id`` is the sender's Session ID, ``conversation`` where the reply goes,
    ``language`` the user's language code, ``config`` the plugin's settings from the admin,
    ``groups`` the user's group names, ``storage`` the plugin's key-value store, ``logger``
    a logger named after the plugin, ``platform`` the narrow platform services.
    """

    user_id: str
    conversation: str = ""
    conversation_type: str = "private"
    language: str = "en"
    command: str = ""
    plugin: str = ""
    config: dict[str, Any] = field(default_factory=dict)
    is_admin: bool = False
    groups: tuple[str, ...] = ()
    attachments: tuple[Attachment, ...] = ()
    storage: Storage = field(default_factory=Storage)
    logger: logging.Logger = field(default_factory=lambda: logging.getLogger("plugins.user"))
    platform: Platform = field(default_factory=Platform)

    def send(self, message: Reply | str) -> None:
        """Send ``message`` to the conversation now, while the command goes on working.

        For a command that takes a while ("Searching…", partial results). Each message is
        stored in the bot's outbox before this returns: it is delivered exactly once, split
        like any reply when long, and in the order sent, before the command's own answer.
        Call it any number of times (up to 100 per invocation), from the handler or from
        code it calls, plain or ``async``, while the command runs; after the handler has
        returned it raises :class:`PluginError`. Should the worker die while the command
        runs, the invocation runs again: its messages are numbered per invocation, so the
        first N messages of the new run, already delivered, are not sent a second time.
        A ``str`` is sent as ``Reply(text)``.
        """
        if isinstance(message, str):
            message = Reply(message)
        if not isinstance(message, Reply):
            raise TypeError(f"send() takes a Reply or a str, not {type(message).__name__}")
        if message.text or message.attachments:
            self.platform.send(message)


F = TypeVar("F", bound=Callable[..., Any])


def command(name: str, *, summary: str = "") -> Callable[[F], F]:
    """Mark a method of a :class:`Plugin` as the handler of chat command ``name``.

    ``summary`` is the one line ``/help`` lists; the handler's docstring is the help that
    ``/help NAME`` shows. Both are English; translations go in the plugin's catalog.
    The handler may be ``async def``: it then runs to completion on an event loop of its
    own (``asyncio.run``), within the plugin's limits like any other.
    """

    def mark(func: F) -> F:
        func.__sessionbot_command__ = (name, summary)  # type: ignore[attr-defined]
        return func

    return mark


class Plugin:
    """Base class of plugins. Subclasses define commands with :func:`command`.

    A plugin is instantiated once per process that runs it and then answers many
    invocations: keep per-user state in ``ctx.storage``, not on ``self``.
    """

    def commands(self) -> dict[str, Callable[..., Any]]:
        """Return the command handlers of this plugin by command name."""
        return {name: getattr(self, attr) for name, attr in _command_attributes(type(self)).items()}

    def on_text(self, ctx: Context, text: str) -> Any:
        """Override to answer plain text: ``text`` is the whole message, unchanged.

        Like a command handler it returns a :class:`Reply`, a ``str`` or None, and may be
        ``async def``.

        Only the plugin marked as the default handler (in the admin, or ``default_handler``
        in config.yaml) receives plain text; ``ctx.command`` is ``""``. It runs with the
        same limits and isolation as a command, and a :class:`PluginError` is answered the
        same way. Without an override the plugin answers plain text with nothing.
        """
        return None

    @classmethod
    def has_text_handler(cls) -> bool:
        """Whether the subclass answers plain text (overrides :meth:`on_text`)."""
        return cls.on_text is not Plugin.on_text

    def health_check(self) -> str | None:
        """Override to report health: return a short status, raise an exception when unwell.

        It runs periodically in the plugin's own process (with the command limits) and its
        result shows in the admin and in ``/plugins``. The default declares no check.
        """
        return None

    def forget(self, ctx: Context) -> None:
        """Override to erase what the plugin keeps about ``ctx.user_id``.

        Called when the user erases their data with a bot (``/forgetme``) or the operator
        does (``manage.py userdata erase``), in the plugin's own process with the command
        limits. ``ctx.storage`` is the plugin's store: delete the keys that belong to the
        user. The platform erases its own records (messages, invocations, replies, files)
        whatever this does. The default keeps nothing per user and does nothing.
        """
        return None

    @classmethod
    def has_forget(cls) -> bool:
        """Whether the subclass erases per-user data (overrides :meth:`forget`)."""
        return cls.forget is not Plugin.forget

    @classmethod
    def has_health_check(cls) -> bool:
        """Whether the subclass declares a health check."""
        return cls.health_check is not Plugin.health_check


_command_attrs: weakref.WeakKeyDictionary[type[Plugin], dict[str, str]] = weakref.WeakKeyDictionary()


def _command_attributes(cls: type[Plugin]) -> dict[str, str]:
    """Command name to attribute name, for a plugin class (read once: a reload makes a new class)."""
    cached = _command_attrs.get(cls)
    if cached is not None:
        return cached
    found: dict[str, str] = {}
    for attr in dir(cls):
        member = getattr(cls, attr, None)
        meta = getattr(member, "__sessionbot_command__", None)
        if meta is not None and callable(member):
            found[meta[0]] = attr
    _command_attrs[cls] = found
    return found
