"""Which plugin environments a host may run on, and what the sandbox binds for them (no
Django: folders shaped like environments, made here)."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

from plugins.sandbox.system import InterpreterError, environment_binds, environment_python

BASE = os.path.realpath(sys.executable)


def shaped(env: Path, *, python: str = BASE) -> Path:
    """A folder shaped like a uv environment: pyvenv.cfg, and bin/python linking to ``python``."""
    (env / "bin").mkdir(parents=True)
    (env / "pyvenv.cfg").write_text(f"home = {Path(python).parent}\ninclude-system-site-packages = false\n")
    (env / "bin" / "python").symlink_to(python)
    return env / "bin" / "python"


def test_an_environment_on_a_trusted_python_is_used_with_that_python_in_place_of_its_own(tmp_path) -> None:
    python = shaped(tmp_path / "env")
    found = environment_python(str(python))
    assert (found.env, found.python, found.base) == (str(tmp_path / "env"), str(python), BASE)
    assert found.prefix == str(Path(BASE).parent.parent)
    read_only, emptied, overlays = environment_binds(found, configs=tmp_path / "configs")
    assert str(tmp_path / "env") in read_only
    assert emptied == (str(tmp_path / "env" / "bin"),)
    (source, target), (config, cfg_target) = overlays
    assert (source, target) == (BASE, str(python))
    assert cfg_target == str(tmp_path / "env" / "pyvenv.cfg")
    assert Path(config).read_text() == f"home = {Path(BASE).parent}\ninclude-system-site-packages = false\n"


def test_the_workers_own_interpreter_needs_no_overlay(tmp_path) -> None:
    read_only, emptied, overlays = environment_binds(None, configs=tmp_path)
    assert (emptied, overlays) == ((), ())
    assert sys.prefix in read_only or Path(sys.prefix).resolve().is_relative_to("/usr")


def _inside(env: Path) -> None:
    shutil.copyfile(BASE, env / "bin" / "python-own")
    os.chmod(env / "bin" / "python-own", 0o755)
    (env / "bin" / "python").unlink()
    (env / "bin" / "python").symlink_to("python-own")


def _script(env: Path) -> None:
    (env / "bin" / "python").unlink()
    (env / "bin" / "python").write_text("#!/bin/sh\nexec /usr/bin/true\n")
    os.chmod(env / "bin" / "python", 0o755)


def _cfg_link(env: Path) -> None:
    (env / "pyvenv.cfg").rename(env / "real.cfg")
    (env / "pyvenv.cfg").symlink_to(env / "real.cfg")


def _no_cfg(env: Path) -> None:
    (env / "pyvenv.cfg").unlink()


@pytest.mark.parametrize(
    ("tamper", "reason"),
    [
        (_inside, "not a link to an interpreter outside the environment"),
        (_script, "not a link to an interpreter outside the environment"),
        (_cfg_link, "its pyvenv.cfg or bin is a link"),
        (_no_cfg, "is not a Python environment"),
    ],
)
def test_an_environment_whose_interpreter_its_build_could_have_written_is_refused(tmp_path, tamper, reason) -> None:
    python = shaped(tmp_path / "env")
    tamper(tmp_path / "env")
    with pytest.raises(InterpreterError, match=reason):
        environment_python(str(python))


def test_an_interpreter_others_can_write_is_refused(tmp_path) -> None:
    shared = tmp_path / "shared" / "bin"
    shared.mkdir(parents=True)
    shutil.copyfile(BASE, shared / "python3")
    os.chmod(shared / "python3", 0o755)
    os.chmod(shared, 0o777)  # what the test refuses
    python = shaped(tmp_path / "env", python=str(shared / "python3"))
    with pytest.raises(InterpreterError, match="writable by another user"):
        environment_python(str(python))
