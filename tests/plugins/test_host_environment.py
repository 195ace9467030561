"""The plugin host's environment carries no secret (pure, no Django)."""

from __future__ import annotations

from pathlib import Path

import pytest

from plugins.sandbox.host import host_environment

WORKER_ENV = {
    "PATH": "/usr/bin",
    "LANG": "en_US.UTF-8",
    "SECRET_KEY": "s",
    "DATABASE_URL": "postgres://u:p@h/db",
    "BRIDGE_TOKEN": "t",
    "SESSION_MNEMONIC": "words",
    "REDIS_URL": "redis://h",
    "AWS_SECRET_ACCESS_KEY": "a",
    "GITHUB_TOKEN": "g",
    "PGPASSWORD": "p",
    "DJANGO_SETTINGS_MODULE": "sessionbot.settings",
    "HOME": "/root",
}


@pytest.mark.parametrize("name", [k for k in WORKER_ENV if k not in ("PATH", "LANG", "HOME")])
def test_it_drops_everything_but_the_basics(name) -> None:
    assert name not in host_environment(WORKER_ENV, data_dir=Path("/data/plugin-data/x"))


def test_home_and_tmp_are_the_plugins_own_folder() -> None:
    env = host_environment(WORKER_ENV, data_dir=Path("/data/plugin-data/x"))
    assert (env["HOME"], env["TMPDIR"], env["PATH"]) == ("/data/plugin-data/x", "/data/plugin-data/x/tmp", "/usr/bin")
