"""Several machines: a worker with a data folder of its own (machine B), on the database the
installing machine (A) wrote, sets each version up from what it records, or says why not.

Real git, real uv and real hosts (bubblewrap as root); local repositories and wheels only.
"""

from __future__ import annotations

import logging
import shutil
import time
import uuid
from pathlib import Path

import pytest

from plugins.environments.store import environment_find
from plugins.execution import pool_close
from plugins.install import plugin_install
from plugins.models import PluginArchive
from plugins.provision import provision_lock
from plugins.sandbox.snapshot import snapshot_find
from plugins.snapshots import code_store, version_digest
from tests.plugins.conftest import ask, user
from tests.plugins.legacy.test_legacy_import import _say
from tests.plugins.legacy.trees import git_repository, older_plugin
from tests.plugins.test_install_sources import library_repository, plugin_wheel, repository

pytestmark = pytest.mark.django_db


@pytest.fixture
def name() -> str:
    return f"p{uuid.uuid4().hex[:8]}"


@pytest.fixture
def machine_b(settings, tmp_path: Path, data_dir: Path):
    """Switch this process over to machine B: another data folder, the same database."""
    settings.PLUGIN_INDEX_URL = ""  # nothing from the network: the tests' own wheels only
    settings.PLUGIN_FIND_LINKS = []
    user()

    def switch() -> Path:
        pool_close()  # machine A's hosts and what this process knew of its disk
        other = tmp_path / "machine-b"
        other.mkdir()
        settings.DATA_DIR = other
        settings.PLUGIN_DATA_DIR = other / "plugin-data"
        return other

    yield switch
    pool_close()


def test_a_version_installed_on_another_machine_is_set_up_from_its_pins(tmp_path, name, machine_b) -> None:
    repo, _wheel = library_repository(tmp_path, name=name)
    version = plugin_install(source=repo.as_uri())
    assert ask(f"/{name}")[0] == "lib 1.5"

    machine_b()
    assert environment_find(version.environment) is None
    reply, inv = ask(f"/{name}")

    assert (reply, inv.status) == ("lib 1.5", "ok")
    assert environment_find(version.environment) is not None  # the same digest: the same pins
    assert snapshot_find(store=code_store(), plugin=name, digest=version_digest(version=version)) is not None
    assert ask(f"/{name}")[0] == "lib 1.5"


def test_an_older_bots_plugin_from_git_is_set_up_on_another_machine(tmp_path, machine_b) -> None:
    url = git_repository(older_plugin(tmp_path / "src"))
    plugin_install(source=url)
    assert _say("echo", "echo", "on machine A")[0] == "on machine A"

    machine_b()
    text, inv = _say("echo", "echo", "on machine B")

    assert (text, inv.status) == ("on machine B", "ok")


def test_a_version_whose_source_is_gone_is_unavailable_and_says_why(tmp_path, name, machine_b, caplog) -> None:
    repo = repository(tmp_path, name=name)
    plugin_install(source=repo.as_uri())
    shutil.rmtree(repo)

    machine_b()
    with caplog.at_level(logging.WARNING, logger="plugins.provision"):
        reply, inv = ask(f"/{name}")

    assert reply == (
        f"Sorry, /{name} is unavailable on this machine: its code cannot be fetched again from where it "
        "was installed. The bot's operator can see why."
    )
    assert inv.status == "failed"
    assert inv.error.startswith("clone: git clone failed")
    logged = [r.message for r in caplog.records if "cannot be set up on this machine" in r.message]
    assert len(logged) == 1
    assert f"{name} 1.0.0 cannot be set up on this machine: step clone: git clone failed" in logged[0]
    with caplog.at_level(logging.WARNING, logger="plugins.provision"):
        again, later = ask(f"/{name}")
    assert (again, later.error) == (reply, inv.error)  # the same answer, without a new try for a while
    assert len([r for r in caplog.records if "cannot be set up on this machine" in r.message]) == 1


def test_a_version_whose_pinned_library_is_gone_is_unavailable_and_says_why(tmp_path, name, machine_b) -> None:
    repo, library = library_repository(tmp_path, name=name)
    version = plugin_install(source=repo.as_uri())
    library.unlink()  # machine B's uv cache never saw it: nothing can install the pins

    machine_b()
    reply, inv = ask(f"/{name}")

    assert reply == (
        f"Sorry, /{name} is unavailable on this machine: the libraries it needs cannot be installed here. "
        "The bot's operator can see why."
    )
    assert inv.error.startswith("download: ")
    assert library.name in inv.error
    assert environment_find(version.environment) is None


def test_an_uploaded_wheel_is_set_up_on_another_machine_from_the_database(tmp_path, name, machine_b) -> None:
    uploads = tmp_path / "uploads"
    built = plugin_wheel(uploads, name=name, answer="from the database")
    version = plugin_install(source="", upload=built)
    built.unlink()  # as an install job removes its upload
    assert PluginArchive.objects.filter(sha256=version.resolved).exists()

    machine_b()
    reply, inv = ask(f"/{name}")

    assert (reply, inv.status) == ("from the database", "ok")
    assert environment_find(version.environment) is not None


def test_a_version_being_set_up_by_another_worker_answers_at_once(tmp_path, name, machine_b) -> None:
    repo = repository(tmp_path, name=name)
    version = plugin_install(source=repo.as_uri())

    machine_b()
    with provision_lock(version=version):  # another worker of machine B is building it
        started = time.monotonic()
        reply, inv = ask(f"/{name}")
        waited = time.monotonic() - started

    assert reply == f"Sorry, /{name} is being set up on this machine. Please try again in a moment."
    assert inv.status == "failed"
    assert waited < 2
    assert ask(f"/{name}")[0] == "hello"  # once the lock is free, this worker sets it up
