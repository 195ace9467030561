"""The real commands as processes: sessiontestnet, runbridge and chat, with a protocol peer."""

from __future__ import annotations

import asyncio

import pytest
from session_python import Session

from bridge.identity import session_id_of
from tests.bridge.peer import ProtocolPeer
from tests.bridge.procs import Proc, proc_env, sessionnet_process
from tests.conftest import worker_env

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")]


def _database_env() -> dict[str, str]:
    return {"DATABASE_URL": worker_env()["DATABASE_URL"]}


async def test_runbridge_and_chat_talk_through_the_test_network(tmp_path, transactional_db):
    peer = await ProtocolPeer(token="proc-token-0123456789").start()
    bot_words = Session.generate_mnemonic()
    bot_id = session_id_of(bot_words)
    base = proc_env(tmp_path / "data", BRIDGE_TOKEN="proc-token-0123456789", SESSION_MNEMONIC=bot_words)
    with sessionnet_process(base) as url:
        env = {**base, "SESSION_NETWORK_URL": url}
        # runbridge reads its bot from the database: the test's, as runbroker's children do.
        bridge = Proc(["manage.py", "runbridge", "--broker-url", peer.url], {**env, **_database_env()})
        chat = Proc(["manage.py", "chat", bot_id, "--linger", "90"], {**env, "SESSION_MNEMONIC": ""}, stdin=True)
        try:
            assert await peer.wait(lambda: peer.hellos, timeout=60), bridge.output()
            assert f"Bot Session ID: {bot_id}" in bridge.output()
            assert bot_words not in bridge.output()
            (tmp_path / "note.txt").write_text("file body")
            await asyncio.sleep(3)  # the chat primes its mailbox first
            assert chat.popen.stdin is not None
            chat.popen.stdin.write(f"/ping\n/file {tmp_path / 'note.txt'} here\n")
            chat.popen.stdin.close()
            assert await peer.wait(lambda: len(peer.messages) == 2, timeout=60), bridge.output()
            ping, upload = peer.messages
            assert upload.attachments is not None
            assert ping.text == "/ping"
            assert (upload.text, upload.attachments[0].name, upload.attachments[0].size) == ("here", "note.txt", 9)
            await peer.send(ref="r1", to=ping.sender, text="pong")
            assert await peer.wait(lambda: peer.sent, timeout=60)
            assert await peer.wait(lambda: "bot> pong" in chat.output(), timeout=60), chat.output()
            await asyncio.sleep(1.5)  # a second copy would show up within a few polls
            assert chat.output().count("bot>") == 1
        finally:
            chat.stop()
            bridge.stop()
            await peer.stop()


def test_runbridge_on_a_database_never_migrated_says_to_migrate(tmp_path):
    env = proc_env(tmp_path / "data", BRIDGE_TOKEN="proc-token-0123456789")
    env.pop("DATABASE_URL", None)  # the fresh data folder's own SQLite file
    bridge = Proc(["manage.py", "runbridge", "--no-qr", "--broker-url", "ws://127.0.0.1:9/ws/bridge/"], env)
    assert bridge.popen.wait(timeout=60) != 0
    bridge.stop()
    assert "manage.py migrate" in bridge.output()
