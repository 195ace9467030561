"""Environments on disk: removing those no version refers to, with the snapshots."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from plugins.environments.build import environment_build
from plugins.environments.store import environment_retire, environments_clean, environments_dir, wheel_find, wheel_keep
from plugins.models import Plugin, PluginVersion
from plugins.snapshots import snapshots_clean
from tests.plugins.environments.conftest import LIBRARY

DIGESTS = ("a" * 64, "b" * 64, "c" * 64)


def _made(digest: str, *, age: float) -> Path:
    path = environments_dir() / digest
    (path / "bin").mkdir(parents=True)
    (path / "pyvenv.cfg").write_text("")
    then = time.time() - age
    os.utime(path, (then, then))
    return path


def test_it_removes_the_environments_nothing_keeps_once_their_grace_is_over(data_dir: Path) -> None:
    kept, old, recent = _made(DIGESTS[0], age=3600), _made(DIGESTS[1], age=3600), _made(DIGESTS[2], age=10)
    abandoned = environments_dir() / ".build-x1"
    abandoned.mkdir()
    os.utime(abandoned, (time.time() - 3600,) * 2)

    removed = environments_clean(keep={DIGESTS[0]}, grace_seconds=600)

    assert sorted(removed) == sorted([old, abandoned])
    assert kept.exists()
    assert recent.exists()
    assert not old.exists()
    assert not abandoned.exists()


def test_a_retired_environment_gets_its_grace_period_again(data_dir: Path) -> None:
    path = _made(DIGESTS[0], age=3600)

    environment_retire(DIGESTS[0])

    assert environments_clean(keep=set(), grace_seconds=600) == []
    assert path.exists()


def test_it_cleans_nothing_where_no_environment_was_ever_built(data_dir: Path) -> None:
    assert environments_clean(keep=set(), grace_seconds=0) == []


@pytest.mark.django_db
def test_cleaning_the_snapshots_keeps_the_environments_a_version_refers_to(data_dir: Path, wheelhouse: Path) -> None:
    pins = f"{LIBRARY}==1.0 --hash=sha256:{_wheel_hash(wheelhouse)}\n"
    env = environment_build(pins=pins, project=None, index_url=None, find_links=[str(wheelhouse)], progress=print)
    unused = _made(DIGESTS[1], age=0)
    plugin = Plugin.objects.create(name="envplugin")
    PluginVersion.objects.create(plugin=plugin, version="1.0", entrypoint="x:X", pins=pins, environment=env.digest)

    removed = snapshots_clean(grace_seconds=0)

    assert unused in removed
    assert not unused.exists()
    assert env.path.exists()


def _wheel_hash(house: Path) -> str:
    import hashlib

    return hashlib.sha256(next(house.glob(f"{LIBRARY}-1.0-*.whl")).read_bytes()).hexdigest()


def test_a_kept_project_wheel_is_removed_once_no_build_took_it_for_the_grace_period(
    data_dir: Path, tmp_path: Path
) -> None:
    wheel = tmp_path / "plug-0.1-py3-none-any.whl"
    wheel.write_bytes(b"wheel")
    kept = wheel_keep(key=DIGESTS[0], wheel=wheel)
    assert wheel_find(DIGESTS[0]) == kept
    assert kept.read_bytes() == b"wheel"

    assert environments_clean(keep=set(), grace_seconds=600) == []
    os.utime(kept.parent, (time.time() - 3600,) * 2)
    assert environments_clean(keep=set(), grace_seconds=600) == [kept.parent]
    assert wheel_find(DIGESTS[0]) is None
