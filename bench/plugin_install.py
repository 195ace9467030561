"""Benchmark installing a plugin from a local git repository: ``python -m bench.plugin_install``.

Every install goes through ``plugin_install``, the one path of ``manage.py plugins install``,
the admin and ``importplugins``: clone (through the git cache), read the manifest, lock and
build the plugin's environment with uv, load the code in a plugin host on that environment
(the check), activate. The plugin is a local git repository (made here) with one small
requirement, served as a wheel from a find-links folder (``PLUGIN_FIND_LINKS``):

- ``--shape manifest``: the requirement is in its ``sessionbot-plugin.yaml``; nothing to build.
- ``--shape pyproject``: its ``pyproject.toml`` declares the requirement, so the project is
  built (setuptools, from the package index, ``--index``, or with ``--no-index`` from the
  find-links folder) and installed into the environment with it.

Each run commits new code (a new version). Cold: a fresh data folder (no uv cache, git
cache, plugin runtime or environment). Warm: the data folder of the earlier installs with
the environments removed, so the environment is built again from the uv cache (as for a new
version or another plugin with the same requirements). After each install, the first
answer: ``version_request`` of the new active version, which starts its host on the new
environment (as the first invocation in a worker does) and answers. Run as root, every uv
step and every host is confined as in production (bubblewrap, the build or plugin uid,
limits). The database is a throwaway SQLite file.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGETS = {"cold": 10.0, "warm": 3.0}
FIRST_TARGET_MS = 1000.0
LIBRARY = "sbbenchlib"
PLUGIN = "benchplugin"
CODE = """\
import {lib}
from plugins.api import Context, Plugin, Reply, command


class Bench(Plugin):
    @command("{name}", summary="Say the library's version")
    def run(self, ctx: Context) -> Reply:
        \"\"\"Answer with the library's version.\"\"\"
        return Reply("{answer} " + {lib}.VERSION)
"""
CTX = {
    "user_id": "05" + "ab" * 32,
    "conversation": "05" + "ab" * 32,
    "conversation_type": "private",
    "language": "en",
    "command": PLUGIN,
    "config": {},
    "is_admin": False,
    "groups": [],
    "attachments": [],
}


def _run(*argv: str | Path, cwd: Path | None = None) -> None:
    subprocess.run([str(a) for a in argv], cwd=cwd, check=True, capture_output=True)


def pyproject(name: str, version: str, tail: str = "") -> str:
    """A setuptools project's pyproject.toml; ``tail`` goes on after its version."""
    head = '[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n\n'
    return f'{head}[project]\nname = "{name}"\nversion = "{version}"\n{tail}'


def wheelhouse(root: Path, *, with_setuptools: bool) -> Path:
    """The find-links folder: the library's wheel (and setuptools for ``--no-index``)."""
    import uv

    house, source = root / "wheels", root / "lib"
    (source / LIBRARY).mkdir(parents=True)
    (source / LIBRARY / "__init__.py").write_text('VERSION = "1.0"\n')
    (source / "pyproject.toml").write_text(pyproject(LIBRARY, "1.0"))
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


GIT = ("git", "-c", "user.name=bench", "-c", "user.email=bench@localhost")


def repository(root: Path, *, shape: str) -> Path:
    """A plugin as its author publishes it, committed to a local git repository."""
    repo = root / "repo"
    (repo / PLUGIN).mkdir(parents=True)
    manifest = f"name: {PLUGIN}\nversion: '1.0.0'\nentrypoint: {PLUGIN}:Bench\n"
    if shape == "manifest":
        manifest += f"requirements: ['{LIBRARY}==1.0']\n"
    else:
        tail = f'dependencies = ["{LIBRARY}==1.0"]\n\n[tool.setuptools]\npackages = ["{PLUGIN}"]\n'
        (repo / "pyproject.toml").write_text(pyproject(PLUGIN, "1.0.0", tail))
    (repo / "sessionbot-plugin.yaml").write_text(manifest)
    _run(*GIT, "init", "-q", "-b", "main", cwd=repo)
    return repo


