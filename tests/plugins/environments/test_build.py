"""Locking and building plugin environments with the real uv, confined as plugin hosts are.

The distributions are built by the fixtures (``conftest``) and read from a folder; no
index is used except where a test says so (the build tools, from the cache).
"""

from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import time
from pathlib import Path

import pytest
from django.conf import settings

from plugins.environments.build import PYPI, Progress, environment_build, requirements_lock
from plugins.environments.core import BuildError, pins_parse
from plugins.environments.store import Environment, environment_find, environment_size, environments_dir
from tests.plugins.environments.conftest import LIBRARY, project_write

Lines = list[tuple[str, str]]
PRINT_VERSION = f"import {LIBRARY}; print({LIBRARY}.VERSION)"


def _lock_and_build(project: Path | None, requires: list[str], house: Path, lines: Lines | None = None) -> Environment:
    log = lines if lines is not None else []
    pins = requirements_lock(
        requirements=requires, project=project, index_url=None, find_links=[str(house)], progress=_into(log)
    )
    return environment_build(pins=pins, project=project, index_url=None, find_links=[str(house)], progress=_into(log))


def _into(lines: Lines) -> Progress:
    return lambda step, line: lines.append((step, line))


def _run(env: Environment, code: str) -> str:
    done = subprocess.run([env.python, "-I", "-c", code], capture_output=True, text=True, check=True)
    return done.stdout.strip()


def test_two_plugins_each_import_their_own_version_of_one_library(
    data_dir: Path, wheelhouse: Path, tmp_path: Path
) -> None:
    old = project_write(tmp_path / "old", name="oldplugin", requires=[f"{LIBRARY}==1.0"])
    new = project_write(tmp_path / "new", name="newplugin", requires=[])

    first = _lock_and_build(old, [], wheelhouse)
    second = _lock_and_build(new, [f"{LIBRARY}==2.0"], wheelhouse)

    assert first.digest != second.digest
    assert first.path.parent == second.path.parent == data_dir / "plugin-envs"
    assert _run(first, f"import {LIBRARY}, oldplugin; print({LIBRARY}.VERSION, oldplugin.MARK)") == "1.0 plugin code"
    assert _run(second, f"import {LIBRARY}, newplugin; print({LIBRARY}.VERSION)") == "2.0"
    # Both at the same time: two interpreters, each on its own environment.
    procs = [
        subprocess.Popen(
            [env.python, "-I", "-c", f"import {LIBRARY}; print({LIBRARY}.VERSION)"], stdout=subprocess.PIPE
        )
        for env in (first, second)
    ]
    assert [p.communicate()[0].decode().strip() for p in procs] == ["1.0", "2.0"]


def test_the_pins_hold_the_hash_of_each_file_and_the_projects_dependencies(
    data_dir: Path, wheelhouse: Path, tmp_path: Path
) -> None:
    project = project_write(tmp_path / "p", name="hashplugin", requires=[f"{LIBRARY}==2.0"])
    pins = requirements_lock(
        requirements=[], project=project, index_url=None, find_links=[str(wheelhouse)], progress=lambda *_: None
    )

    (pin,) = pins_parse(pins)  # the project's dependency, not the project itself
    wheel = next(wheelhouse.glob(f"{LIBRARY}-2.0-*.whl"))
    assert (pin.name, pin.version) == (LIBRARY, "2.0")
    assert pin.hashes == ("sha256:" + hashlib.sha256(wheel.read_bytes()).hexdigest(),)
    assert not list(project.glob("*.egg-info"))  # its metadata was built in a copy


def test_an_environment_is_built_once_for_the_same_pins_and_project(
    data_dir: Path, wheelhouse: Path, tmp_path: Path
) -> None:
    project = project_write(tmp_path / "p", name="onceplugin", requires=[f"{LIBRARY}==1.0"])
    first = _lock_and_build(project, [], wheelhouse)
    (first.path / "marker").write_text("")
    lines: Lines = []

    again = _lock_and_build(project, [], wheelhouse, lines)
    (project / "onceplugin" / "__init__.py").write_text("MARK = 'changed'\n")
    changed = _lock_and_build(project, [], wheelhouse)

    assert again == first
    assert (again.path / "marker").exists()
    assert any("already built" in line for _, line in lines)
    assert changed.digest != first.digest
    assert _run(changed, "import onceplugin; print(onceplugin.MARK)") == "changed"


