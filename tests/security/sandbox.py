"""Helpers for the plugin sandbox tests: what the machine must offer, hostile plugins,
and the processes they leave behind."""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from plugins.models import Plugin
from plugins.sandbox.cgroups import cgroups_available
from tests.conftest import services_required
from tests.plugins.conftest import ask, install, user

HOSTILE = "fx_hostile:Hostile"
COMMANDS = ["bigalloc", "spin", "forkbomb", "escape", "files", "mine", "net"]


def sandbox_required(*, cgroups: bool = False, nft: bool = False) -> None:
    """Skip (in CI, with REQUIRE_SERVICES=1: fail) unless this machine can build the sandbox."""
    missing = []
    if os.geteuid() != 0:
        missing.append("root (the sandbox is built by a root worker)")
    if shutil.which(getattr(settings, "PLUGIN_BWRAP", "bwrap")) is None:
        missing.append("bubblewrap (apt-get install bubblewrap)")
    if cgroups and cgroups_available():
        missing.append(f"cgroups ({cgroups_available()})")
    if nft and shutil.which(getattr(settings, "PLUGIN_NFT", "nft")) is None:
        missing.append("nftables (apt-get install nftables)")
    if missing:
        message = "the plugin sandbox needs " + ", ".join(missing)
        if services_required():
            pytest.fail(message)
        pytest.skip(message)


def hostile(name: str = "hostile", **fields: Any) -> Plugin:
    """Install the hostile fixture plugin as ``name`` (with the version's ``fields``)."""
    shutil.rmtree(Path(settings.PLUGIN_DATA_DIR) / name, ignore_errors=True)
    install(name, HOSTILE, COMMANDS, **fields)
    user()
    return Plugin.objects.get(name=name)


def ask_with(name: str, text: str, **config: Any) -> str:
    """Run ``text`` with the plugin's config set to ``config``; the reply (or its failure)."""
    Plugin.objects.filter(name=name).update(config=config)
    return ask(text)[0]


def new_marker() -> str:
    return f"0.{random.randrange(10**12, 10**13)}"


def marked(marker: str) -> list[int]:
    """The processes (pids as seen here) whose command line carries ``marker``."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and marker.encode() in (entry / "cmdline").read_bytes().split(b"\0"):
                state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
                if state != "Z":
                    found.append(int(entry.name))
        except OSError:
            continue
    return found


def marked_kill(marker: str) -> None:
    """Leave nothing behind in the test run, whatever the test found."""
    for pid in marked(marker):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
