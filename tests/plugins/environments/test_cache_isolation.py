"""The shared uv cache against hostile package code that runs while an environment is built.

Building an sdist or a plugin's own project runs its code (``setup.py``, a build backend).
That code must neither change what the shared cache gives the builds of other plugins
nor read what other plugins' builds left there.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from plugins.environments.build import environment_build, requirements_lock
from plugins.environments.core import BuildError
from plugins.environments.store import Environment, uv_cache_dir
from tests.plugins.envhelpers import sdist_write
from tests.plugins.environments.conftest import LIBRARY, project_write

SECRET = "sb-private-source-7f3a"  # text only another plugin's own source holds


def _build(requirements: list[str], *, project: Path | None, houses: list[Path]) -> Environment:
    links = [str(house) for house in houses]
    pins = requirements_lock(
        requirements=requirements, project=project, index_url=None, find_links=links, progress=lambda *_: None
    )
    return environment_build(pins=pins, project=project, index_url=None, find_links=links, progress=lambda *_: None)


def _files(root: Path) -> dict[str, str]:
    """Every file and link under ``root``: its content digest or link target."""
    found = {}
    for path in root.rglob("*"):
        if path.is_symlink():
            found[str(path.relative_to(root))] = "link:" + os.readlink(path)
        elif path.is_file():
            found[str(path.relative_to(root))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def _house(wheelhouse: Path, folder: Path) -> Path:
    """A find-links folder of its own: the session's distributions, and what a test adds."""
    shutil.copytree(wheelhouse, folder)
    folder.chmod(0o755)
    return folder


@pytest.fixture
def house(wheelhouse: Path, tmp_path: Path) -> Path:
    return _house(wheelhouse, tmp_path / "house")


def _run(env: Environment, code: str) -> str:
    return subprocess.run([env.python, "-I", "-c", code], capture_output=True, text=True, check=True).stdout.strip()


def test_an_sdist_that_rewrites_the_cache_changes_nothing_another_plugin_installs(data_dir: Path, house: Path) -> None:
    _build([f"{LIBRARY}==1.0"], project=None, houses=[house])  # the genuine library, now in the cache
    cache = uv_cache_dir()
    poison = (
        "import pathlib\n"
        f"cache = pathlib.Path({str(cache)!r})\n"
        "for target, text in [(cache / 'planted.py', 'x'), *(\n"
        f"    (p, 'VERSION = \"poisoned\"\\n') for p in cache.rglob('__init__.py') if p.parent.name == {LIBRARY!r}\n"
        ")]:\n"
        "    try:\n"
        "        target.write_text(text)\n"
        "    except OSError:\n"
        "        pass\n"
    )
    sdist_write(house, name="sbpoison", version="1.0", files={"sbpoison/__init__.py": ""}, setup_prelude=poison)
    (house / "sbpoison-1.0.tar.gz").chmod(0o644)
    before = _files(cache)

    hostile = _build(["sbpoison==1.0"], project=None, houses=[house])
    after = _files(cache)
    other = _build([f"{LIBRARY}==1.0", "setuptools"], project=None, houses=[house])

    assert _run(hostile, "import sbpoison; print('built')") == "built"  # its build did run
    assert "planted.py" not in after
    assert {path: after.get(path) for path in before} == before
    assert _run(other, f"import {LIBRARY}; print({LIBRARY}.VERSION)") == "1.0"


def test_build_time_code_cannot_read_another_plugins_cached_source(data_dir: Path, house: Path, tmp_path: Path) -> None:
    sdist_write(house, name="sbprivate", version="1.0", files={"sbprivate/__init__.py": f"KEY = {SECRET!r}\n"})
    (house / "sbprivate-1.0.tar.gz").chmod(0o644)
    owner = _build(["sbprivate==1.0"], project=None, houses=[house])
    assert _run(owner, "import sbprivate; print(sbprivate.KEY)") == SECRET
    snoop = (
        "import os, pathlib\n"
        f"key = {SECRET[:8]!r} + {SECRET[8:]!r}\n"  # not the text itself, which this file would hold
        "seen = []\n"
        f"for root in ({str(data_dir)!r}, {str(uv_cache_dir())!r}):\n"
        "    for p in pathlib.Path(root).rglob('*'):\n"
        "        try:\n"
        "            if p.is_file() and key.encode() in p.read_bytes():\n"
        "                seen.append(str(p))\n"
        "        except OSError:\n"
        "            pass\n"
        "raise SystemExit(f'seen={seen}')\n"
    )
    project = project_write(tmp_path / "snoop", name="snoopplugin", requires=[], setup_prelude=snoop)

    with pytest.raises(BuildError) as caught:
        _build([], project=project, houses=[house])

    assert "seen=[]" in caught.value.message, caught.value.message
