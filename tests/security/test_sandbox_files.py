"""Issue 12, items 3 and 4: a plugin sees its own folder and nothing of the platform's.

Each plugin runs as a uid of its own (PLUGIN_UID_BASE + its id) and its host's mount
namespace holds only the system, the interpreter, the plugins package, its code and its
own data folder: another plugin's folder, ``data/`` with the secret key, ``.env``, the
SQLite database and the worker's ``/proc`` entries are not there to read.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from plugins.execution import pool_close
from plugins.models import Plugin
from tests.plugins.conftest import install
from tests.security.sandbox import ask_with, hostile, sandbox_required

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_plugin_cannot_read_or_write_another_plugins_folder_but_uses_its_own(plugin_roots) -> None:
    sandbox_required()
    alpha = hostile("alpha")
    shutil.rmtree(Path(settings.PLUGIN_DATA_DIR) / "beta", ignore_errors=True)
    install("beta", "fx_hostile:Neighbour", ["nmine"])
    beta = Plugin.objects.get(name="beta")
    assert ask_with("beta", "/nmine") == "1 beta"
    beta_dir = Path(settings.PLUGIN_DATA_DIR) / "beta"
    reply = ask_with(
        "alpha",
        "/files",
        read=[str(beta_dir / "storage.sqlite3"), str(beta_dir / "own.txt")],
        write=[str(beta_dir / "x")],
    )
    assert "ok:" not in reply, reply
    assert ask_with("alpha", "/mine") == "1 alpha"
    assert ask_with("alpha", "/mine") == "2 alpha"
    assert ask_with("beta", "/nmine") == "2 beta"
    assert not (beta_dir / "x").exists()
    owners = {(beta_dir / "storage.sqlite3").stat().st_uid, (Path(settings.PLUGIN_DATA_DIR) / "alpha").stat().st_uid}
    assert owners == {settings.PLUGIN_UID_BASE + beta.pk, settings.PLUGIN_UID_BASE + alpha.pk}
    pool_close()


def test_a_plugin_reads_no_secret_of_the_platform(plugin_roots) -> None:
    sandbox_required()
    hostile()
    env_file = Path(settings.BASE_DIR) / ".env"
    made = not env_file.exists()
    if made:
        env_file.write_text("SECRET_KEY=from-the-env-file\n")
    try:
        paths = [
            str(Path(settings.DATA_DIR) / "secret_key"),
            str(Path(settings.DATA_DIR) / "bridge_token"),
            str(env_file),
            str(Path(settings.BASE_DIR) / "pyproject.toml"),
            "/proc/1/environ",
            f"/proc/{os.getpid()}/environ",
        ]
        if connection.vendor == "sqlite":
            paths.append(str(connection.settings_dict["NAME"]))
        reply = ask_with("hostile", "/files", read=paths)
    finally:
        if made:
            env_file.unlink()
    assert reply.count("\n") == len(paths) - 1
    assert "ok:" not in reply, reply
    pool_close()
