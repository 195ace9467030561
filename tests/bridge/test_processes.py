"""The real commands as processes: sessiontestnet, runbridge and chat, with a protocol peer."""

from __future__ import annotations

import asyncio

import pytest
from session_python import Session

from bridge.identity import session_id_of
from tests.bridge.peer import ProtocolPeer
from tests.bridge.procs import Proc, proc_env, sessionnet_process

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")]


async def test_runbridge_and_chat_talk_through_the_test_network(tmp_path):
    peer = await ProtocolPeer(token="proc-token-0123456789").start()
    bot_words = Session.generate_mnemonic()
    bot_id = session_id_of(bot_words)
    base = proc_env(tmp_path / "data", BRIDGE_TOKEN="proc-token-0123456789", SESSION_MNEMONIC=bot_words)
    with sessionnet_process(base) as url:
        env = {**base, "SESSION_NETWORK_URL": url}
        bridge = Proc(["manage.py", "runbridge", "--broker-url", peer.url], env)
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
