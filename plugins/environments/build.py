"""Lock a plugin's requirements and build its environment with uv, confined.

Both run plugin code: resolving a ``setup.py`` project's dependencies and building any
sdist execute it. So neither runs uv in this process: every uv step runs confined like a
plugin host (``plugins.environments.run``), under bubblewrap as the build uid (the last
uid of the plugin range) when the worker is root, with hard limits, a time limit, the
network only when an index or a find-links URL is used, and nothing of the platform
writable but its work folder and the shared uv cache. The same rule as for hosts decides
when that cannot be done (``plugins.execution.plugin_sandbox``): fail closed.

An environment is built in a work folder, checked against the size limit, made read-only
and renamed into ``DATA_DIR/plugin-envs/<digest>``: a half-built one is never used, and
one already there (same pins, interpreter and project) is used as it is.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import platform
import shutil
import sys
import tempfile
import time
import tomllib
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import uv
from django.conf import settings
from django.utils.translation import gettext as _

from plugins.environments.core import (
    PHASE_STEPS,
    BuildError,
    PinsError,
    UvSources,
    environment_digest,
    failure_step,
    install_text,
    location_local,
    lock_argv,
    message_shorten,
    metadata_requirements,
    network_needed,
    pins_parse,
    requirement_urls,
    requirements_text,
    sync_argv,
    venv_argv,
    wheel_argv,
)
from plugins.environments.run import Confinement, step_run
from plugins.environments.store import (
    WORK_PREFIX,
    Environment,
    environment_find,
    environment_path,
    environments_dir,
    project_copy,
    project_digest,
    tree_seal,
    tree_size,
    uv_cache_dir,
    wheel_find,
    wheel_keep,
)
from plugins.sandbox.confine import hard_limits
from plugins.sandbox.host import PROJECT_ROOT, HostLoadError
from plugins.sandbox.privileges import HostUser, folder_give
from plugins.sandbox.snapshot import Snapshot
from plugins.sandbox.system import tool_problem

PYPI = "https://pypi.org/simple"
BUILD_TIMEOUT = 600.0  # seconds for a whole lock or build (below the cleaning grace period)
ENV_MAX_BYTES = 4 * 1024**3
BUILD_MEMORY_MB = 4096  # address space: uv and a compiler need far more than a plugin host
DISK_FREE_MIN = 512 * 2**20  # a build stops before it fills the disk
BUILD_PROCESSES = 512  # processes and threads of the build uid (uv runs a thread per core)
METADATA_MAX = 2**20
Progress = Callable[[str, str], None]  # (step, line)


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


@contextlib.contextmanager
def _work() -> Iterator[Path]:
    root = environments_dir()
    root.mkdir(parents=True, exist_ok=True)
    os.chmod(root, 0o755)  # noqa: S103 - every plugin uid reaches its environment
    work = Path(tempfile.mkdtemp(prefix=WORK_PREFIX, dir=root))
    (work / "tmp").mkdir()
    try:
        yield work
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _confinement(*, work: Path, network: bool, locations: Sequence[str], step: str) -> Confinement:
    """How the uv steps of one lock or build run; ``locations``: the find-links folders and
    direct references, the local ones bound read-only."""
    from plugins.execution import plugin_sandbox  # Django's side of the sandbox rules

    problem = tool_problem(settings.PLUGIN_BWRAP) if os.geteuid() == 0 else ""
    if problem and not settings.PLUGINS_RUN_UNSANDBOXED_AS_ROOT:  # plugin_sandbox's rule, in a build's words
        raise BuildError(
            step,
            _(
                "Nothing was built: the worker runs as root and cannot confine the build, which runs "
                "the plugin's code (%(reason)s). Install bubblewrap, or set "
                "PLUGINS_RUN_UNSANDBOXED_AS_ROOT=true to build and run plugins as root anyway."
            )
            % {"reason": problem},
        )
    try:
        # Only the platform's plugins package (for the confined entry) besides the interpreter.
        box = plugin_sandbox(
            plugin_id=None, network=network, code=Snapshot(digest="", root=PROJECT_ROOT / "plugins"), writable=work
        )
    except HostLoadError as exc:
        raise BuildError(step, str(exc)) from None
    cache = uv_cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    if box is not None:
        user = HostUser("plugin-build", box.uid, box.gid)
        folder_give(path=work, user=user)
        if os.stat(cache).st_uid != box.uid:
            folder_give(path=cache, user=user)
    local = [Path(path).resolve() for loc in locations if (path := location_local(loc))]
    return Confinement(
        sandbox=box,
        limits=hard_limits(
            memory_mb=BUILD_MEMORY_MB, cpu_seconds=BUILD_TIMEOUT, processes=BUILD_PROCESSES if box else None
        ),
        writable=(str(cache),),
        read_only=(uv.find_uv_bin(), *(str(path) for path in local if path.exists())),
        # The machine's trust store, as pip uses it: an index behind the operator's own CA
        # works. Only with the network: without it /etc/ssl is not there, and uv would stop.
        env={"UV_SYSTEM_CERTS": "1"} if network else {},
    )


@dataclass
class _Steps:
    """The uv steps of one lock or build: one confinement, one deadline."""

    confinement: Confinement
    work: Path
    timeout_seconds: float
    progress: Progress
    max_bytes: int = ENV_MAX_BYTES
    deadline: float = field(init=False)

    def __post_init__(self) -> None:
        self.deadline = time.monotonic() + self.timeout_seconds

    def _late(self, step: str) -> BuildError:
        return BuildError(step, _("it did not finish within %(seconds)g s") % {"seconds": self.timeout_seconds})

    def watch(self) -> str:
        """Why the step must stop now: its work folder (the environment, the project, its
        temporary files) past the size limit, or the disk nearly full ("": neither)."""
        if shutil.disk_usage(self.work).free < DISK_FREE_MIN:
            return _("the disk is nearly full (less than %(free)s MB free)") % {"free": DISK_FREE_MIN // 2**20}
        size = tree_size(self.work)
        if size > self.max_bytes:
            return _size_refusal(size, self.max_bytes)
        return ""

    def run(self, phase: str, argv: list[str]) -> None:
        step = PHASE_STEPS[phase]
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise self._late(step)
        result = step_run(
            argv=argv,
            confinement=self.confinement,
            home=str(self.work),
            timeout=left,
            on_line=lambda line: self.progress(step, line),
            watch=self.watch,
        )
        if result.stopped:
            raise BuildError(step, result.stopped)
        if result.returncode is None:
            raise self._late(step)
        if result.returncode != 0:
            # The work folder's paths say nothing to the reader.
            output = result.output.replace(str(self.work / "src"), "<project>").replace(str(self.work), "<build>")
            message = message_shorten(output) or _("uv stopped with exit code %(code)s") % {"code": result.returncode}
            raise BuildError(failure_step(phase=phase, message=message), message)


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


def _size_refusal(size: int, limit: int) -> str:
    return _("the environment takes %(size)s MB, more than the limit of %(limit)s MB") % {
        "size": size // 2**20,
        "limit": limit // 2**20,
    }


def _built_wheel(folder: Path) -> Path:
    wheels = list(folder.glob("*.whl"))
    if len(wheels) != 1 or wheels[0].is_symlink():
        raise BuildError("build", _("the project's build did not make one wheel"))
    return wheels[0]


def _sources(*, index_url: str | None, find_links: Sequence[str], offline: bool = False) -> UvSources:
    links = tuple(str(Path(local).resolve()) if (local := location_local(link)) else link for link in find_links)
    return UvSources(
        uv=uv.find_uv_bin(), cache=str(uv_cache_dir()), index_url=index_url, find_links=links, offline=offline
    )


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
    with _work() as work:
        identity = ""
        if project is not None and distribution is not None:
            identity = project_digest(project)
            project_copy(source=project, into=work / "src")
        locations = [*find_links, *requirement_urls(requirements)]
        network = network_needed(index_url=index_url, locations=locations)
        confinement = _confinement(work=work, network=network, locations=locations, step="resolve")
        steps = _Steps(confinement, work, timeout_seconds, progress)
        src = _sources(index_url=index_url, find_links=find_links)
        if identity:
            # Built once, here: its metadata says what it requires, and the build after
            # this lock installs this very wheel.
            steps.run(
                "project", wheel_argv(src, python=sys.executable, project=str(work / "src"), out=str(work / "dist"))
            )
            wheel = _built_wheel(work / "dist")
            text += requirements_text(metadata_requirements(_wheel_metadata(wheel)))
            wheel_keep(project=identity, wheel=wheel)
        if not text:
            return ""
        (work / "requirements.in").write_text(text, encoding="utf-8")
        inputs = [str(work / "requirements.in")]
        steps.run("lock", lock_argv(src, python=sys.executable, inputs=inputs, output=str(work / "pins.txt")))
        pins = (work / "pins.txt").read_text(encoding="utf-8")
    try:
        pins_parse(pins)
    except PinsError as exc:
        raise BuildError("resolve", str(exc)) from None
    return pins


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

    ``offline``: from the uv cache alone. BuildError on failure: nothing is left behind.
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
    with _work() as work:
        (work / "pins.txt").write_text(pins, encoding="utf-8")
        built = wheel_find(identity)
        if built is not None:  # by the lock before this build
            (work / "dist").mkdir()
            shutil.copyfile(built, work / "dist" / built.name)
        elif project is not None and distribution is not None:
            project_copy(source=project, into=work / "src")
        locations = [*find_links, *(pin.url for pin in pinned if pin.url)]
        network = network_needed(index_url=index_url, locations=locations) and not offline
        confinement = _confinement(work=work, network=network, locations=locations, step="build")
        steps = _Steps(confinement, work, timeout_seconds, progress, max_bytes)
        src = _sources(index_url=index_url, find_links=find_links, offline=offline)
        target = work / "env"
        python = str(target / "bin" / "python")
        steps.run("venv", venv_argv(src, python=sys.executable, target=str(target)))
        if distribution is not None:
            if built is None:
                steps.run("project", wheel_argv(src, python=python, project=str(work / "src"), out=str(work / "dist")))
            wheel = _built_wheel(work / "dist")
            digest_hex = hashlib.sha256(wheel.read_bytes()).hexdigest()
            (work / "pins.txt").write_text(install_text(pins, wheel=str(wheel), sha256=digest_hex), encoding="utf-8")
        if pinned or distribution is not None:
            steps.run("install", sync_argv(src, python=python, pins_file=str(work / "pins.txt")))
        size = tree_size(target)
        if size > max_bytes:
            raise BuildError("build", _size_refusal(size, max_bytes))
        tree_seal(target)
        try:
            target.rename(final)
        except OSError:
            if environment_find(digest) is None:  # not another build of the same digest
                raise
    progress("build", _("environment %(digest)s is ready") % {"digest": digest[:12]})
    return Environment(path=final, digest=digest, python=str(final / "bin" / "python"))
