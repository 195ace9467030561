"""A pytest plugin for plugin authors: the ``plugin_runner`` fixture.

Enable it with ``-p plugins.testing`` (this project does, in pyproject.toml) or
``pytest_plugins = ["plugins.testing"]`` in your conftest.py. Then, in three lines::

    def test_weather(plugin_runner):
        assert plugin_runner("weather", "/weather Paris").text == "Paris: sunny, 21 °C"

The first argument is a plugin name from the nearest ``plugins.yaml`` (next to the test
or above it, else ``data/plugins.yaml``), an entrypoint ``module:Class`` or the class.
The command runs like in the bot: arguments parsed from the text (plain text without the
``/`` goes to the plugin's ``on_text``, as the default handler), a PluginError becomes
the reply, bad arguments give the usage line. A bug in the plugin fails the test with
its traceback. ``isolated=True`` runs the plugin in a real plugin host process, with its
limits. No database is needed.

Messages a command sends before its answer (``ctx.send``) are in ``plugin_runner.sent``,
in order, for the last command run.

``plugin_runner.describe("weather")`` returns what the bot learns from the code, by
command: ``summary``, ``help`` (the docstring), ``usage``, ``args`` and the catalog's
translations in ``docs``; a malformed catalog fails there, as it would stop the import.
"""

from __future__ import annotations

import base64
import inspect
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from plugins.api import Attachment, Context, Platform, Plugin, Reply, Storage
from plugins.commandline import command_parse
from plugins.loader import plugin_class_load
from plugins.sandbox import runner
from plugins.sandbox.host import Host, HostSpec, Limits
from plugins.sandbox.protocol import attachment_to_wire

PROJECT = Path(__file__).resolve().parent.parent
DEFAULT_ROOTS = (PROJECT / "plugins" / "builtin", PROJECT / "examples")
USER = "05" + "0" * 64
TEST_LIMITS = Limits(timeout_seconds=10, memory_mb=512, cpu_seconds=10)


class PluginFailure(AssertionError):
    """The plugin raised an unexpected exception (or timed out, or crashed)."""


def _find_entry(name: str, start: Path) -> tuple[str, dict[str, Any], list[Path]]:
    candidates = [d / "plugins.yaml" for d in (start, *start.parents)] + [PROJECT / "data" / "plugins.yaml"]
    for path in candidates:
        if not path.is_file():
            continue
        for entry in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("plugins", []):
            if entry.get("name") == name:
                return entry["entrypoint"], dict(entry.get("config") or {}), [path.parent, path.parent.parent]
    raise LookupError(f"no plugin named {name!r} in a plugins.yaml next to the test or in data/plugins.yaml")


def command_split(text: str, prefix: str = "/") -> tuple[str, str]:
    """What the bot's router makes of ``text``: ``/Weather  New York`` → (``weather``,
    ``New York``), the name in lower case and the arguments after the whitespace.

    Plain text (or ``/`` not followed by a command name) → (``""``, the whole text): what
    the default handler's ``on_text`` receives in the bot.
    """
    parsed = command_parse(text, prefix=prefix)
    return ("", text) if parsed is None else (parsed.name, parsed.arguments)


