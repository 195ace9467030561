"""Lock a plugin's requirements and build its environment with uv, confined.

Both run package code: building the plugin's own project (its ``setup.py`` or build
backend) and any sdist among its pins. So no uv step runs in this process: each runs
confined like a plugin host (``plugins.environments.steps``), under bubblewrap as the
build uid (the last uid of the plugin range) when the worker is root, with hard limits, a
time limit and the network only when an index or a find-links URL is used. The steps that
write the shared uv cache run no package code (``--no-build``); the builds run apart
(``plugins.environments.apart``), without the shared cache. The same rule as for hosts
decides when that cannot be done (``plugins.execution.plugin_sandbox``): fail closed.

An environment is built in a work folder, byte-compiled by the trusted interpreter,
checked against the size limit, made read-only and renamed into
``DATA_DIR/plugin-envs/<digest>``: a half-built one is never used, and one already there
(same pins, interpreter and project) is used as it is.
"""

from __future__ import annotations

import os
import platform
import sys
import sysconfig
import tomllib
import zipfile
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import uv
from django.utils.translation import gettext as _

from plugins.environments.apart import kept_wheels, output_read, project_wheel, sdist_wheel, wheel_of
from plugins.environments.core import (
    BuildError,
    Pin,
    PinsError,
    UvSources,
    Wheel,
    compile_argv,
    environment_digest,
    install_text,
    location_local,
    lock_argv,
    metadata_requirements,
    network_needed,
    no_build_blocker,
    pins_parse,
    requirement_urls,
    requirements_text,
    sync_argv,
    venv_argv,
)
from plugins.environments.steps import (
    BUILD_TIMEOUT,
    ENV_MAX_BYTES,
    Progress,
    Steps,
    confinement,
    size_refusal,
    work_folder,
)
from plugins.environments.store import (
    Environment,
    environment_find,
    environment_path,
    project_digest,
    tree_seal,
    tree_size,
    uv_cache_dir,
    wheel_find,
    wheel_keep,
)

__all__ = [
    "BUILD_TIMEOUT",
    "PYPI",
    "Progress",
    "environment_build",
    "project_distribution",
    "python_identity",
    "requirements_lock",
]

PYPI = "https://pypi.org/simple"
METADATA_MAX = 2**20


def python_identity() -> str:
    """This interpreter, as an environment built on it depends on it: the same on every
    machine with the same Python, so each builds the environment a version records."""
    return f"{sys.implementation.name}-{platform.python_version()}-{sys.platform}-{platform.machine()}"


def project_distribution(project: Path) -> Path | None:
    """The file that declares the project's distribution (pyproject.toml, setup.py or
    setup.cfg), or None for a plain folder of code: nothing of it is installed."""
    pyproject = project / "pyproject.toml"
    if pyproject.is_file():
        try:
            data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError):
            data = {"project": {}}  # uv says what is wrong with it
        if "project" in data or "build-system" in data:
            return pyproject
    for name in ("setup.py", "setup.cfg"):
        if (project / name).is_file():
            return project / name
    return None


def _wheel_metadata(wheel: Path) -> str:
    """The METADATA of a wheel the plugin's build made (read with care: any zip may come)."""
    try:
        with zipfile.ZipFile(wheel) as archive:
            names = [n for n in archive.namelist() if n.count("/") == 1 and n.endswith(".dist-info/METADATA")]
            if len(names) != 1:
                raise BuildError("build", _("the project's wheel has no metadata"))
            with archive.open(names[0]) as member:
                data = member.read(METADATA_MAX + 1)
    except (zipfile.BadZipFile, OSError) as exc:
        raise BuildError("build", _("the project's wheel cannot be read: %(reason)s") % {"reason": exc}) from None
    if len(data) > METADATA_MAX:
        raise BuildError("build", _("the project's wheel has metadata of more than 1 MB"))
    return data.decode("utf-8", "replace")


def _sources(*, index_url: str | None, find_links: Sequence[str], offline: bool = False) -> UvSources:
    links = tuple(str(Path(local).resolve()) if (local := location_local(link)) else link for link in find_links)
    return UvSources(
        uv=uv.find_uv_bin(), cache=str(uv_cache_dir()), index_url=index_url, find_links=links, offline=offline
    )


def _lock(steps: Steps, src: UvSources, *, text: str, network: bool, locations: Sequence[str]) -> str:
    """The pins of ``text``: resolved with ``--no-build`` over the shared cache, or, when an
    sdist must be built for its metadata, apart with a cache of its own."""
    (steps.work / "requirements.in").write_text(text, encoding="utf-8")
    inputs, output = [str(steps.work / "requirements.in")], str(steps.work / "pins.txt")
    try:
        steps.run("lock", lock_argv(src, python=sys.executable, inputs=inputs, output=output))
        return (steps.work / "pins.txt").read_text(encoding="utf-8")
    except BuildError as exc:
        if no_build_blocker(exc.message) is None:
            raise
    folder = steps.work / "lock"
    folder.mkdir()
    (folder / "requirements.in").write_text(text, encoding="utf-8")
    apart, apart_src = steps.apart(folder.name, network=network, locations=locations, src=src)
    inputs, output = [str(folder / "requirements.in")], str(folder / "pins.txt")
    apart.run("lock", lock_argv(apart_src, python=sys.executable, inputs=inputs, output=output, build=True))
    return output_read(folder / "pins.txt")