def commit(repo: Path, answer: str) -> None:
    """New code: each install is a new version, never "unchanged"."""
    (repo / PLUGIN / "__init__.py").write_text(CODE.format(lib=LIBRARY, name=PLUGIN, answer=answer))
    _run(*GIT, "add", "-A", cwd=repo)
    _run(*GIT, "commit", "-q", "-m", answer, cwd=repo)


def install_once(*, repo: Path, answer: str) -> tuple[float, float]:
    """Install the repository's new commit; the seconds it took and the first answer's ms."""
    from plugins.execution import pool_close, version_request
    from plugins.install import plugin_install

    commit(repo, answer)
    start = time.perf_counter()
    version = plugin_install(source=repo.as_uri(), progress=lambda step, line: None)
    took = time.perf_counter() - start
    assert version.environment, "the plugin got no environment of its own"
    message = {"op": "run", "command": PLUGIN, "arguments": "", "ctx": CTX}
    start = time.perf_counter()
    outcome = version_request(version=version, message=message, on_call=lambda method, args: None)
    first = (time.perf_counter() - start) * 1000
    assert outcome.reply is not None, outcome.error
    assert outcome.reply.text == f"{answer} 1.0", outcome.reply
    pool_close()
    return took, first


def setup(root: Path) -> None:
    """Django on a throwaway SQLite database and data folder under ``root``."""
    os.environ["DATA_DIR"] = str(root / "data")
    database = root / "bench.sqlite3"
    os.close(os.open(database, os.O_CREAT | os.O_WRONLY, 0o600))  # owner-only, as the bot wants it
    os.environ["DATABASE_URL"] = f"sqlite:///{database}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sessionbot.settings")
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--shape", choices=("manifest", "pyproject"), default="manifest")
    parser.add_argument("--index", default="https://pypi.org/simple", help="where the build tool comes from")
    parser.add_argument("--no-index", action="store_true", help="setuptools from the find-links folder too")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-install-") as folder:
        root = Path(folder)
        os.chmod(root, 0o755)  # the build uid reads the find-links folder inside
        setup(root)
        from django.conf import settings

        house, repo = wheelhouse(root, with_setuptools=args.no_index), repository(root, shape=args.shape)
        settings.PLUGIN_INDEX_URL = "" if args.no_index else args.index
        settings.PLUGIN_FIND_LINKS = [str(house)]
        results: dict[str, list[tuple[float, float]]] = {"cold": [], "warm": []}
        warm = root / "warm"
        warm.mkdir()
        settings.DATA_DIR = warm
        install_once(repo=repo, answer="fill")  # fills the warm caches
        for i in range(args.runs):  # cold and warm in turns
            settings.DATA_DIR = root / f"cold-{i}"
            settings.DATA_DIR.mkdir()
            results["cold"].append(install_once(repo=repo, answer=f"cold{i}"))
            shutil.rmtree(settings.DATA_DIR, ignore_errors=True)
            settings.DATA_DIR = warm
            shutil.rmtree(warm / "plugin-envs", ignore_errors=True)
            results["warm"].append(install_once(repo=repo, answer=f"warm{i}"))

    confined = "confined (bwrap, build and plugin uids)" if os.geteuid() == 0 else "as this user"
    print(f"plugins install from a local git repository, one small requirement ({args.shape}); {confined}")
    tool = "" if args.shape == "manifest" else f"; build tool from {settings.PLUGIN_INDEX_URL or 'find-links'}"
    print(f"{args.runs} runs each, cold and warm in turns{tool}; load {os.getloadavg()[0]:.1f}")
    print(f"{'cache':<6} {'median s':>9} {'min s':>7} {'max s':>7} {'target s':>9}   first answer ms: median, max")
    for name, samples in results.items():
        took = [s for s, _ in samples]
        first = [f for _, f in samples]
        median = statistics.median(took)
        verdict = "ok" if median <= TARGETS[name] and statistics.median(first) <= FIRST_TARGET_MS else "OVER"
        line = f"{name:<6} {median:>9.2f} {min(took):>7.2f} {max(took):>7.2f} {TARGETS[name]:>9.1f}"
        print(f"{line}   {statistics.median(first):>6.0f}, {max(first):>5.0f}  {verdict}")


if __name__ == "__main__":
    main()
