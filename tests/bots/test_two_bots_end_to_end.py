"""Two bots of one deployment on the local Session network, each with its plugins and prefix.

Every process is real: ``manage.py sessiontestnet``, ``runbroker`` with its worker and its
bridge (one process serving every enabled bot), and two Session users who each talk to
both bots. Every reply must come from the right bot, to the right user, exactly once.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest
import session_python.network as sp_network
from django.conf import settings
from session_python import Session

from bots.services import bot_add
from bridge.account import SessionAccount
from bridge.messages import Incoming
from bridge.network import network_build
from plugins.models import BotPlugin, Plugin
from tests.bridge.procs import Proc, proc_env, sessionnet_process
from tests.bridge.test_end_to_end import LONG, free_port, plugins_install
from tests.conftest import require_server, wait_for, worker_env

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(600),
    pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning"),
]


class Person:
    """A Session user who keeps every message received, by the bot that sent it."""

    def __init__(self, url: str) -> None:
        self.account = SessionAccount(
            mnemonic=Session.generate_mnemonic(), network=network_build(url), display_name="person"
        )
        self.cursor = ""
        self.seen: set[str] = set()
        self.received: dict[str, list[str]] = defaultdict(list)

    def say(self, to: str, text: str) -> None:
        self.account.send(to=to, text=text, files=[])

    def poll(self) -> int:
        page = self.account.retrieve(last_hash=self.cursor)
        self.cursor = page.last_hash
        for msg in page.messages:
            if msg.hash in self.seen:
                continue
            self.seen.add(msg.hash)
            # (the copies of what this person sent, which Session keeps in their own mailbox, are not received)
            if isinstance(msg, Incoming) and msg.kind == "data" and msg.sender != self.account.session_id:
                self.received[msg.sender].append(msg.text)
        return sum(len(texts) for texts in self.received.values())


@pytest.fixture
def deployment(tmp_path: Path, transactional_db: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    if settings.REDIS_URL:
        require_server(settings.REDIS_URL, "Redis")
    monkeypatch.setattr(sp_network, "SEEDS", list(sp_network.SEEDS))
    plugins_install()  # ping and echo
    helper = bot_add(name="help", words=None)
    family = bot_add(name="family", words=None)
    family.settings = {"command_prefix": "!"}
    family.save()
    BotPlugin.objects.create(bot=family, plugin=Plugin.objects.get(name="echo"))
    base = proc_env(tmp_path / "data")
    with sessionnet_process(base) as url:
        env = {
            **proc_env(tmp_path / "data", BRIDGE_TOKEN="two-bots-bridge-token", SESSION_NETWORK_URL=url),
            **worker_env(),
        }
        env.update(DATA_DIR=str(tmp_path / "data"), SESSION_MNEMONIC="", PLUGIN_SECRETS_KEY=settings.PLUGIN_SECRETS_KEY)
        port = free_port()
        broker = Proc(["manage.py", "runbroker", "--host", "127.0.0.1", "--port", str(port), "--workers", "2"], env)
        try:
            yield {"url": url, "help": helper.session_id, "family": family.session_id}
        finally:
            broker.stop()


def test_two_people_talking_to_two_bots_each_get_each_answer_from_the_right_bot_once(deployment) -> None:
    bots = {name: deployment[name] for name in ("help", "family")}
    ada, bob = Person(deployment["url"]), Person(deployment["url"])
    ada.say(bots["help"], "/ping")
    ada.say(bots["family"], "!echo from ada to family")
    ada.say(bots["family"], "!ping")  # the family bot does not offer ping
    bob.say(bots["help"], "/echo from bob to help")
    bob.say(bots["family"], "/echo not a command here")  # plain text: no handler, no answer
    bob.say(bots["family"], "!echo from bob to family")
    assert wait_for(lambda: ada.poll() >= 3 and bob.poll() >= 2, timeout=LONG, interval=0.3)
    time.sleep(3.0)  # a duplicate would arrive within a few poll intervals
    ada.poll()
    bob.poll()
    # The broker's own answer may overtake a plugin's: each bot's replies, in any order.
    assert {bot: sorted(texts) for bot, texts in ada.received.items()} == {
        bots["help"]: ["pong"],
        bots["family"]: ["Unknown command !ping. Send !help to see what I can do.", "from ada to family"],
    }
    assert dict(bob.received) == {bots["help"]: ["from bob to help"], bots["family"]: ["from bob to family"]}
