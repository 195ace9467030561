"""The older bot's plugin contract, kept in a real plugin host: observers, replies, start and stop, data."""

from __future__ import annotations

import base64
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from plugins.api import Reply
from plugins.legacyinstall.tree import legacy_snapshot_take
from plugins.sandbox.host import Host, HostLoadError, HostSpec, Limits
from plugins.sandbox.runner import OK, Outcome
from tests.plugins.legacy.trees import older_plugin

LIMITS = Limits(timeout_seconds=10, memory_mb=512, cpu_seconds=10)
USER = "05" + "ab" * 32


class Started:
    """An older-bot plugin's tree pinned and loaded in a host, unconfined (the sandboxed run is
    the import's, in test_legacy_import)."""

    def __init__(self, tmp_path: Path, module: str, extra: dict[str, str] | None = None) -> None:
        tree = older_plugin(tmp_path / "src", "oldie", module=module, extra=extra)
        code = legacy_snapshot_take(plugin="oldie", module="oldie", tree=tree, store=tmp_path / "store")
        self.data = tmp_path / "data"
        self.data.mkdir(exist_ok=True)
        self.spec = HostSpec("oldie", "oldie:Plugin", (str(code.root),), self.data, LIMITS, api="legacy")
        self.host = Host(self.spec)
        self.sent: list[str] = []

    def run(self, command: str, text: str, attachments: list[dict[str, str]] | None = None) -> Outcome:
        ctx = {
            "user_id": USER,
            "conversation": USER,
            "conversation_type": "private",
            "language": "en",
            "command": command,
            "config": {},
            "is_admin": False,
            "groups": [],
            "attachments": attachments or [],
        }
        message = {"op": "run", "command": command, "arguments": text, "ctx": ctx}
        return self.host.request(message, on_call=self.platform)

    def platform(self, method: str, args: dict[str, Any]) -> Any:
        if method != "send":
            raise AssertionError(f"no platform call but send expected, got {method}")
        self.sent.append(args["text"])
        return None


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Any]:
    started: list[Started] = []

    def make(module: str, extra: dict[str, str] | None = None) -> Started:
        started.append(Started(tmp_path, textwrap.dedent(module), extra))
        return started[-1]

    yield make
    for one in started:
        one.host.close()


CHATTY = """
import asyncio

from interfaces import IObserver


class Count(IObserver):
    \"\"\"Count to three, the last one later.\"\"\"

    def __init__(self, observable):
        self.observable = observable

    async def later(self, to):
        await asyncio.sleep(0.2)
        await self.observable.notify("three", to, [])

    async def notify(self, msg, to, attachments):
        await self.observable.notify("one", to, [])
        self.observable.notify("two", to, [])  # not awaited: sent all the same
        asyncio.get_running_loop().create_task(self.later(to))

    def prefix(self):
        return "!count"


class Shout:
    def __init__(self, observable):
        self.observable = observable

    def notify(self, msg, to, attachments):  # a plain def works too
        self.observable.notify(msg.upper(), to, attachments)

    def prefix(self):
        return "?shout"


class Plugin:
    def __init__(self, observable):
        self.observable = observable

    async def start(self):
        self.observable.subscribe(Count(self.observable))
        self.observable.subscribe(Shout(self.observable))
"""


def test_every_notify_of_a_command_is_sent_in_order_even_from_a_task_it_started(start) -> None:
    host = start(CHATTY)
    assert [(c["prefix"], c["name"], c["usage"]) for c in host.host.commands] == [
        ("!", "count", "!count [text…]"),
        ("?", "shout", "?shout [text…]"),
    ]
    outcome = host.run("count", "")
    assert (outcome.status, outcome.reply and outcome.reply.text) == (OK, "three")
    assert host.sent == ["one", "two"]


def test_a_plain_def_observer_answers_and_attachments_travel_both_ways(start) -> None:
    host = start(CHATTY)
    photo = {"name": "a.png", "content_type": "image/png", "data": base64.b64encode(b"PNG").decode()}
    outcome = host.run("shout", "hey you", [photo])
    assert outcome.status == OK
    assert outcome.reply is not None
    assert outcome.reply.text == "HEY YOU"
    assert [(a.name, a.content_type, a.data) for a in outcome.reply.attachments] == [("a.png", "image/png", b"PNG")]


DIARY = """
import os

from interfaces import IObserver

HERE = os.path.dirname(os.path.abspath(__file__))


class Diary(IObserver):
    def __init__(self, observable):
        self.observable = observable
        self.folder = os.path.join(HERE, "data")
        os.makedirs(self.folder, exist_ok=True)

    async def notify(self, msg, to, attachments):
        with open(os.path.join(self.folder, "diary.txt"), "a") as f:
            f.write(msg + "\\n")
        with open(os.path.join(self.folder, "motto.txt")) as f:
            await self.observable.notify(f.read().strip(), to, [])

    def prefix(self):
        return "!diary"


class Plugin:
    def __init__(self, observable):
        self.observable = observable
        self.diary = Diary(observable)

    def start(self):
        self.observable.subscribe(self.diary)

    async def stop(self):
        with open(os.path.join(HERE, "data", "stopped.txt"), "w") as f:
            f.write("bye")
"""


def test_the_package_data_folder_is_the_plugins_own_and_stop_runs_on_exit(start) -> None:
    host = start(DIARY, {"oldie/data/motto.txt": "carpe diem\n"})
    (host.data / "data").mkdir(exist_ok=True)
    outcome = host.run("diary", "dear diary")
    assert (outcome.status, outcome.reply and outcome.reply.text) == (OK, "carpe diem")
    assert (host.data / "data" / "diary.txt").read_text() == "dear diary\n"
    (host.data / "data" / "motto.txt").write_text("mine now\n")
    host.host.close()
    assert (host.data / "data" / "stopped.txt").read_text() == "bye"
    again = Host(host.spec)  # a new host: the shipped motto does not overwrite the plugin's
    try:
        host.host = again
        assert host.run("diary", "more").reply == Reply("mine now")
    finally:
        again.close()


@pytest.mark.parametrize(
    ("module", "error"),
    [
        ("class Nothing: pass", "has no class Plugin"),
        ("raise RuntimeError('broken at import')", "RuntimeError: broken at import"),
        (
            "class O:\n    def prefix(self): return 'echo'\n"
            "class Plugin:\n    def __init__(self, o): o.subscribe(O())\n",
            "not a word such as '!echo'",
        ),
        (
            "class O:\n    def prefix(self): return '!x'\n"
            "class Plugin:\n    def __init__(self, o): self.o = o\n    def start(self): 1 / 0\n",
            "the plugin did not start: ZeroDivisionError",
        ),
    ],
)
def test_a_plugin_that_cannot_load_says_why(start, module, error) -> None:
    with pytest.raises(HostLoadError) as caught:
        start(module)
    assert error in str(caught.value)
