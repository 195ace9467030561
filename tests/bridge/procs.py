"""Start the real processes (test network, bridge, chat) as subprocesses for end-to-end tests."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


class Proc:
    """A subprocess whose output lines are collected by a thread (so pipes never fill up)."""

    def __init__(self, args: list[str], env: dict[str, str], stdin: bool = False) -> None:
        self.lines: list[str] = []
        self.popen = subprocess.Popen(
            [sys.executable, *args],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.popen.stdout is not None
        for line in self.popen.stdout:
            self.lines.append(line.rstrip("\n"))

    def output(self) -> str:
        return "\n".join(self.lines)

    def kill(self) -> None:
        """SIGKILL: no cleanup at all, as a crash."""
        if self.popen.poll() is None:
            self.popen.kill()
        self.popen.wait(timeout=30)

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        self._reader.join(timeout=5)


def proc_env(data_dir: Path, **extra: str) -> dict[str, str]:
    data_dir.mkdir(parents=True, exist_ok=True)
    config = data_dir / "config.yaml"
    if not config.exists():
        config.write_text(
            "rate_limit: {messages: 1000, window_seconds: 10}\n"
            "polling: {active_interval_seconds: 0.1, idle_interval_seconds: 0.3, active_window_seconds: 60}\n"
        )
    env = dict(os.environ)
    env.update({"DATA_DIR": str(data_dir), "SESSIONBOT_CONFIG": str(config), "PYTHONPATH": str(ROOT)})
    env.update(extra)
    return env


@contextmanager
def sessionnet_process(env: dict[str, str]) -> Iterator[str]:
    """Run ``manage.py sessiontestnet --port 0`` and yield its URL."""
    proc = Proc(["manage.py", "sessiontestnet", "--port", "0"], env)
    try:
        from tests.conftest import wait_for

        assert wait_for(lambda: "listening on" in proc.output() or proc.popen.poll() is not None, timeout=60)
        match = re.search(r"listening on (http://\S+)", proc.output())
        assert match, proc.output()
        yield match.group(1)
    finally:
        proc.stop()