def requirements_lock(
    *,
    requirements: Sequence[str],
    project: Path | None,
    index_url: str | None,
    find_links: Sequence[str],
    progress: Progress,
    timeout_seconds: float = BUILD_TIMEOUT,
) -> str:
    """The pins (``uv pip compile --generate-hashes``) of ``requirements`` and of what the
    project declares (its pyproject.toml, setup.py or setup.cfg), not the project itself.

    ``index_url`` None: no index, only ``find_links`` (folders or URLs). BuildError on failure.
    """
    text = requirements_text(requirements)
    distribution = project_distribution(project) if project is not None else None
    if not text and distribution is None:
        return ""
    with work_folder() as work:
        locations = [*find_links, *requirement_urls(requirements)]
        network = network_needed(index_url=index_url, locations=locations)
        box = confinement(work=work, network=network, locations=locations, step="resolve")
        steps = Steps(box, work, timeout_seconds, progress)
        src = _sources(index_url=index_url, find_links=find_links)
        if project is not None and distribution is not None:
            # Built once, here: its metadata says what it requires, and the build after
            # this lock installs this very wheel.
            wheel = project_wheel(steps, src, project=project)
            text += requirements_text(metadata_requirements(_wheel_metadata(wheel)))
            wheel_keep(key=project_digest(project), wheel=wheel)
        if not text:
            return ""
        pins = _lock(steps, src, text=text, network=network, locations=locations)
    try:
        pins_parse(pins)
    except PinsError as exc:
        raise BuildError("resolve", str(exc)) from None
    return pins


def _install(steps: Steps, src: UvSources, *, pins: Sequence[Pin], project: Wheel | None, network: bool) -> None:
    """Install the pins and the project's wheel into ``work/env`` with ``--no-build``;
    each sdist that stops it is built apart (or taken as built before), then installed as
    its wheel."""
    python, pins_file = str(steps.work / "env" / "bin" / "python"), steps.work / "pins.txt"
    built = kept_wheels(pins, src, python=python_identity(), into=steps.work / "wheels")
    for _attempt in range(len(pins) + 1):
        pins_file.write_text(install_text(pins, built=built, project=project), encoding="utf-8")
        try:
            steps.run("install", sync_argv(src, python=python, pins_file=str(pins_file)))
            return
        except BuildError as exc:
            blocker = next((p for p in pins if p.name == no_build_blocker(exc.message) and p.name not in built), None)
            if blocker is None:
                raise
        steps.progress("build", _("building %(name)s from its sources, alone") % {"name": blocker.name})
        built[blocker.name] = sdist_wheel(
            steps, src, pin=blocker, python=python_identity(), network=network, into=steps.work / "wheels"
        )


def _compile(steps: Steps, *, target: Path, final: Path) -> None:
    """Byte-compile the environment, as uv's ``--compile-bytecode`` would, but without the
    shared cache and without starting the environment's own interpreter."""
    site = sysconfig.get_path("purelib", vars={"base": str(target), "platbase": str(target)})
    final_site = sysconfig.get_path("purelib", vars={"base": str(final), "platbase": str(final)})
    if not os.path.isdir(site):
        return
    box = confinement(work=steps.work, network=False, locations=[], step="build", shared_cache=False)
    # A file that does not compile (a plugin's Python 2 leftovers) stays as it is.
    replace(steps, confinement=box).run(
        "compile", compile_argv(python=sys.executable, site_packages=site, final=final_site), check=False
    )


def environment_build(
    *,
    pins: str,
    project: Path | None,
    index_url: str | None,
    find_links: Sequence[str],
    progress: Progress,
    offline: bool = False,
    timeout_seconds: float = BUILD_TIMEOUT,
    max_bytes: int = ENV_MAX_BYTES,
) -> Environment:
    """The environment of these pins (installed with their hashes checked) and of the
    project (built and installed without its dependencies), built unless this machine has it.

    ``offline``: from the uv cache and the wheels built here alone. BuildError on failure:
    nothing is left behind.
    """
    try:
        pinned = pins_parse(pins)
    except PinsError as exc:
        raise BuildError("resolve", str(exc)) from None
    distribution = project_distribution(project) if project is not None else None
    identity = project_digest(project) if project is not None and distribution is not None else ""
    digest = environment_digest(pins=pins, python=python_identity(), project=identity)
    found = environment_find(digest)
    if found is not None:
        os.utime(found.path)  # in use again: out of the cleaning's reach for its grace period
        progress("build", _("environment %(digest)s is already built") % {"digest": digest[:12]})
        return found
    final = environment_path(digest)
    with work_folder() as work:
        locations = [*find_links, *(pin.url for pin in pinned if pin.url)]
        network = network_needed(index_url=index_url, locations=locations) and not offline
        box = confinement(work=work, network=network, locations=locations, step="build")
        steps = Steps(box, work, timeout_seconds, progress, max_bytes)
        src = _sources(index_url=index_url, find_links=find_links, offline=offline)
        target = work / "env"
        steps.run("venv", venv_argv(src, python=sys.executable, target=str(target)))
        wheel = None
        if project is not None and distribution is not None:
            built = wheel_find(identity) or project_wheel(steps, src, project=project)  # kept by the lock, or now
            wheel = wheel_of(built, into=work / "wheels")
        if pinned or wheel is not None:
            _install(steps, src, pins=pinned, project=wheel, network=network)
        _compile(steps, target=target, final=final)
        size = tree_size(target)
        if size > max_bytes:
            raise BuildError("build", size_refusal(size, max_bytes))
        tree_seal(target)
        try:
            target.rename(final)
        except OSError:
            if environment_find(digest) is None:  # not another build of the same digest
                raise
    progress("build", _("environment %(digest)s is ready") % {"digest": digest[:12]})
    return Environment(path=final, digest=digest, python=str(final / "bin" / "python"))
