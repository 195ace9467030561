"""One ``runbridge`` process serves every enabled bot, and follows the database without a restart.

Every process is real: ``manage.py sessiontestnet``, ``runbroker`` with its worker and its
bridge, and Session users. Disabling a bot, adding one and changing one's polling take effect
within seconds, in the same bridge process.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
import session_python.network as sp_network
from django.conf import settings

from bots.models import Bot
from bots.services import bot_add, bot_disable
from broker.management.commands.runbridge import BOTS_REREAD_SECONDS
from broker.models import BridgeStatus
from tests.bots.test_two_bots_end_to_end import Person
from tests.bridge.procs import Proc, proc_env, sessionnet_process
from tests.bridge.test_end_to_end import LONG, free_port, plugins_install
from tests.conftest import require_server, wait_for, worker_env

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(600),
    pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning"),
]

# A bot's change shows within the re-read interval plus a bridge's start and its hello.
TAKES_EFFECT = BOTS_REREAD_SECONDS + 7.0


class Deployment:
    def __init__(self, url: str, broker: Proc) -> None:
        self.url, self.broker = url, broker

    def bridges(self) -> list[psutil.Process]:
        found = []
        for child in psutil.Process(self.broker.popen.pid).children(recursive=True):
            try:
                if "runbridge" in child.cmdline():
                    found.append(child)
            except psutil.NoSuchProcess:
                continue
        return found


def connected(session_id: str) -> bool:
    return BridgeStatus.objects.filter(bot_id=session_id, connected=True).exists()


def answers(person: Person, bot_id: str, count: int, timeout: float = LONG) -> list[str]:
    wait_for(lambda: person.poll() >= 0 and len(person.received[bot_id]) >= count, timeout=timeout, interval=0.3)
    return person.received[bot_id]


@pytest.fixture
def deployment(tmp_path: Path, transactional_db: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Deployment]:
    if settings.REDIS_URL:
        require_server(settings.REDIS_URL, "Redis")
    monkeypatch.setattr(sp_network, "SEEDS", list(sp_network.SEEDS))
    plugins_install()  # ping and echo
    bot_add(name="help", words=None)
    bot_add(name="family", words=None)
    base = proc_env(tmp_path / "data")
    with sessionnet_process(base) as url:
        env = {
            **proc_env(tmp_path / "data", BRIDGE_TOKEN="fleet-bridge-token", SESSION_NETWORK_URL=url),
            **worker_env(),
        }
        env.update(DATA_DIR=str(tmp_path / "data"), SESSION_MNEMONIC="", PLUGIN_SECRETS_KEY=settings.PLUGIN_SECRETS_KEY)
        port = free_port()
        broker = Proc(["manage.py", "runbroker", "--host", "127.0.0.1", "--port", str(port), "--workers", "2"], env)
        try:
            yield Deployment(url, broker)
        finally:
            broker.stop()


def test_one_bridge_process_serves_each_bot_and_follows_disabling_and_adding(deployment) -> None:
    help_bot, family = Bot.objects.get(name="help"), Bot.objects.get(name="family")
    ada, bob = Person(deployment.url), Person(deployment.url)
    assert wait_for(lambda: connected(help_bot.session_id) and connected(family.session_id), timeout=LONG), (
        deployment.broker.output()
    )
    (bridge,) = deployment.bridges()
    ada.say(help_bot.session_id, "/ping")
    bob.say(family.session_id, "/echo bob's family bot")
    assert answers(ada, help_bot.session_id, 1) == ["pong"]
    assert answers(bob, family.session_id, 1) == ["bob's family bot"]

    bot_disable(name="family")
    assert wait_for(lambda: not connected(family.session_id), timeout=TAKES_EFFECT)
    third = bot_add(name="shop", words=None)
    assert wait_for(lambda: connected(third.session_id), timeout=TAKES_EFFECT), deployment.broker.output()

    bob.say(family.session_id, "/echo nobody reads this")
    ada.say(third.session_id, "/echo the new bot answers")
    assert answers(ada, third.session_id, 1) == ["the new bot answers"]
    ada.say(help_bot.session_id, "/echo help still answers")
    assert answers(ada, help_bot.session_id, 2) == ["pong", "help still answers"]
    time.sleep(3.0)  # the disabled bot's answer, were there one, would come within a few polls
    bob.poll()
    assert bob.received[family.session_id] == ["bob's family bot"]

    # A bot whose polling changes is served again with it: a new connection, same process.
    before = BridgeStatus.objects.get(bot_id=help_bot.session_id).connected_at
    help_bot.settings = {"polling": {"idle_interval_seconds": 0.5}}
    help_bot.save()

    def reconnected() -> bool:
        status = BridgeStatus.objects.get(bot_id=help_bot.session_id)
        return (
            status.connected and status.connected_at is not None and before is not None and status.connected_at > before
        )

    assert wait_for(reconnected, timeout=TAKES_EFFECT)
    ada.say(help_bot.session_id, "/echo help after its change")
    assert answers(ada, help_bot.session_id, 3)[2] == "help after its change"
    assert [p.pid for p in deployment.bridges()] == [bridge.pid]  # the same process throughout
