"""Build what runs package code apart from the shared uv cache: a plugin's own project,
and each sdist among its pins, alone.

A project's build requirements are installed, wheels only, into an environment of its
own (from the shared cache: no package code runs then); its build runs apart
(``Steps.apart``) on that environment, so it needs neither the cache nor the network. An
sdist is built apart, alone, from its pin (hashes checked), with a throwaway cache; the
wheel it made is kept under what made it (``core.sdist_key``), so another plugin that
pins the same sdist from the same sources installs that wheel and builds nothing.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import sys
import tomllib
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from django.utils.translation import gettext as _
from packaging.utils import InvalidWheelFilename, parse_wheel_filename
from packaging.version import Version

from plugins.environments.core import (
    BuildError,
    Pin,
    UvSources,
    Wheel,
    pin_build_argv,
    pin_text,
    requirements_text,
    requires_argv,
    sdist_key,
    venv_argv,
    wheel_argv,
)
from plugins.environments.steps import Steps
from plugins.environments.store import project_copy, wheel_find, wheel_keep

# PEP 517's build requirements for a project that declares none (a setup.py alone).
DEFAULT_BUILD_REQUIRES = ("setuptools>=40.8.0",)
OUTPUT_MAX = 2**20


def build_requirements(project: Path) -> list[str]:
    """What the project's build backend needs: ``[build-system] requires`` of its
    pyproject.toml, or setuptools."""
    try:
        data = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))
    except (FileNotFoundError, tomllib.TOMLDecodeError, UnicodeDecodeError, OSError):
        data = {}
    system = data.get("build-system")
    requires = system.get("requires") if isinstance(system, dict) else None
    if not isinstance(requires, list) or not all(isinstance(text, str) for text in requires):
        return list(DEFAULT_BUILD_REQUIRES)
    return requires


def wheel_of(path: Path, *, into: Path) -> Wheel:
    """A copy of the wheel at ``path`` in the folder ``into`` (the work folder's, which the
    install sees), with its hash."""
    into.mkdir(exist_ok=True)
    copy = into / path.name
    shutil.copyfile(path, copy)
    return Wheel(path=str(copy), sha256=hashlib.sha256(copy.read_bytes()).hexdigest())


def output_read(path: Path) -> str:
    """A file that a step apart wrote: never through a link, at most 1 MB."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        raise BuildError(
            "build", _("the build left no %(name)s (%(reason)s)") % {"name": path.name, "reason": exc}
        ) from None
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise BuildError("build", _("the build left %(name)s as something else than a file") % {"name": path.name})
        data = handle.read(OUTPUT_MAX + 1)
    if len(data) > OUTPUT_MAX:
        raise BuildError("build", _("the build left %(name)s larger than 1 MB") % {"name": path.name})
    return data.decode("utf-8", "replace")


def _only_wheel(folder: Path) -> Path:
    wheels = list(folder.glob("*.whl"))
    if len(wheels) != 1 or wheels[0].is_symlink() or not wheels[0].is_file():
        raise BuildError("build", _("the project's build did not make one wheel"))
    return wheels[0]


def project_wheel(steps: Steps, src: UvSources, *, project: Path) -> Path:
    """Build the plugin's project to a wheel, apart; return that wheel (in the work folder)."""
    tools = steps.work / "build-tools"
    tools_python = str(tools / "bin" / "python")
    steps.run("venv", venv_argv(src, python=sys.executable, target=str(tools)))
    requires = requirements_text(build_requirements(project))
    if requires:
        (steps.work / "build-requires.txt").write_text(requires, encoding="utf-8")
        requirements_file = str(steps.work / "build-requires.txt")
        steps.run("requires", requires_argv(src, python=tools_python, requirements_file=requirements_file))
    folder = steps.work / "project"
    project_copy(source=project, into=folder / "src")
    apart, apart_src = steps.apart(folder.name, network=False, locations=[str(tools)], src=src)
    apart_src = replace(apart_src, index_url=None, find_links=(), offline=True)  # it fetches nothing
    apart.run(
        "project", wheel_argv(apart_src, python=tools_python, project=str(folder / "src"), out=str(folder / "dist"))
    )
    return _only_wheel(folder / "dist")


def _harvest(cache: Path, pin: Pin) -> Path:
    """The wheel a build of ``pin`` left in its own cache."""
    for folder, _dirs, files in os.walk(cache):  # links to folders are not followed
        for name in files:
            path = Path(folder) / name
            try:
                made, version, *_rest = parse_wheel_filename(name)
            except InvalidWheelFilename:
                continue
            right = made == pin.name and (not pin.version or version == Version(pin.version))
            if right and not path.is_symlink() and path.is_file():
                return path
    raise BuildError("build", _("the build of %(name)s made no wheel") % {"name": pin.name})


def kept_wheels(pins: Sequence[Pin], src: UvSources, *, python: str, into: Path) -> dict[str, Wheel]:
    """The wheels built here before from pinned sdists with the same inputs, by pin name."""
    wheels = {}
    for pin in pins:
        kept = wheel_find(sdist_key(pin, index_url=src.index_url, find_links=src.find_links, python=python))
        if kept is not None:
            wheels[pin.name] = wheel_of(kept, into=into)
    return wheels


def sdist_wheel(steps: Steps, src: UvSources, *, pin: Pin, python: str, network: bool, into: Path) -> Wheel:
    """Build the pinned sdist alone, apart, and keep the wheel it made."""
    locations = [*src.find_links, pin.url] if pin.url else list(src.find_links)
    apart, apart_src = steps.apart(f"sdist-{pin.name}", network=network, locations=locations, src=src)
    scratch, pin_file = apart.here / "scratch", apart.here / "pin.txt"
    pin_file.write_text(pin_text(pin) + "\n", encoding="utf-8")
    apart.run("venv", venv_argv(apart_src, python=sys.executable, target=str(scratch)))
    apart.run("sdist", pin_build_argv(apart_src, python=str(scratch / "bin" / "python"), pin_file=str(pin_file)))
    key = sdist_key(pin, index_url=src.index_url, find_links=src.find_links, python=python)
    return wheel_of(wheel_keep(key=key, wheel=_harvest(Path(apart_src.cache), pin)), into=into)
