"""Run a plugin written for the older bot, unchanged, inside a plugin host. No Django.

The older bot's manager put ``<tree>`` and ``<tree>/<name>`` on ``sys.path``, imported
module ``<name>`` (so the plugin's sibling modules import by bare name: ``from interfaces
import IObserver``), called ``module.Plugin(manager)`` and then ``start()``, in which the
plugin subscribes its observers. Each observer answers to one word (``prefix()``, such as
``!echo``): the manager awaited ``observer.notify(rest_of_text, sender, attachments)``, and
the observer answered by awaiting ``manager.notify(text, to, attachments)``, as many times
as it liked.

:func:`legacy_load` does the same and returns a :class:`plugins.api.Plugin` whose commands
are the observers' words, so the host runs them like any other command. The plugin's
coroutines run on one event loop of the host's, kept between commands. What the plugin
sends while a command runs (from ``notify`` or from tasks it starts there, which the
command waits for) goes to that command's conversation: each message as soon as the next
one is made, the last as the command's answer; what it sends when no command runs has no
conversation to go to and is logged, not sent.
"""

from __future__ import annotations

import asyncio
import base64
import contextvars
import importlib
import inspect
import logging
import shutil
import sys
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from plugins.api import Attachment, Context, Plugin, Reply
from plugins.legacy.words import WordError, command_word_split
from plugins.loader import PluginLoadError

log = logging.getLogger(__name__)
PLUGIN_CLASS = "Plugin"
SEEDS = ".seed"  # beside the tree in its snapshot: the files its data folders held
STOP_SECONDS = 0.8  # the worker waits a second for a host to exit before it kills it


@dataclass(slots=True)
class _Run:
    """One command under way: its context and what the plugin has sent so far."""

    ctx: Context
    replies: list[Reply] = field(default_factory=list)
    tasks: set[asyncio.Task[Any]] = field(default_factory=set)


_RUN: contextvars.ContextVar[_Run | None] = contextvars.ContextVar("legacy_run", default=None)


def _deliver(run: _Run, reply: Reply) -> None:
    """Keep ``reply`` and send the one kept before it: each goes out as it is made.

    The last one is held back to be the command's own answer, so a plugin that notifies
    once answers the way a new-style command does, and one that notifies five times
    sends four interim messages (each durable, in order) and then its answer.
    """
    if run.replies:
        run.ctx.send(run.replies.pop())
    run.replies.append(reply)


def _answer(run: _Run) -> Reply | None:
    """The command's own answer: the last reply the plugin made, or None if it made none."""
    return run.replies[-1] if run.replies else None


class _Done:
    """What ``notify`` returns: already done, awaited or not (some plugins forget to)."""

    def __await__(self) -> Any:
        return iter(())


def _attachment(item: object) -> Attachment | None:
    if isinstance(item, Attachment):
        return item
    if isinstance(item, dict):
        data = item.get("data", b"")
        if isinstance(data, str):
            try:
                data = base64.b64decode(data, validate=True)
            except ValueError:
                data = data.encode()
        kind = item.get("content_type") or item.get("contentType") or item.get("type") or "application/octet-stream"
        return Attachment(name=str(item.get("name") or item.get("fileName") or ""), content_type=str(kind), data=data)
    return None


class Observable:
    """What the older manager was to its plugins: ``subscribe``, ``unsubscribe``, ``notify``."""

    def __init__(self, plugin: str) -> None:
        self.plugin = plugin
        self.observers: list[Any] = []

    def subscribe(self, observer: Any) -> None:
        if observer not in self.observers:
            self.observers.append(observer)

    def unsubscribe(self, observer: Any) -> None:
        if observer in self.observers:
            self.observers.remove(observer)

    def notify(self, msg: object, to: object = "", attachments: object = None) -> _Done:
        """Send ``msg`` (and ``attachments``) to the conversation of the command under way.

        ``to`` was the recipient's Session ID; a reply goes where the command came from.
        """
        run = _RUN.get()
        if run is None:
            log.warning("%s sent a message while no command of it ran: not sent", self.plugin)
            return _Done()
        if to and str(to) != run.ctx.user_id:
            log.info("%s addressed a reply to %s: it goes to the conversation of the command", self.plugin, to)
        given = attachments if isinstance(attachments, list | tuple) else ()
        files = tuple(a for a in map(_attachment, given) if a is not None)
        text = "" if msg is None else str(msg)
        if text or files:
            _deliver(run, Reply(text, files))
        return _Done()


def _task_track(loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, Any], **kwargs: Any) -> asyncio.Task[Any]:
    """The loop's task factory: a task started during a command belongs to that command."""
    task = asyncio.Task(coro, loop=loop, **kwargs)
    current = _RUN.get()
    if current is not None:
        current.tasks.add(task)
    return task


