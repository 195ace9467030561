"""Small local distributions for the environment tests: built here, installed from a folder.

uv reads them with ``--no-index --find-links``; the one build tool (setuptools, for the
``setup.py`` projects) is fetched once per session by pip, as the machine's pip is set up.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import uv
from django.conf import settings

LIBRARY = "sbtestlib"  # not a name on the package index: nothing but the folder can serve it


def library_write(folder: Path, *, version: str) -> Path:
    """A tiny pyproject (setuptools) library whose module says its own version."""
    (folder / LIBRARY).mkdir(parents=True)
    (folder / LIBRARY / "__init__.py").write_text(f'VERSION = "{version}"\n')
    (folder / "pyproject.toml").write_text(
        textwrap.dedent(f"""\
            [build-system]
            requires = ["setuptools"]
            build-backend = "setuptools.build_meta"

            [project]
            name = "{LIBRARY}"
            version = "{version}"
            """)
    )
    return folder


def project_write(folder: Path, *, name: str, requires: list[str], code: str = "", setup_prelude: str = "") -> Path:
    """A plugin's project in the older bot's shape: a setup.py and a package."""
    (folder / name).mkdir(parents=True)
    (folder / name / "__init__.py").write_text(code or "MARK = 'plugin code'\n")
    (folder / "setup.py").write_text(
        setup_prelude
        + "from setuptools import setup\n"
        + f"setup(name={name!r}, version='0.1', packages=[{name!r}], install_requires={requires!r})\n"
    )
    return folder


@pytest.fixture(scope="session")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A find-links folder: setuptools, and the library at 1.0 and 2.0 (wheels) and 3.0 (an
    sdist: installing it runs its build)."""
    house = tmp_path_factory.mktemp("wheelhouse")
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:", "-d", house, "setuptools"],
        check=True,
    )
    cache = tmp_path_factory.mktemp("build-cache")
    uv_build: list[str | Path] = [uv.find_uv_bin(), "build", "-q", "--no-index", "--find-links", house]
    uv_build += ["--cache-dir", cache]
    for version, kind in (("1.0", "--wheel"), ("2.0", "--wheel"), ("3.0", "--sdist")):
        source = library_write(tmp_path_factory.mktemp(f"lib-{version}"), version=version)
        subprocess.run([*uv_build, kind, "-o", house, source], check=True)
    house.chmod(0o755)  # the build uid reads them
    for wheel in house.iterdir():
        wheel.chmod(0o644)
    return house


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A data folder of its own: environments, the uv cache."""
    data = tmp_path / "data"
    data.mkdir()
    monkeypatch.setattr(settings, "DATA_DIR", data)
    return data
