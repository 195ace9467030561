"""Bots served from one process do not wait for each other.

Real parts: ``manage.py sessiontestnet``, a real ``runbroker`` (no bundled bridge), the
fleet of two bots in this process, Session users. One bot's broker connection goes through
a TCP relay the test cuts: its link dies, and later hangs, while the other bot's messages
keep reaching the broker within its idle poll interval plus a second.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import session_python.network as sp_network
from django.conf import settings
from session_python import Session

from bots.services import bot_add, bot_key_export
from bridge.account import SessionAccount
from bridge.fleet import Fleet
from bridge.network import network_build
from bridge.receiver import PollTiming
from bridge.runtime import BridgeSettings
from broker.models import BridgeStatus, InboundMessage
from tests.bridge.procs import Proc, proc_env, sessionnet_process
from tests.bridge.test_end_to_end import LONG, free_port
from tests.conftest import require_server, wait_for, worker_env

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(300),
    pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning"),
]

TOKEN = "fleet-test-token"
TIMING = PollTiming(active_seconds=1.0, idle_seconds=1.0, active_window_seconds=60)
PROMPT = TIMING.idle_seconds + 1.0  # a message reaches the broker within its idle poll plus a second


class Relay:
    """A TCP relay to the broker that the test can cut (every connection dropped, and new ones
    accepted but never answered: a dead link) and heal."""

    def __init__(self, target: int) -> None:
        self.target, self.open = target, True
        self.pairs: list[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = []
        self.held: list[asyncio.StreamWriter] = []

    async def start(self) -> Relay:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return self

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.server.sockets[0].getsockname()[1]}/ws/bridge/"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self.open:
            self.held.append(writer)
            return
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target)
        self.pairs.append((writer, up_writer))
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer), return_exceptions=True)

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        finally:
            writer.close()

    def cut(self) -> None:
        self.open = False
        for down, up in self.pairs:
            down.transport.abort()
            up.transport.abort()
        self.pairs.clear()

    def heal(self) -> None:
        self.open = True
        for writer in self.held:
            writer.transport.abort()

    async def stop(self) -> None:
        self.cut()
        self.server.close()


def connected(bot_id: str) -> bool:
    return BridgeStatus.objects.filter(bot_id=bot_id, connected=True).exists()


async def delivery_seconds(user: SessionAccount, bot_id: str, text: str) -> float:
    """Send ``text`` to the bot; the seconds from its storage until the broker holds it."""
    sent = await asyncio.to_thread(user.send, to=bot_id, text=text)
    started = time.monotonic()
    arrived = await asyncio.to_thread(
        wait_for, lambda: InboundMessage.objects.filter(message_id=sent.hash).exists(), timeout=60, interval=0.02
    )
    assert arrived, text
    return time.monotonic() - started


@pytest.fixture
def broker(tmp_path: Path, transactional_db: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """The test network, a broker on it, and two bots ("cut" and "steady"): their words and IDs."""
    if settings.REDIS_URL:
        require_server(settings.REDIS_URL, "Redis")
    monkeypatch.setattr(sp_network, "SEEDS", list(sp_network.SEEDS))
    base = proc_env(tmp_path / "data")
    with sessionnet_process(base) as url:
        env = {**proc_env(tmp_path / "data", BRIDGE_TOKEN=TOKEN, SESSION_NETWORK_URL=url), **worker_env()}
        env.update(DATA_DIR=str(tmp_path / "data"), SESSION_MNEMONIC="")
        port = str(free_port())
        argv = ["manage.py", "runbroker", "--host", "127.0.0.1", "--port", port, "--no-bridge"]
        proc = Proc(argv, env)
        found = {"url": url, "port": port}
        for name in ("cut", "steady"):
            found[f"{name} id"] = bot_add(name=name, words=None).session_id
            found[f"{name} words"] = bot_key_export(name=name)
        try:
            yield found
        finally:
            proc.stop()


async def test_a_bot_whose_broker_link_dies_or_hangs_does_not_delay_the_other(broker, tmp_path) -> None:
    url, port = broker["url"], broker["port"]
    cut_id, steady_id = broker["cut id"], broker["steady id"]
    relay = await Relay(int(port)).start()
    direct = f"ws://127.0.0.1:{port}/ws/bridge/"

    def settings_of(name: str, broker_url: str) -> BridgeSettings:
        return BridgeSettings(
            broker_url=broker_url,
            token=TOKEN,
            mnemonic=broker[f"{name} words"],
            state_dir=tmp_path / "state" / name,
            network_url=url,
            timing=TIMING,
            typing=False,
            name=name,
        )

    wanted = {"cut": settings_of("cut", relay.url), "steady": settings_of("steady", direct)}
    fleet = Fleet()
    user = SessionAccount(mnemonic=Session.generate_mnemonic(), network=network_build(url))
    try:
        await fleet.apply(wanted)
        both = await asyncio.to_thread(wait_for, lambda: connected(cut_id) and connected(steady_id), timeout=LONG)
        assert both
        before = [await delivery_seconds(user, steady_id, f"before {i}") for i in range(2)]

        relay.cut()  # the cut bot's link dies, and every new attempt hangs
        during = [await delivery_seconds(user, steady_id, f"during {i}") for i in range(4)]
        assert await asyncio.to_thread(wait_for, lambda: not connected(cut_id), timeout=30)
        during += [await delivery_seconds(user, steady_id, f"after the close {i}") for i in range(2)]

        relay.heal()
        assert await delivery_seconds(user, cut_id, "the cut bot again") < LONG
    finally:
        await fleet.close()
        await relay.stop()
    assert max(before + during) < PROMPT, (before, during)
