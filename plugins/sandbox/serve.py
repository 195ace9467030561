"""The plugin host's loop, started by ``plugins.sandbox.child`` once the host is confined.

It never imports Django (a finder refuses it, so a plugin cannot reach the platform's
settings or database through it). It reads frames on the pipe that was its stdin and
writes frames on the pipe that was its stdout; what the plugin prints goes to stderr.
"""

from __future__ import annotations

import logging
import math
import os
import resource
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from plugins.api import Context, Platform, Plugin, PluginError, Storage
from plugins.loader import PluginLoadError, plugin_class_load
from plugins.sandbox.enter import EnterError, Joining
from plugins.sandbox.privileges import child_subreaper, parent_death_kill, process_protect
from plugins.sandbox.protocol import attachment_from_wire, frame_read, frame_write
from plugins.sandbox.runner import MEMORY, Outcome, command_run, forget_run, health_run, plugin_describe

BLOCKED = ("django", "sessionbot", "broker")


class _BlockPlatform:
    """Refuse the platform's own packages inside the plugin host.

    A meta path finder by shape (``find_spec``) rather than by subclassing
    ``importlib.abc.MetaPathFinder``: importing ``importlib.abc`` pulls in
    ``importlib.resources`` and took about a third of the host's start.
    """

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> None:
        if fullname.split(".")[0] in BLOCKED:
            raise ImportError(f"{fullname} cannot be imported by a plugin; use plugins.api")
        return None


class Channel:
    """The host's end of the pipes: protocol frames only, prints go elsewhere."""

    def __init__(self) -> None:
        self.rfd, self.wfd = os.dup(0), os.dup(1)
        # A plugin may call the platform from threads of its own: one call on the pipe at a
        # time, and never in the middle of the result frame.
        self.lock = threading.RLock()
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.dup2(2, 1)  # print() in a plugin must not corrupt the protocol

    def read(self) -> dict[str, Any]:
        return frame_read(self.rfd)

    def write(self, message: dict[str, Any]) -> None:
        frame_write(self.wfd, message)

    def call(self, method: str, args: dict[str, Any]) -> Any:
        """A platform call: ask the worker and wait for its answer."""
        with self.lock:
            self.write({"op": "call", "method": method, "args": args})
            answer = self.read()
        if answer.get("op") == "raise":
            raise PluginError(str(answer.get("error", "")))
        return answer.get("value")


def _limit(kind: int, value: int) -> None:
    _, hard = resource.getrlimit(kind)
    if hard != resource.RLIM_INFINITY:
        value = min(value, hard)
    resource.setrlimit(kind, (value, hard))


def _cpu_budget(seconds: float) -> None:
    # RLIMIT_CPU counts the whole life of the process: give each invocation its own budget.
    used = resource.getrusage(resource.RUSAGE_SELF)
    _limit(resource.RLIMIT_CPU, math.ceil(used.ru_utime + used.ru_stime + seconds))


def _worn() -> bool:
    """Past half its hard (lifetime) CPU limit: better a fresh host for the next invocation
    than one the kernel kills in the middle of it."""
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    used = resource.getrusage(resource.RUSAGE_SELF)
    return hard != resource.RLIM_INFINITY and used.ru_utime + used.ru_stime > hard / 2


