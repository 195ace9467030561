"""The systemd notify protocol: the rules as tables, the client on a real unix datagram socket,
and ``runbroker`` under a stand-in service manager (a socket this test reads)."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator

import psutil
import pytest

from broker.sdnotify import Notifier, notify_address, notify_message, watchdog_interval
from broker.selfprobe import readyz_failing
from tests.broker.servers import free_port
from tests.conftest import ROOT, process_stop, worker_env


@pytest.mark.parametrize(
    ("value", "address"),
    [
        ("/run/systemd/notify", "/run/systemd/notify"),
        ("@sessionbot/notify", "\0sessionbot/notify"),
        ("", None),
        ("vsock:2:1234", None),
        ("relative/path", None),
    ],
)
def test_the_notify_address_is_a_path_or_an_abstract_name(value, address) -> None:
    assert notify_address(value) == address


@pytest.mark.parametrize(
    ("environ", "pid", "interval"),
    [
        ({}, 10, None),
        ({"WATCHDOG_USEC": "0"}, 10, None),
        ({"WATCHDOG_USEC": "soon"}, 10, None),
        ({"WATCHDOG_USEC": "30000000"}, 10, 15.0),
        ({"WATCHDOG_USEC": "1000000", "WATCHDOG_PID": "10"}, 10, 0.5),
        ({"WATCHDOG_USEC": "1000000", "WATCHDOG_PID": "11"}, 10, None),  # meant for another process
        ({"WATCHDOG_USEC": "1000000", "WATCHDOG_PID": "x"}, 10, None),
    ],
)
def test_the_watchdog_is_fed_at_half_its_timeout_by_its_own_process_only(environ, pid, interval) -> None:
    assert watchdog_interval(environ, pid=pid) == interval


def test_a_message_is_one_assignment_per_line_and_a_value_cannot_add_one() -> None:
    assert notify_message({"READY": "1", "STATUS": "serving"}) == b"READY=1\nSTATUS=serving"
    assert notify_message({"STATUS": "a\nWATCHDOG=1"}) == b"STATUS=a WATCHDOG=1"


@pytest.mark.parametrize(
    ("body", "failing"),
    [
        (
            b'{"checks": {"worker": {"ok": false}, "database": {"ok": true}, "bridges": {"ok": false}}}',
            ["bridges", "worker"],
        ),
        (b'{"ready": true, "checks": {"database": {"ok": true}}}', []),
        (b"<html>", ["(unreadable answer)"]),
    ],
)
def test_the_status_names_the_failing_checks(body, failing) -> None:
    assert readyz_failing(body) == failing


@pytest.fixture(params=["path", "abstract"])
def manager(request, tmp_path) -> Iterator[tuple[str, socket.socket]]:
    """A unix datagram socket standing in for systemd's, and the NOTIFY_SOCKET that names it."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    if request.param == "path":
        name = str(tmp_path / "notify")
        sock.bind(name)
    else:
        name = f"@sessionbot-test-{uuid.uuid4().hex}"
        sock.bind("\0" + name[1:])
    sock.settimeout(0.2)
    try:
        yield name, sock
    finally:
        sock.close()


def received(sock: socket.socket, *, until: float) -> list[str]:
    got = []
    while time.monotonic() < until:
        try:
            got.append(sock.recv(4096).decode())
        except TimeoutError:
            continue
    return got


def test_the_client_sends_one_datagram_to_the_socket(manager) -> None:
    name, sock = manager
    notifier = Notifier.from_environ({"NOTIFY_SOCKET": name})
    assert notifier.notify(READY="1", STATUS="serving on port 8000")
    assert sock.recv(4096) == b"READY=1\nSTATUS=serving on port 8000"


def test_without_a_socket_the_client_does_nothing_and_a_gone_socket_is_survived(tmp_path) -> None:
    assert not Notifier.from_environ({}).notify(READY="1")
    assert not Notifier(str(tmp_path / "gone")).notify(READY="1")


class Manager:
    """Reads what a runbroker under it sends, as systemd would."""

    def __init__(self, name: str, sock: socket.socket) -> None:
        self.name, self.sock = name, sock
        self.messages: list[str] = []

    def collect(self, seconds: float) -> list[str]:
        self.messages += received(self.sock, until=time.monotonic() + seconds)
        return self.messages

    def wait_for(self, line: str, timeout: float = 60) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(line in message.splitlines() for message in self.messages):
                return True
            self.collect(0.3)
        return False


def runbroker_under(manager: Manager, *args: str) -> subprocess.Popen[str]:
    env = {**worker_env(), "NOTIFY_SOCKET": manager.name, "WATCHDOG_USEC": "1000000"}
    argv = [sys.executable, "manage.py", "runbroker", "--no-bridge", "--host", "127.0.0.1", "--port", str(free_port())]
    return subprocess.Popen(
        [*argv, *args], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


@pytest.mark.slow
def test_runbroker_says_ready_feeds_the_watchdog_and_says_stopping(manager, transactional_db) -> None:
    box = Manager(*manager)
    proc = runbroker_under(box, "--workers", "1")
    try:
        assert box.wait_for("READY=1"), proc.stdout.read() if proc.poll() is not None and proc.stdout else ""
        ready = next(m for m in box.messages if "READY=1" in m.splitlines())
        assert "STATUS=serving on port" in ready
        box.collect(2.5)  # WATCHDOG_USEC=1 s: a ping every half second
        assert sum(m.splitlines().count("WATCHDOG=1") for m in box.messages) >= 3
        # Its worker gets no NOTIFY_SOCKET: only runbroker itself speaks to the manager.
        (worker,) = psutil.Process(proc.pid).children()
        assert "celery" in " ".join(worker.cmdline())
        assert "NOTIFY_SOCKET" not in worker.environ()
        assert "WATCHDOG_USEC" not in worker.environ()
        proc.send_signal(signal.SIGTERM)
        assert box.wait_for("STOPPING=1", timeout=40)
        assert proc.wait(timeout=40) == 0
    finally:
        process_stop(proc, timeout=40)


@pytest.mark.slow
def test_with_watchdog_readyz_a_bot_without_bridge_or_worker_starves_the_watchdog(manager, transactional_db) -> None:
    from tests.thebot import the_bot

    the_bot()  # enabled, and nothing serves it
    box = Manager(*manager)
    proc = runbroker_under(box, "--no-worker", "--watchdog-readyz")
    try:
        assert box.wait_for("READY=1")
        box.collect(2.5)
        statuses = [line for m in box.messages for line in m.splitlines() if line.startswith("STATUS=")]
        assert any(s.endswith("not ready: bridges, worker") for s in statuses), statuses
        assert not any("WATCHDOG=1" in m.splitlines() for m in box.messages)
    finally:
        process_stop(proc, timeout=40)