async def _awaited(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


class LegacyPlugin(Plugin):
    """An older-bot plugin seen as a :class:`plugins.api.Plugin`: one command per observer."""

    def __init__(self, *, name: str, module: Any, loop: asyncio.AbstractEventLoop) -> None:
        self.name, self.loop = name, loop
        self.observable = Observable(name)
        self.loop.set_task_factory(_task_track)  # type: ignore[arg-type]

        async def boot() -> Any:
            plugin = module.Plugin(self.observable)
            await _awaited(getattr(plugin, "start", lambda: None)())
            return plugin

        self.plugin = self.loop.run_until_complete(boot())
        self._handlers = self._words()

    def _words(self) -> dict[str, Callable[..., Any]]:
        handlers: dict[str, Callable[..., Any]] = {}
        for observer in self.observable.observers:
            try:
                prefix, name = command_word_split(observer.prefix())
            except WordError as exc:
                raise PluginLoadError(f"{type(observer).__name__}: {exc}") from None
            if name in handlers:
                raise PluginLoadError(f"two observers answer to {prefix}{name}")
            handlers[name] = self._handler(observer, prefix, name)
        return handlers

    def _handler(self, observer: Any, prefix: str, name: str) -> Callable[..., Any]:
        def handler(ctx: Context, text: str = "") -> Reply | None:
            return self._run(observer, ctx, text)

        # The observer's docstring: its first line is what /help lists, the rest its manual.
        summary, _, manual = (inspect.getdoc(type(observer)) or "").partition("\n")
        handler.__doc__ = manual.strip()
        handler.__sessionbot_command__ = (name, summary.strip()[:200])  # type: ignore[attr-defined]
        handler.__sessionbot_prefix__ = prefix  # type: ignore[attr-defined]
        return handler

    def _run(self, observer: Any, ctx: Context, text: str) -> Reply | None:
        run = _Run(ctx)

        async def serve() -> None:
            _RUN.set(run)  # this task's own context: the tasks it starts inherit it
            await _awaited(observer.notify(text, ctx.user_id, list(ctx.attachments)))
            while pending := {t for t in run.tasks if not t.done()}:
                await asyncio.wait(pending)
            for task in run.tasks:
                if not task.cancelled() and task.exception() is not None:
                    log.error("%s: a task of %s failed", self.name, ctx.command, exc_info=task.exception())

        self.loop.run_until_complete(serve())
        return _answer(run)

    def commands(self) -> dict[str, Callable[..., Any]]:
        return dict(self._handlers)

    def stop(self) -> None:
        """The plugin's ``stop()``, sync or async, given a moment before the host exits."""
        stop = getattr(self.plugin, "stop", None)
        if not callable(stop):
            return
        try:
            self.loop.run_until_complete(asyncio.wait_for(_awaited(stop()), STOP_SECONDS))
        except Exception:  # the host exits either way
            log.exception("%s: stop() failed", self.name)


def _data_ready(snapshot: Path) -> None:
    """``./data`` (where the tree's data folders lead) exists, with the files the tree shipped.

    Runs in the host as the plugin's user: the files go into its own folder, never over one
    it already has.
    """
    data = Path.cwd() / "data"
    data.mkdir(exist_ok=True)
    seeds = snapshot / SEEDS / "data"
    if not seeds.is_dir():
        return
    for source in sorted(seeds.rglob("*")):
        target = data / source.relative_to(seeds)
        if source.is_dir():
            target.mkdir(exist_ok=True)
        elif not target.exists() and not target.is_symlink():
            shutil.copyfile(source, target)


def legacy_import(*, module: str, tree: Path) -> Any:
    """Import ``module`` as the older manager did: ``tree`` and ``tree/module`` on sys.path."""
    for path in (tree / module, tree):  # each goes first: tree, then tree/module
        if str(path) not in sys.path:
            sys.path.insert(0, str(path))
    importlib.invalidate_caches()
    try:
        loaded = importlib.import_module(module)
    except (Exception, SystemExit, KeyboardInterrupt) as exc:  # any failure of plugin code is reported
        detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        raise PluginLoadError(f"cannot import {module}: {detail}") from exc
    where = getattr(loaded, "__file__", None)
    if where is None or not Path(where).resolve().is_relative_to(tree.resolve()):
        raise PluginLoadError(f"module {module} is not the plugin's: it comes from {where}")
    if not callable(getattr(loaded, PLUGIN_CLASS, None)):
        raise PluginLoadError(f"module {module} has no class {PLUGIN_CLASS} (an older-bot plugin's entry point)")
    return loaded


def legacy_load(*, plugin: str, entrypoint: str, root: Path) -> LegacyPlugin:
    """Load the older-bot plugin pinned at ``root`` (its tree is ``root/<module>``).

    ``entrypoint`` is ``<module>:Plugin``. Raises PluginLoadError with the reason.
    """
    module = entrypoint.partition(":")[0]
    _data_ready(root)
    loaded = legacy_import(module=module, tree=root / module)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        return LegacyPlugin(name=plugin, module=loaded, loop=loop)
    except PluginLoadError:
        raise
    except (Exception, SystemExit) as exc:
        raise PluginLoadError(f"the plugin did not start: {type(exc).__name__}: {exc}") from exc
