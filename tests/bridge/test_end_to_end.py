"""Every process real: the local Session network, ``runbroker`` (worker and bridge), a Session user.

The user is a real session-python client talking HTTPS to ``manage.py sessiontestnet``; the
bot is ``runbroker`` with its Celery worker and ``runbridge`` as children. Fault tests kill
or cut one part and then check that every message was answered exactly once.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
import session_python.network as sp_network
from django.conf import settings
from django.core.management import get_commands
from session_python import Session

from bridge.account import OutFile, SessionAccount
from bridge.identity import session_id_of
from bridge.messages import Incoming
from bridge.network import network_build
from broker.models import InboundMessage
from plugins.models import Plugin, PluginCommand, PluginVersion
from tests.bridge.procs import Proc, proc_env, sessionnet_process
from tests.conftest import require_server, wait_for, worker_env

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(600),
    pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning"),
    pytest.mark.skipif("runbroker" not in get_commands(), reason="runbroker (broker issue) is not merged yet"),
]

TOKEN = "e2e-bridge-token"
LONG = 120.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def plugins_install() -> None:
    for name, entrypoint in (("ping", "sessionbot_builtin.ping:Ping"), ("echo", "sessionbot_builtin.echo:Echo")):
        plugin = Plugin.objects.create(name=name)
        version = PluginVersion.objects.create(
            plugin=plugin, version="1.0.0", entrypoint=entrypoint, isolation="inline"
        )
        PluginCommand.objects.create(version=version, name=name)
        plugin.active_version = version
        plugin.save()


class User:
    """A Session user: sends to the bot and collects every reply it ever receives."""

    def __init__(self, url: str, bot_id: str) -> None:
        self.account = SessionAccount(
            mnemonic=Session.generate_mnemonic(), network=network_build(url), display_name="u"
        )
        self.bot_id = bot_id
        self.cursor = ""
        self.replies: list[Incoming] = []
        self.seen: set[str] = set()

    def say(self, text: str, files: list[OutFile] | None = None) -> str:
        return self.account.send(to=self.bot_id, text=text, files=files or []).hash

    def poll(self) -> list[Incoming]:
        page = self.account.retrieve(last_hash=self.cursor)
        self.cursor = page.last_hash
        for msg in page.messages:
            # De-duplicate by hash as Session clients do: when the cursor's message expires
            # (a 20 s typing indicator), the storage server answers the whole mailbox again.
            if msg.hash in self.seen:
                continue
            self.seen.add(msg.hash)
            if isinstance(msg, Incoming) and msg.sender == self.bot_id and msg.kind == "data":
                self.replies.append(msg)
        return self.replies

    def texts(self) -> list[str]:
        return [r.text for r in self.replies]

    def wait_for_replies(self, count: int, timeout: float = LONG) -> list[str]:
        wait_for(lambda: len(self.poll()) >= count, timeout=timeout, interval=0.3)
        time.sleep(2.0)  # any duplicate would arrive within a few poll intervals
        self.poll()
        return self.texts()


class Stack:
    def __init__(self, tmp_path: Path, extra_env: dict[str, str]) -> None:
        self.words = Session.generate_mnemonic()
        self.bot_id = session_id_of(self.words)
        self.env = {**worker_env(), **extra_env}
        self.env = {**proc_env(tmp_path / "data", BRIDGE_TOKEN=TOKEN, SESSION_MNEMONIC=self.words), **self.env}
        self.env["DATA_DIR"] = str(tmp_path / "data")
        self.port = free_port()
        self.broker: Proc | None = None

    def start(self, *args: str) -> None:
        argv = ["manage.py", "runbroker", "--host", "127.0.0.1", "--port", str(self.port), "--workers", "2", *args]
        self.broker = Proc(argv, self.env)

    def children(self, needle: str) -> list[psutil.Process]:
        assert self.broker is not None
        found = []
        for child in psutil.Process(self.broker.popen.pid).children(recursive=True):
            try:
                if any(needle in part for part in child.cmdline()):
                    found.append(child)
            except psutil.NoSuchProcess:
                continue
        return found

    def stop(self) -> None:
        if self.broker is not None:
            self.broker.stop()


@pytest.fixture
def stack(tmp_path, transactional_db, monkeypatch) -> Iterator[tuple[Stack, User]]:
    if settings.REDIS_URL:
        require_server(settings.REDIS_URL, "Redis")
    monkeypatch.setattr(sp_network, "SEEDS", list(sp_network.SEEDS))
    plugins_install()
    base = proc_env(tmp_path / "data")
    with sessionnet_process(base) as url:
        s = Stack(tmp_path, {"SESSION_NETWORK_URL": url})
        s.start()
        user = User(url, s.bot_id)
        try:
            assert wait_for(lambda: bool(s.children("runbridge")), timeout=LONG)
            yield s, user
        finally:
            s.stop()


def test_ping_help_a_long_echo_and_a_file_are_each_answered_once_in_order(stack) -> None:
    s, user = stack
    user.say("/ping")
    assert user.wait_for_replies(1) == ["pong"], s.broker.output() if s.broker else ""
    user.say("/help")
    assert len(user.wait_for_replies(2)) == 2
    text = " ".join(f"word{i:04d}" for i in range(700))[:5000]
    user.say(f"/echo {text}")
    replies = user.wait_for_replies(5)
    assert len(replies) == 5
    assert all(len(part) <= 2000 for part in replies[2:])
    assert "".join(replies[2:]) == text
    photo = os.urandom(300_000)
    file_hash = user.say("/echo got your file", files=[OutFile("photo.jpg", "image/jpeg", photo)])
    assert user.wait_for_replies(6)[5:] == ["got your file"]
    stored = InboundMessage.objects.get(message_id=file_hash)
    assert stored.attachments[0]["size"] == len(photo)


def test_killing_the_bridge_between_poll_and_ack_loses_and_doubles_nothing(stack) -> None:
    s, user = stack
    user.say("/ping")
    assert user.wait_for_replies(1) == ["pong"]
    assert s.broker is not None
    broker = psutil.Process(s.broker.popen.pid)
    broker.suspend()  # the ASGI server stops reading: the bridge polls and forwards, no ack comes
    try:
        user.say("/echo one")
        time.sleep(3)  # several poll intervals: the bridge has fetched and forwarded it
        for bridge in s.children("runbridge"):
            bridge.kill()
    finally:
        broker.resume()
    user.say("/echo two")
    assert user.wait_for_replies(3) == ["pong", "one", "two"]


def test_killing_the_worker_during_an_invocation_still_answers_once(stack) -> None:
    s, user = stack
    user.say("/ping")
    assert user.wait_for_replies(1) == ["pong"]
    workers = s.children("celery")
    for worker in workers:
        worker.suspend()
    user.say("/echo survived")
    assert wait_for(lambda: InboundMessage.objects.filter(text="/echo survived").exists(), timeout=LONG)
    time.sleep(1)
    for worker in workers:
        worker.kill()
    assert user.wait_for_replies(2, timeout=2 * LONG) == ["pong", "survived"]


class CuttingProxy:
    """A TCP proxy between bridge and broker whose connections a test can cut at will."""

    def __init__(self, target_port: int) -> None:
        self.target = target_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.conns: list[socket.socket] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target))
            except OSError:  # the broker is not up yet: the bridge will retry
                client.close()
                continue
            with self.lock:
                self.conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        for sock in (src, dst):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        with self.lock:
            conns, self.conns = self.conns, []
        for sock in conns:
            try:
                sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            except OSError:
                pass


def test_dropping_the_broker_link_while_sends_are_pending_answers_each_part_once(tmp_path, transactional_db) -> None:
    plugins_install()
    base = proc_env(tmp_path / "data")
    with sessionnet_process(base) as url:
        s = Stack(tmp_path, {"SESSION_NETWORK_URL": url})
        s.start("--no-bridge")
        proxy = CuttingProxy(s.port)
        bridge = Proc(
            ["manage.py", "runbridge", "--no-qr", "--broker-url", f"ws://127.0.0.1:{proxy.port}/ws/bridge/"], s.env
        )
        user = User(url, s.bot_id)
        try:
            user.say("/ping")
            assert user.wait_for_replies(1) == ["pong"], bridge.output()
            text = "".join(chr(0x41 + i % 26) for i in range(5000))
            user.say(f"/echo {text}")
            for _ in range(6):  # cut the link again and again while the three parts are under way
                time.sleep(0.4)
                proxy.cut()
            replies = user.wait_for_replies(4)
            assert replies[0] == "pong"
            assert "".join(replies[1:]) == text
            assert len(replies) == 4
        finally:
            bridge.stop()
            s.stop()


class PrivateRedis:
    """A redis-server of this test's own (restarting the shared one would hit other suites)."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.dir = workdir
        self.dir.mkdir(parents=True, exist_ok=True)
        self.proc: Proc | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        import subprocess

        self.popen = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.dir),
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--save",
                "",
            ],
            stdout=subprocess.DEVNULL,
        )

        def up() -> bool:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return True
            except OSError:
                return False

        assert wait_for(up, timeout=30)

    def stop(self) -> None:
        self.popen.send_signal(signal.SIGTERM)
        self.popen.wait(timeout=30)


