"""The uv steps of one lock or build: where they run, what they see, and their limits.

Two kinds of confinement, each like a plugin host's (``plugins.environments.run``): the
steps that write the shared uv cache run no package code (``--no-build``; building the
venv); every step that runs package code (a build backend, a ``setup.py``) runs apart
(``Steps.apart``), in a folder of its own with a throwaway cache, and sees neither the
shared cache nor the rest of the work folder. So nothing a package's build does reaches
the cache that the builds of other plugins read, nor what they left there.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import uv
from django.conf import settings
from django.utils.translation import gettext as _

from plugins.environments.core import PHASE_STEPS, BuildError, UvSources, failure_step, location_local, message_shorten
from plugins.environments.run import Confinement, step_run
from plugins.environments.store import WORK_PREFIX, environments_dir, tree_size, uv_cache_dir
from plugins.sandbox.confine import hard_limits
from plugins.sandbox.host import PROJECT_ROOT, HostLoadError
from plugins.sandbox.privileges import HostUser, folder_give
from plugins.sandbox.snapshot import Snapshot
from plugins.sandbox.system import tool_problem

BUILD_TIMEOUT = 600.0  # seconds for a whole lock or build (below the cleaning grace period)
ENV_MAX_BYTES = 4 * 1024**3
BUILD_MEMORY_MB = 4096  # address space: uv and a compiler need far more than a plugin host
DISK_FREE_MIN = 512 * 2**20  # a build stops before it fills the disk
BUILD_PROCESSES = 512  # processes and threads of the build uid (uv runs a thread per core)
Progress = Callable[[str, str], None]  # (step, line)


@contextlib.contextmanager
def work_folder() -> Iterator[Path]:
    root = environments_dir()
    root.mkdir(parents=True, exist_ok=True)
    os.chmod(root, 0o755)  # noqa: S103 - every plugin uid reaches its environment
    work = Path(tempfile.mkdtemp(prefix=WORK_PREFIX, dir=root))
    (work / "tmp").mkdir()
    try:
        yield work
    finally:
        shutil.rmtree(work, ignore_errors=True)


def confinement(
    *, work: Path, network: bool, locations: Sequence[str], step: str, shared_cache: bool = True
) -> Confinement:
    """How uv steps run in ``work``; ``locations``: the find-links folders, direct
    references and folders they read, the local ones bound read-only. ``shared_cache``
    False: the shared uv cache is not there at all."""
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
    if shared_cache:
        cache.mkdir(parents=True, exist_ok=True)
    if box is not None:
        user = HostUser("plugin-build", box.uid, box.gid)
        folder_give(path=work, user=user)
        if shared_cache and os.stat(cache).st_uid != box.uid:
            folder_give(path=cache, user=user)
    local = [Path(path).resolve() for loc in locations if (path := location_local(loc))]
    return Confinement(
        sandbox=box,
        limits=hard_limits(
            memory_mb=BUILD_MEMORY_MB, cpu_seconds=BUILD_TIMEOUT, processes=BUILD_PROCESSES if box else None
        ),
        writable=(str(cache),) if shared_cache else (),
        read_only=(uv.find_uv_bin(), *(str(path) for path in local if path.exists())),
        # The machine's trust store, as pip uses it: an index behind the operator's own CA
        # works. Only with the network: without it /etc/ssl is not there, and uv would stop.
        env={"UV_SYSTEM_CERTS": "1"} if network else {},
    )


def size_refusal(size: int, limit: int) -> str:
    return _("the environment takes %(size)s MB, more than the limit of %(limit)s MB") % {
        "size": size // 2**20,
        "limit": limit // 2**20,
    }


@dataclass
class Steps:
    """The uv steps of one lock or build: one work folder, one deadline; each step in
    ``home`` (the work folder, or a folder of it for the steps that run apart)."""

    confinement: Confinement
    work: Path
    timeout_seconds: float
    progress: Progress
    max_bytes: int = ENV_MAX_BYTES
    home: Path | None = None  # None: the work folder
    deadline: float = field(default=0.0)

    def __post_init__(self) -> None:
        self.deadline = self.deadline or time.monotonic() + self.timeout_seconds

    @property
    def here(self) -> Path:
        """The folder the steps run in."""
        return self.home or self.work

    def _late(self, step: str) -> BuildError:
        return BuildError(step, _("it did not finish within %(seconds)g s") % {"seconds": self.timeout_seconds})

    def watch(self) -> str:
        """Why the step must stop now: its work folder (the environment, the project, its
        temporary files) past the size limit, or the disk nearly full ("": neither)."""
        if shutil.disk_usage(self.work).free < DISK_FREE_MIN:
            return _("the disk is nearly full (less than %(free)s MB free)") % {"free": DISK_FREE_MIN // 2**20}
        size = tree_size(self.work)
        if size > self.max_bytes:
            return size_refusal(size, self.max_bytes)
        return ""

    def apart(self, name: str, *, network: bool, locations: Sequence[str], src: UvSources) -> tuple[Steps, UvSources]:
        """Steps that run package code, in the new folder ``name`` of the work folder (what
        they read must be copied there or be in ``locations``), and the sources to give
        uv there: the same, with a throwaway cache of their own."""
        folder = self.work / name
        (folder / "tmp").mkdir(parents=True)
        box = confinement(work=folder, network=network, locations=locations, step="build", shared_cache=False)
        return replace(self, confinement=box, home=folder), replace(src, cache=str(folder / "cache"))

    def run(self, phase: str, argv: list[str], *, check: bool = True) -> None:
        step = PHASE_STEPS[phase]
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise self._late(step)
        result = step_run(
            argv=argv,
            confinement=self.confinement,
            home=str(self.here),
            timeout=left,
            on_line=lambda line: self.progress(step, line),
            watch=self.watch,
        )
        if result.stopped:
            raise BuildError(step, result.stopped)
        if result.returncode is None:
            raise self._late(step)
        if result.returncode != 0 and check:
            # The work folder's paths say nothing to the reader.
            output = result.output.replace(str(self.here / "src"), "<project>").replace(str(self.work), "<build>")
            message = message_shorten(output) or _("uv stopped with exit code %(code)s") % {"code": result.returncode}
            raise BuildError(failure_step(phase=phase, message=message), message)