def test_a_second_plugin_with_the_same_requirements_takes_them_from_the_cache(data_dir: Path, wheelhouse: Path) -> None:
    first: Lines = []
    _lock_and_build(None, [f"{LIBRARY}==3.0"], wheelhouse, first)
    second: Lines = []

    env = _lock_and_build(None, [f"{LIBRARY}==3.0", "setuptools"], wheelhouse, second)

    # The library is an sdist: the first install builds it, the second takes that build.
    assert any(line.strip().startswith(f"Building {LIBRARY}==3.0") for _, line in first), first
    assert not any(line.strip().startswith("Building") for _, line in second), second
    assert any(f"+ {LIBRARY}==3.0" in line for _, line in second)
    assert _run(env, PRINT_VERSION) == "3.0"


def _index_reachable() -> bool:
    try:
        with socket.create_connection(("pypi.org", 443), timeout=5):
            return True
    except OSError:
        return False


@pytest.mark.skipif(not _index_reachable(), reason="the package index is not reachable from here")
def test_after_one_build_the_next_builds_offline_from_the_cache(data_dir: Path, tmp_path: Path) -> None:
    """The build tool (setuptools) comes from the index once; the second plugin's build runs
    offline (and, confined, without a network at all) from the cache."""
    first = project_write(tmp_path / "a", name="firstplugin", requires=[])
    second = project_write(tmp_path / "b", name="secondplugin", requires=[])
    environment_build(pins="", project=first, index_url=PYPI, find_links=[], progress=lambda *_: None)

    env = environment_build(
        pins="", project=second, index_url=PYPI, find_links=[], offline=True, progress=lambda *_: None
    )

    assert _run(env, "import secondplugin; print(secondplugin.MARK)") == "plugin code"


def test_an_unsatisfiable_requirement_fails_at_resolve_with_the_resolvers_message(
    data_dir: Path, wheelhouse: Path
) -> None:
    with pytest.raises(BuildError) as caught:
        requirements_lock(
            requirements=[f"{LIBRARY}==9.0"],
            project=None,
            index_url=None,
            find_links=[str(wheelhouse)],
            progress=lambda *_: None,
        )

    assert caught.value.step == "resolve"
    assert caught.value.message.startswith("error: No solution found when resolving dependencies")
    assert f"{LIBRARY}==9.0" in caught.value.message
    assert "Resolved" not in caught.value.message
    assert not list(environments_dir().iterdir())  # its work folder is gone


SETUP_RAISES = "raise RuntimeError('this plugin refuses to build')\n"


def test_a_setup_py_that_raises_fails_at_build_with_its_message(
    data_dir: Path, wheelhouse: Path, tmp_path: Path
) -> None:
    project = project_write(tmp_path / "p", name="badplugin", requires=[], setup_prelude=SETUP_RAISES)

    with pytest.raises(BuildError) as locking:
        requirements_lock(
            requirements=[], project=project, index_url=None, find_links=[str(wheelhouse)], progress=lambda *_: None
        )
    with pytest.raises(BuildError) as building:
        environment_build(
            pins="", project=project, index_url=None, find_links=[str(wheelhouse)], progress=lambda *_: None
        )

    for caught in (locking, building):
        assert caught.value.step == "build"
        assert "RuntimeError: this plugin refuses to build" in caught.value.message
    assert not list(environments_dir().iterdir())  # no environment, no work folder