@pytest.mark.skipif(not settings.REDIS_URL, reason="runs when the suite runs on Redis (REDIS_URL)")
def test_restarting_redis_loses_and_doubles_nothing(tmp_path, transactional_db, monkeypatch) -> None:
    import shutil

    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed here")
    monkeypatch.setattr(sp_network, "SEEDS", list(sp_network.SEEDS))
    plugins_install()
    redis = PrivateRedis(tmp_path / "redis")
    redis.start()
    base = proc_env(tmp_path / "data")
    with sessionnet_process(base) as url:
        s = Stack(tmp_path, {"SESSION_NETWORK_URL": url, "REDIS_URL": redis.url, "CELERY_BROKER_URL": ""})
        s.start()
        user = User(url, s.bot_id)
        try:
            user.say("/ping")
            assert user.wait_for_replies(1, timeout=LONG) == ["pong"], s.broker.output() if s.broker else ""
            redis.stop()
            user.say("/echo while redis was down")
            time.sleep(3)
            redis.start()
            user.say("/echo after the restart")
            replies = user.wait_for_replies(3, timeout=2 * LONG)
            assert sorted(replies) == sorted(["pong", "while redis was down", "after the restart"]), (
                s.broker.output() if s.broker else ""
            )
            assert len(replies) == 3
        finally:
            s.stop()
            redis.stop()
