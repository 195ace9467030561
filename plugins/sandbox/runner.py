"""Run one command of a loaded plugin and describe the outcome; shared by host and inline.

Pure module (no Django). Every way a plugin can end (an answer, a PluginError, text that
does not fit the arguments, a bug, running out of memory) becomes an :class:`Outcome`; the
worker turns that into the user's reply and the invocation's status.
"""

from __future__ import annotations

import inspect
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from plugins.api import Context, Plugin, PluginError, Reply
from plugins.arguments import ArgumentError, argspec_read, arguments_parse, usage_format
from plugins.catalog import catalog_read
from plugins.sandbox.protocol import reply_from_wire, reply_to_wire

# Outcome statuses; the worker adds "timeout", "crashed" and "unavailable".
OK, ERROR, USAGE, FAILED, MEMORY, UNKNOWN = "ok", "error", "usage", "failed", "memory", "unknown_command"
NONE = "none"
TEXT = ""  # the command name the broker gives plain text sent to the default handler


@dataclass(frozen=True, slots=True)
class Outcome:
    status: str
    reply: Reply | None = None
    error: str = ""
    usage: str = ""

    def to_wire(self) -> dict[str, Any]:
        reply = reply_to_wire(self.reply) if self.reply is not None else None
        return {"op": "result", "status": self.status, "reply": reply, "error": self.error, "usage": self.usage}

    @classmethod
    def from_wire(cls, raw: dict[str, Any]) -> Outcome:
        reply = reply_from_wire(raw["reply"]) if raw.get("reply") is not None else None
        return cls(str(raw.get("status", FAILED)), reply, str(raw.get("error", "")), str(raw.get("usage", "")))


def plugin_describe(*, instance: Plugin, prefix: str = "/") -> list[dict[str, Any]]:
    """The commands of ``instance`` as plain data, everything the code declares about them.

    Name, its own prefix (``""``: the bot's; ``"!"`` for an older bot's command word),
    English summary (the decorator's) and help (the handler's docstring), the
    argument spec and its usage line, and the translations of the plugin's catalog
    (``plugins.catalog``) by language. The database's command rows are made from this.
    """
    handlers = sorted(instance.commands().items())
    translations = catalog_read(plugin_class=type(instance), commands=[name for name, _ in handlers])
    described = []
    for name, handler in handlers:
        _, summary = getattr(handler, "__sessionbot_command__")  # noqa: B009
        own = str(getattr(handler, "__sessionbot_prefix__", ""))  # an older bot's word: !echo
        specs = argspec_read(handler)
        described.append(
            {
                "name": name,
                "prefix": own,
                "summary": summary,
                "help": inspect.cleandoc(handler.__doc__ or ""),
                "usage": usage_format(prefix=own or prefix, command=name, specs=specs),
                "args": [s.as_dict() for s in specs],
                "docs": translations.get(name, {}),
            }
        )
    return described


def awaited(result: Any) -> Any:
    """``result``, or what it gives once awaited when it is a coroutine (an ``async def``).

    It runs on an event loop of its own; where this thread already runs a loop, on a
    thread of its own (``asyncio.run`` cannot nest).
    """
    if not inspect.isawaitable(result):
        return result
    # Imported here: a host whose plugin has no async handler never pays for asyncio.
    import asyncio
    import threading

    async def wait() -> Any:
        return await result

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(wait())
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = asyncio.run(wait())
        except BaseException as exc:  # noqa: BLE001 - handed over to the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=run, name="plugin-async")
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box.get("value")


def _as_reply(result: object) -> Reply | None:
    if result is None or isinstance(result, Reply):
        return result
    if isinstance(result, str):
        return Reply(result)
    raise TypeError(f"a command must return Reply, str or None, not {type(result).__name__}")


def command_run(*, instance: Plugin, command: str, arguments: str, ctx: Context, prefix: str = "/") -> Outcome:
    """Parse ``arguments`` for ``command``, call its handler and report how it went."""
    handler = instance.commands().get(command)
    if handler is None and command == TEXT:
        # Plain text sent to the default handler; an explicit @command("") still wins.
        if not instance.has_text_handler():
            return Outcome(UNKNOWN, error="the plugin is the default handler but does not define on_text")
        return _outcome_of(lambda: instance.on_text(ctx, arguments))
    if handler is None:
        return Outcome(UNKNOWN, error=f"the plugin has no command {command!r}")
    specs = argspec_read(handler)
    try:
        values = arguments_parse(text=arguments, specs=specs)
    except ArgumentError as exc:
        return Outcome(USAGE, error=str(exc), usage=usage_format(prefix=prefix, command=command, specs=specs))
    return _outcome_of(lambda: handler(ctx, *values))


def _outcome_of(call: Callable[[], object]) -> Outcome:
    try:
        return Outcome(OK, _as_reply(awaited(call())))
    except PluginError as exc:
        return Outcome(ERROR, Reply(str(exc)), error=str(exc))
    except MemoryError:
        return Outcome(MEMORY, error="MemoryError: the plugin went past its memory limit")
    except Exception:  # noqa: BLE001 - any bug in a plugin is reported, never propagated
        return Outcome(FAILED, error=traceback.format_exc(limit=-8))


def forget_run(*, instance: Plugin, ctx: Context) -> Outcome:
    """Run the plugin's :meth:`Plugin.forget` for ``ctx.user_id``: ``none`` when it has none."""
    if not instance.has_forget():
        return Outcome(NONE)
    return _outcome_of(lambda: instance.forget(ctx))


def health_run(*, instance: Plugin, method: str | None = None) -> Outcome:
    """Run the plugin's health check: ``ok`` with its status text, or ``failed``.

    ``method`` is the one the manifest names (``health_check.method``); without it the
    plugin's own :meth:`Plugin.health_check` runs. ``none`` when there is no check at all.
    """
    if method:
        check = getattr(instance, method, None)
        if not callable(check) or method.startswith("__"):
            return Outcome(FAILED, error=f"the plugin has no method {method!r} for its health check")
    elif instance.has_health_check():
        check = instance.health_check
    else:
        return Outcome(NONE)
    try:
        detail = awaited(check())
    except MemoryError:
        return Outcome(MEMORY, error="MemoryError during the health check")
    except Exception as exc:  # noqa: BLE001 - an unwell plugin is reported, not raised
        return Outcome(FAILED, error=f"{type(exc).__name__}: {exc}")
    return Outcome(OK, Reply(str(detail or "ok")))