@pytest.mark.skipif(os.geteuid() != 0, reason="a worker that is not root builds as itself")
def test_a_build_runs_as_the_build_uid_without_the_network_or_the_platforms_files(
    data_dir: Path, wheelhouse: Path, tmp_path: Path
) -> None:
    (data_dir / "secret_key").write_text("s3cret")
    probe = (
        "import os, socket\n"
        "def net():\n"
        "    try:\n"
        "        socket.create_connection(('1.1.1.1', 53), timeout=2)\n"
        "        return 'yes'\n"
        "    except OSError:\n"
        "        return 'no'\n"
        f"secret = os.path.exists({str(data_dir / 'secret_key')!r})\n"
        f"project = os.path.exists({str(settings.BASE_DIR / 'sessionbot')!r})\n"
        "raise SystemExit(f'uid={os.getuid()} net={net()} secret={secret} project={project}')\n"
    )
    project = project_write(tmp_path / "p", name="probeplugin", requires=[], setup_prelude=probe)

    with pytest.raises(BuildError) as caught:
        environment_build(
            pins="", project=project, index_url=None, find_links=[str(wheelhouse)], progress=lambda *_: None
        )

    build_uid = settings.PLUGIN_UID_BASE + settings.PLUGIN_UID_COUNT - 1
    assert f"uid={build_uid} net=no secret=False project=False" in caught.value.message


@pytest.mark.skipif(os.geteuid() != 0, reason="the environment is sealed by a root worker")
def test_a_built_environment_is_read_only_for_the_plugins(data_dir: Path, wheelhouse: Path, tmp_path: Path) -> None:
    env = _lock_and_build(
        project_write(tmp_path / "p", name="sealplugin", requires=[]), [f"{LIBRARY}==1.0"], wheelhouse
    )

    for folder, dirs, files in os.walk(env.path):
        for name in [*dirs, *files]:
            info = os.lstat(os.path.join(folder, name))
            assert info.st_uid == 0
            assert not info.st_mode & 0o022 or os.path.islink(os.path.join(folder, name)), name
    assert os.stat(env.path / "pyvenv.cfg").st_mode & 0o004  # readable by every plugin uid


def test_an_environment_over_the_size_limit_is_refused(data_dir: Path, wheelhouse: Path, tmp_path: Path) -> None:
    project = project_write(tmp_path / "p", name="bigplugin", requires=[])

    with pytest.raises(BuildError) as caught:
        environment_build(
            pins="",
            project=project,
            index_url=None,
            find_links=[str(wheelhouse)],
            progress=lambda *_: None,
            max_bytes=1000,
        )

    assert caught.value.step == "build"
    assert "more than the limit of 0 MB" in caught.value.message
    assert not list(environments_dir().iterdir())


def test_a_build_past_its_time_limit_is_stopped(data_dir: Path, wheelhouse: Path, tmp_path: Path) -> None:
    project = project_write(
        tmp_path / "p", name="slowplugin", requires=[], setup_prelude="import time; time.sleep(60)\n"
    )

    with pytest.raises(BuildError) as caught:
        environment_build(
            pins="",
            project=project,
            index_url=None,
            find_links=[str(wheelhouse)],
            progress=lambda *_: None,
            timeout_seconds=5,
        )

    assert caught.value.step == "build"
    assert caught.value.message == "it did not finish within 5 s"
    assert not list(environments_dir().iterdir())


def test_the_size_of_an_environment_is_what_it_takes_on_disk(data_dir: Path, wheelhouse: Path) -> None:
    env = _lock_and_build(None, [f"{LIBRARY}==1.0"], wheelhouse)

    size = environment_size(env.digest)
    inodes = {(p.lstat().st_dev, p.lstat().st_ino): p.lstat().st_blocks for p in env.path.rglob("*")}
    blocks = sum(inodes.values()) * 512

    assert size == blocks > 0
    assert environment_size("0" * 64) is None
    assert environment_find(env.digest) == env
    assert environment_find("0" * 64) is None


