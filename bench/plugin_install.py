"""Benchmark installing a plugin into its own environment: ``python -m bench.plugin_install``.

The plugin is a local git repository (made here) whose ``setup.py`` requires one small
library, served as a wheel from a find-links folder; its build tool (setuptools) comes
from the package index (``--index``) or, with ``--no-index``, from the same folder. One
install is what ``plugins install`` does after it resolved the source: clone the
repository, lock its requirements, build its environment. Cold: an empty uv cache (a
fresh data folder). Warm: the cache of the earlier installs, the environment itself
removed first (as for a new version with the same requirements). Run as root, every uv
step is confined as in production (bubblewrap, the build uid, limits).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import django

TARGETS = {"cold": 10.0, "warm": 3.0}
LIBRARY = "sbbenchlib"


def _run(*argv: str | Path, cwd: Path | None = None) -> None:
    subprocess.run([str(a) for a in argv], cwd=cwd, check=True, capture_output=True)


def wheelhouse(root: Path, *, with_setuptools: bool) -> Path:
    """The find-links folder: the library's wheel (and setuptools for ``--no-index``)."""
    import uv

    house, source = root / "wheels", root / "lib"
    (source / LIBRARY).mkdir(parents=True)
    (source / LIBRARY / "__init__.py").write_text('VERSION = "1.0"\n')
    (source / "pyproject.toml").write_text(
        textwrap.dedent(f"""\
            [build-system]
            requires = ["setuptools"]
            build-backend = "setuptools.build_meta"

            [project]
            name = "{LIBRARY}"
            version = "1.0"
            """)
    )
    house.mkdir()
    _run(sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:", "-d", house, "setuptools")
    _run(uv.find_uv_bin(), "build", "-q", "--wheel", "--no-index", "--find-links", house, "-o", house, source)
    if not with_setuptools:
        for wheel in house.glob("setuptools-*"):
            wheel.unlink()
    house.chmod(0o755)
    for wheel in house.iterdir():
        wheel.chmod(0o644)
    return house


def repository(root: Path) -> Path:
    """A plugin in the older bot's shape, committed to a local git repository."""
    repo = root / "repo"
    (repo / "benchplugin").mkdir(parents=True)
    (repo / "benchplugin" / "__init__.py").write_text(f"import {LIBRARY}\n")
    (repo / "setup.py").write_text(
        "from setuptools import setup\n"
        f"setup(name='benchplugin', version='0.1', packages=['benchplugin'], install_requires=['{LIBRARY}==1.0'])\n"
    )
    git = ("git", "-c", "user.name=bench", "-c", "user.email=bench@localhost")
    _run(*git, "init", "-q", "-b", "main", cwd=repo)
    _run(*git, "add", "-A", cwd=repo)
    _run(*git, "commit", "-q", "-m", "plugin", cwd=repo)
    return repo


def install(*, repo: Path, work: Path, index_url: str | None, house: Path) -> float:
    """Clone, lock and build once; the seconds it took. The environment must work."""
    from plugins.environments.build import environment_build, requirements_lock

    def quiet(step: str, line: str) -> None:
        return None

    start = time.perf_counter()
    tree = work / "clone"
    _run("git", "clone", "-q", f"file://{repo}", tree)
    pins = requirements_lock(
        requirements=[], project=tree, index_url=index_url, find_links=[str(house)], progress=quiet
    )
    env = environment_build(pins=pins, project=tree, index_url=index_url, find_links=[str(house)], progress=quiet)
    took = time.perf_counter() - start
    subprocess.run([env.python, "-I", "-c", "import benchplugin"], check=True)
    shutil.rmtree(tree)
    shutil.rmtree(env.path)  # the next warm install builds it again, from the cache
    return took


def measure(runs: int, each: Callable[[int], float]) -> list[float]:
    return [each(i) for i in range(runs)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--index", default="https://pypi.org/simple", help="where the build tool comes from")
    parser.add_argument("--no-index", action="store_true", help="setuptools from the find-links folder too")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sessionbot.settings")
    django.setup()
    from django.conf import settings

    index_url = None if args.no_index else args.index
    with tempfile.TemporaryDirectory(prefix="bench-install-") as folder:
        root = Path(folder)
        os.chmod(root, 0o755)  # the build uid reads the find-links folder inside
        house, repo = wheelhouse(root, with_setuptools=args.no_index), repository(root)

        def cold(i: int) -> float:
            settings.DATA_DIR = root / f"cold-{i}"
            settings.DATA_DIR.mkdir()
            return install(repo=repo, work=root, index_url=index_url, house=house)

        def warm(i: int) -> float:
            settings.DATA_DIR = root / "warm"
            return install(repo=repo, work=root, index_url=index_url, house=house)

        (root / "warm").mkdir()
        settings.DATA_DIR = root / "warm"
        install(repo=repo, work=root, index_url=index_url, house=house)  # fills the warm cache
        results = {"cold": measure(args.runs, cold), "warm": measure(args.runs, warm)}

    confined = "confined (bwrap, build uid)" if os.geteuid() == 0 else "as this user"
    print(f"plugin install from a local git repository, one small requirement; uv steps {confined}")
    print(
        f"build tool from: {index_url or 'the find-links folder'}; {args.runs} runs each; load {os.getloadavg()[0]:.1f}"
    )
    print(f"{'cache':<6} {'median s':>9} {'min s':>7} {'max s':>7} {'target s':>9}")
    for name, samples in results.items():
        median = statistics.median(samples)
        verdict = "ok" if median <= TARGETS[name] else "OVER"
        line = f"{name:<6} {median:>9.2f} {min(samples):>7.2f} {max(samples):>7.2f} {TARGETS[name]:>9.1f}  {verdict}"
        print(line)


if __name__ == "__main__":
    main()
