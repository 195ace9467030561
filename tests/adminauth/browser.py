"""Headless Chromium driven over the DevTools protocol: enough to fill and post a form."""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from websockets.sync.client import ClientConnection, connect

from tests.conftest import process_stop, services_required

_DEVTOOLS = re.compile(r"DevTools listening on (ws://\S+)")


def chromium_or_skip() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        message = "Chromium is not installed (apt-get install chromium); set it up or unset REQUIRE_SERVICES"
        if services_required():
            pytest.fail(message)
        pytest.skip(message)
    return path


class Page:
    def __init__(self, ws: ClientConnection) -> None:
        self._ws = ws
        self._ids = itertools.count(1)
        self.events: list[dict[str, Any]] = []  # the protocol's events, kept until read

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        call_id = next(self._ids)
        self._ws.send(json.dumps({"id": call_id, "method": method, "params": params}))
        while True:
            reply = json.loads(self._ws.recv(timeout=30))
            if reply.get("id") == call_id:
                return reply
            if "method" in reply:
                self.events.append(reply)

    def js(self, expression: str) -> Any:
        reply = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        result = reply.get("result", {})
        if "exceptionDetails" in result or "error" in reply:
            raise RuntimeError(f"{expression}: {reply}")
        return result.get("result", {}).get("value")

    def wait(self, expression: str, timeout: float = 20) -> Any:
        """Poll ``expression`` until truthy, across page loads; return its value."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                value = self.js(expression)
            except RuntimeError:
                value = None  # the page is navigating
            if value:
                return value
            time.sleep(0.1)
        raise AssertionError(f"not true within {timeout} s: {expression}")

    def goto(self, url: str) -> None:
        self.call("Page.navigate", url=url)
        self.wait(f"location.href === {json.dumps(url)} && document.readyState === 'complete'")


@contextmanager
def chromium_page() -> Iterator[Page]:
    binary = chromium_or_skip()
    # ignore_cleanup_errors: a helper process Chromium forked may still flush its profile
    # files while the folder goes; the whole process group is killed first all the same.
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as profile:
        argv = [binary, "--headless", "--no-sandbox", "--disable-gpu", "--remote-debugging-port=0"]
        argv += ["--disable-background-networking", "--disable-component-update", "--disable-sync"]
        argv += [f"--user-data-dir={profile}", "--no-first-run", "about:blank"]
        proc = subprocess.Popen(
            argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True
        )
        try:
            assert proc.stderr is not None
            browser_url = ""
            deadline = time.monotonic() + 30
            while not browser_url and time.monotonic() < deadline:
                line = proc.stderr.readline()
                match = _DEVTOOLS.search(line)
                browser_url = match.group(1) if match else ""
            assert browser_url, "Chromium did not start its DevTools endpoint"
            with connect(browser_url, max_size=None) as browser:
                target = Page(browser).call("Target.createTarget", url="about:blank")["result"]["targetId"]
            page_url = browser_url.split("/devtools/")[0] + f"/devtools/page/{target}"
            with connect(page_url, max_size=None) as ws:
                page = Page(ws)
                page.call("Page.enable")
                yield page
        finally:
            process_stop(proc, timeout=10)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)  # its renderers and helpers too