@pytest.mark.skipif(os.geteuid() != 0, reason="the rule binds a root worker")
def test_a_root_worker_that_cannot_confine_the_build_refuses_it(
    data_dir: Path, wheelhouse: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = project_write(tmp_path / "p", name="rootplugin", requires=[], code="import os\nUID = os.getuid()\n")
    monkeypatch.setattr(settings, "PLUGIN_BWRAP", str(tmp_path / "no-bwrap"))
    monkeypatch.setattr(settings, "PLUGINS_RUN_UNSANDBOXED_AS_ROOT", False)

    with pytest.raises(BuildError) as caught:
        _lock_and_build(project, [f"{LIBRARY}==1.0"], wheelhouse)
    assert caught.value.step == "resolve"
    assert caught.value.message.startswith("Nothing was built: the worker runs as root and cannot confine the build")
    assert "PLUGINS_RUN_UNSANDBOXED_AS_ROOT" in caught.value.message
    assert not list(environments_dir().iterdir())

    monkeypatch.setattr(settings, "PLUGINS_RUN_UNSANDBOXED_AS_ROOT", True)  # the operator's choice
    env = _lock_and_build(project, [f"{LIBRARY}==1.0"], wheelhouse)
    assert _run(env, f"import {LIBRARY}; print({LIBRARY}.VERSION)") == "1.0"


@pytest.mark.skipif(os.geteuid() != 0, reason="the environment is sealed by a root worker")
def test_a_build_cannot_leave_a_link_in_the_environment(data_dir: Path, wheelhouse: Path, tmp_path: Path) -> None:
    private = tmp_path / "private"
    private.write_text("root's own")
    private.chmod(0o600)
    # The project's build runs apart: the environment being built (../env before) is not there.
    plant = (
        "import os\n"
        "for planted in (os.path.join('..', 'env', 'planted'), os.path.join('..', '..', 'env', 'planted')):\n"
        "    try:\n"
        f"        os.symlink({str(private)!r}, planted)\n"
        "    except OSError:\n"
        "        pass\n"
    )
    project = project_write(tmp_path / "p", name="linkplugin", requires=[], setup_prelude=plant)

    env = environment_build(
        pins="", project=project, index_url=None, find_links=[str(wheelhouse)], progress=lambda *_: None
    )

    assert not os.path.lexists(env.path / "planted")
    assert _run(env, "import linkplugin; print(linkplugin.MARK)") == "plugin code"
    assert private.stat().st_mode & 0o777 == 0o600
    assert private.stat().st_uid == 0


def test_a_fifo_in_the_project_is_left_out(data_dir: Path, wheelhouse: Path, tmp_path: Path) -> None:
    project = project_write(tmp_path / "p", name="fifoplugin", requires=[])
    os.mkfifo(project / "fifoplugin" / "pipe")

    env = environment_build(
        pins="", project=project, index_url=None, find_links=[str(wheelhouse)], progress=lambda *_: None
    )

    assert _run(env, "import fifoplugin; print(fifoplugin.MARK)") == "plugin code"


def test_a_build_that_writes_past_the_size_limit_is_stopped_as_it_writes(
    data_dir: Path, wheelhouse: Path, tmp_path: Path
) -> None:
    fills = "open('filler', 'wb').write(b'0' * 30_000_000)\nimport time\ntime.sleep(60)\n"
    project = project_write(tmp_path / "p", name="fillplugin", requires=[], setup_prelude=fills)
    started = time.monotonic()

    with pytest.raises(BuildError) as caught:
        environment_build(
            pins="",
            project=project,
            index_url=None,
            find_links=[str(wheelhouse)],
            progress=lambda *_: None,
            max_bytes=10 * 2**20,
        )

    assert time.monotonic() - started < 30  # not the time limit (600 s), not the sleep
    assert caught.value.step == "build"
    assert "more than the limit of 10 MB" in caught.value.message
    assert not list(environments_dir().iterdir())


def test_a_requirement_may_name_a_local_wheel(data_dir: Path, wheelhouse: Path) -> None:
    wheel = next(wheelhouse.glob(f"{LIBRARY}-2.0-*.whl"))

    pins = requirements_lock(
        requirements=[f"{LIBRARY} @ file://{wheel}"], project=None, index_url=None, find_links=[], progress=print
    )
    env = environment_build(pins=pins, project=None, index_url=None, find_links=[], progress=print)

    assert _run(env, PRINT_VERSION) == "2.0"


def test_the_build_after_a_lock_installs_the_wheel_the_lock_built(
    data_dir: Path, wheelhouse: Path, tmp_path: Path
) -> None:
    project = project_write(tmp_path / "p", name="wheelplugin", requires=[f"{LIBRARY}==1.0"])
    lines: Lines = []

    env = _lock_and_build(project, [], wheelhouse, lines)

    builds = [line for _, line in lines if line.strip().startswith("Successfully built")]
    assert len(builds) == 1, lines  # the project's code ran its build once, for the lock
    assert _run(env, "import wheelplugin; print(wheelplugin.MARK)") == "plugin code"