class PluginRunner:
    """Call it like the fixture: ``runner(plugin, text, **context)`` returns the Reply."""

    def __init__(self, data_dir: Path, start: Path) -> None:
        self.data_dir = data_dir
        self.start = start
        self.last: runner.Outcome | None = None
        self.sent: list[Reply] = []  # what the last command sent before its answer (ctx.send)
        self._hosts: list[Host] = []

    def _resolve(self, plugin: str | type[Plugin]) -> tuple[type[Plugin], str, dict[str, Any], list[Path]]:
        if isinstance(plugin, type):
            return plugin, f"{plugin.__module__}:{plugin.__qualname__}", {}, list(DEFAULT_ROOTS)
        config: dict[str, Any] = {}
        if ":" in plugin:
            entrypoint, roots = plugin, list(DEFAULT_ROOTS)
        else:
            entrypoint, config, roots = _find_entry(plugin, self.start)
            roots += list(DEFAULT_ROOTS)
        return plugin_class_load(entrypoint=entrypoint, roots=roots), entrypoint, config, roots

    def __call__(
        self,
        plugin: str | type[Plugin],
        text: str,
        *,
        user_id: str = USER,
        language: str = "en",
        config: dict[str, Any] | None = None,
        is_admin: bool = False,
        groups: tuple[str, ...] = (),
        attachments: tuple[Attachment, ...] = (),
        platform: Callable[[str, dict[str, Any]], Any] | None = None,
        isolated: bool = False,
        limits: Limits = TEST_LIMITS,
    ) -> Reply:
        cls, entrypoint, default_config, roots = self._resolve(plugin)
        command, arguments = command_split(text)
        self.sent = []
        platform = self._recording(platform)
        raw: dict[str, Any] = {
            "user_id": user_id,
            "conversation": user_id,
            "conversation_type": "private",
            "language": language,
            "command": command,
            "config": {**default_config, **(config or {})},
            "is_admin": is_admin,
            "groups": list(groups),
            "attachments": [attachment_to_wire(a) for a in attachments],
        }
        if isolated:
            outcome = self._isolated(entrypoint, roots, raw, arguments, platform, limits)
        else:
            ctx = Context(
                **{k: v for k, v in raw.items() if k not in ("groups", "attachments")},
                plugin=cls.__name__.lower(),
                groups=groups,
                attachments=attachments,
                storage=Storage(self.data_dir / "storage.sqlite3"),
                logger=logging.getLogger(f"plugins.{cls.__name__.lower()}"),
                platform=Platform(platform),
            )
            outcome = runner.command_run(instance=cls(), command=command, arguments=arguments, ctx=ctx)
        self.last = outcome
        return self._reply(outcome)

    def describe(self, plugin: str | type[Plugin]) -> dict[str, dict[str, Any]]:
        """The commands of ``plugin`` as the import records them, by name (see the module doc)."""
        cls = self._resolve(plugin)[0]
        return {item["name"]: item for item in runner.plugin_describe(instance=cls())}

    def _isolated(
        self, entrypoint: str, roots: list[Path], raw: dict[str, Any], arguments: str, platform: Any, limits: Limits
    ) -> runner.Outcome:
        name = entrypoint.split(":")[0]
        spec = HostSpec(name, entrypoint, tuple(map(str, roots)), self.data_dir, limits)
        host = Host(spec)
        self._hosts.append(host)
        message = {"op": "run", "command": raw["command"], "arguments": arguments, "ctx": raw}
        return host.request(message, on_call=platform)

    def _recording(self, platform: Callable[[str, dict[str, Any]], Any] | None) -> Callable[[str, dict[str, Any]], Any]:
        """The platform calls as given, except ``send``, which this runner records."""
        fallback = platform or (lambda method, args: Platform()._call(method, args))

        def call(method: str, args: dict[str, Any]) -> Any:
            if method != "send":
                return fallback(method, args)
            files = tuple(
                Attachment(a["name"], a["content_type"], base64.b64decode(a["data"])) for a in args["attachments"]
            )
            self.sent.append(Reply(args["text"], files))
            return None

        return call

    @staticmethod
    def _reply(outcome: runner.Outcome) -> Reply:
        if outcome.status in (runner.OK, runner.ERROR):
            return outcome.reply or Reply("")
        if outcome.status == runner.USAGE:
            return Reply(f"Usage: {outcome.usage}")
        raise PluginFailure(f"the plugin ended with {outcome.status}:\n{outcome.error}")

    def close(self) -> None:
        for host in self._hosts:
            host.close()


@pytest.fixture
def plugin_runner(tmp_path: Path, request: pytest.FixtureRequest) -> Any:
    """Run a plugin command as the bot would and return its Reply (see the module docstring)."""
    start = Path(inspect.getfile(request.module)).parent if request.module else Path.cwd()
    run = PluginRunner(tmp_path, start)
    yield run
    run.close()