class Host:
    def __init__(self, channel: Channel, init: dict[str, Any]) -> None:
        self.channel = channel
        self.name = str(init["plugin"])
        self.prefix = str(init.get("prefix", "/"))
        self.cpu_seconds = float(init["cpu_seconds"])
        self.storage = Storage(Path.cwd() / "storage.sqlite3")
        self.logger = logging.getLogger(f"plugins.{self.name}")
        self.running = 0  # the number of the invocation under way; 0: none
        self._runs = 0
        self.instance, self.unload = _plugin_load(self.name, init)

    def context(self, raw: dict[str, Any]) -> Context:
        return Context(
            user_id=raw["user_id"],
            conversation=raw["conversation"],
            conversation_type=raw["conversation_type"],
            language=raw["language"],
            command=raw["command"],
            plugin=self.name,
            config=raw["config"],
            is_admin=raw["is_admin"],
            groups=tuple(raw["groups"]),
            attachments=tuple(attachment_from_wire(a) for a in raw["attachments"]),
            storage=self.storage,
            logger=self.logger,
            platform=Platform(self._transport(self.running)),
        )

    def _transport(self, run: int) -> Callable[[str, dict[str, Any]], Any]:
        """Platform calls for invocation ``run`` only: once it has answered, a call (from a
        thread the plugin left behind) would be read as the next invocation's, another user's."""

        def call(method: str, args: dict[str, Any]) -> Any:
            with self.channel.lock:
                if run != self.running:
                    raise PluginError("This command has finished; it can no longer use the platform.")
                return self.channel.call(method, args)

        return call

    def handle(self, message: dict[str, Any]) -> Outcome:
        _cpu_budget(self.cpu_seconds)
        if message["op"] == "health":
            return health_run(instance=self.instance, method=message.get("method"))
        self._runs += 1
        self.running = self._runs
        if message["op"] == "forget":
            return forget_run(instance=self.instance, ctx=self.context(message["ctx"]))
        return command_run(
            instance=self.instance,
            command=message["command"],
            arguments=message["arguments"],
            ctx=self.context(message["ctx"]),
            prefix=str(message.get("prefix") or self.prefix),  # the prefix of the bot the run answers for
        )


def _plugin_load(name: str, init: dict[str, Any]) -> tuple[Plugin, Callable[[], None] | None]:
    """The plugin's instance, and what to call before the host exits (an older bot's ``stop``)."""
    roots = [Path(p) for p in init["roots"]]
    if init.get("api") == "legacy":
        from plugins.legacy.adapter import legacy_load

        legacy = legacy_load(plugin=name, entrypoint=str(init["entrypoint"]), root=roots[0])
        return legacy, legacy.stop
    cls = plugin_class_load(entrypoint=str(init["entrypoint"]), roots=roots, confined=True)
    return cls(), None


def _guard(parent: int) -> None:
    # Die with the worker (no orphan left hanging) and keep other plugins' hosts, which may
    # run as the same user, out of this one's memory and /proc entries.
    parent_death_kill()
    process_protect()
    child_subreaper()
    if parent and os.getppid() != parent:
        os._exit(0)  # the worker died before the guard was set


def _site_enter() -> None:
    """Add the environment's site-packages, as ``site`` does at a normal start; its .pth
    files run now, as the plugin's uid, in the host's cgroup."""
    import site

    site.main()


def main(joining: Joining | None = None, *, site: bool = False) -> None:
    """Serve the worker until it says exit or goes away; ``joining`` must finish (the host
    is in its cgroups) before the plugin's code is loaded. ``site``: the host started
    without ``site`` (``-S``) and adds it then."""
    channel = Channel()
    sys.meta_path.insert(0, _BlockPlatform())
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    init = channel.read()
    _guard(int(init.get("parent", os.getppid())))
    _limit(resource.RLIMIT_AS, int(init["memory_mb"]) * 1024 * 1024)
    try:
        if joining is not None:
            joining.wait()
        if site:
            _site_enter()
        host = Host(channel, init)
        channel.write({"op": "ready", "commands": plugin_describe(instance=host.instance, prefix=host.prefix)})
    except (PluginLoadError, MemoryError, EnterError) as exc:
        channel.write({"op": "load_error", "error": str(exc) or type(exc).__name__})
        return
    # The plugin's constructor (or its command table) failed, or called sys.exit().
    except (Exception, SystemExit, KeyboardInterrupt) as exc:  # noqa: BLE001
        channel.write({"op": "load_error", "error": f"the plugin did not start: {type(exc).__name__}: {exc}"})
        return
    while True:
        try:
            message = channel.read()
        except Exception:  # noqa: BLE001 - the worker went away: nothing left to serve
            return
        if message["op"] == "exit":
            if host.unload is not None:
                host.unload()
            return
        outcome = host.handle(message)
        with channel.lock:  # a platform call from a thread the run left goes first, or not at all
            host.running = 0
            channel.write(outcome.to_wire())
        if outcome.status == MEMORY:
            return  # the heap may be in any state: the next invocation gets a fresh host
        if _worn():
            return
