"""Set a plugin version up on this machine from what the database records about it.

A version is installed on one machine, but any worker may be asked to run it: on another
machine (its own ``DATA_DIR``, the same database) its code snapshot and its environment
are not there. Before a host of the version starts, :func:`version_provision` makes them
from the version's row: the code from its recorded source (the git commit it resolved
to, the folder, the archive kept in the database, or the index requirement), the
environment from its recorded pins, hashes checked, with the install's own build
(``plugins.environments.build``: confined, the shared uv cache, its time and size
limits). What it makes must be what the version records (the same commit or archive
digest, the same code digest, the same environment digest), or the version is
unavailable on this machine, and the reason says which step failed.

One worker of a machine builds; the others are told at once that the version is being
set up (a file lock in ``DATA_DIR``, per version). Nothing is locked in the database, so
a build on one machine never holds up another.
"""

from __future__ import annotations

import fcntl
import json
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.utils.translation import gettext as _

from plugins.archives import ARCHIVE_MAX_BYTES, archive_restore
from plugins.entrypoints import EntrypointError
from plugins.environments.build import environment_build
from plugins.environments.core import BuildError, PinsError, pins_with_file
from plugins.environments.store import environment_find
from plugins.installplan import InstallError
from plugins.installsource import (
    code_roots,
    environment_site_packages,
    source_fetch_any,
)
from plugins.legacyinstall.tree import legacy_snapshot_take
from plugins.models import PluginApi, PluginVersion, SourceKind
from plugins.sandbox.snapshot import SnapshotError, snapshot_find, snapshot_take
from plugins.snapshots import code_store, version_digest
from plugins.sources.active import build_indexes, fetch_scratch
from plugins.sources.spec import SourceError, source_parse
from plugins.sources.unpack import size_text

log = logging.getLogger(__name__)

CODE, ENVIRONMENT = "code", "environment"  # the part of a version that could not be set up
RETRY_SECONDS = 60.0  # a version that could not be set up is tried again after this


class ProvisionBusy(Exception):
    """Another worker of this machine is setting the version up right now."""


class ProvisionError(Exception):
    """The version cannot be set up on this machine: ``step`` failed (``message`` says
    why) while making its ``part`` (CODE or ENVIRONMENT)."""

    def __init__(self, step: str, message: str, *, part: str) -> None:
        super().__init__(f"{step}: {message}")
        self.step, self.message, self.part = step, message, part


@dataclass(frozen=True, slots=True)
class _Missing:
    code: bool
    environment: bool


def _missing(version: PluginVersion) -> _Missing:
    digest = version_digest(version=version)
    code = bool(digest) and snapshot_find(store=code_store(), plugin=version.plugin.name, digest=digest) is None
    try:
        environment = bool(version.environment) and environment_find(version.environment) is None
    except ValueError:  # not a digest: nothing could be built under that name
        environment = True
    return _Missing(code=code, environment=environment)


def _from_source(version: PluginVersion) -> bool:
    """Whether the version's code came from a source; a plugin root's is deployed with the bot."""
    return version.source_kind != SourceKind.FOLDER or bool(version.source)


def _progress(version: PluginVersion) -> Callable[[str, str], None]:
    def progress(step: str, line: str) -> None:
        log.debug("setting up %s, %s: %s", version, step, line)

    return progress


def _folder() -> Path:
    folder = Path(settings.DATA_DIR) / "plugin-provision"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _failure_key(version: PluginVersion) -> str:
    return f"{version.resolved}/{version_digest(version=version)}/{version.environment}"


def _failure_recent(version: PluginVersion) -> ProvisionError | None:
    """The failure of the last try to set ``version`` up, if it is recent: a source that is
    gone is not fetched again for every command."""
    path = _folder() / f"version-{version.pk}.failed"
    try:
        if time.time() - path.stat().st_mtime > RETRY_SECONDS:
            return None
        failure = json.loads(path.read_text(encoding="utf-8"))
        if failure["key"] != _failure_key(version):
            return None
        return ProvisionError(str(failure["step"]), str(failure["message"]), part=str(failure["part"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _failure_note(version: PluginVersion, error: ProvisionError | None) -> None:
    path = _folder() / f"version-{version.pk}.failed"
    if error is None:
        path.unlink(missing_ok=True)
        return
    failure = {"key": _failure_key(version), "step": error.step, "message": error.message, "part": error.part}
    path.write_text(json.dumps(failure), encoding="utf-8")


@contextmanager
def provision_lock(*, version: PluginVersion) -> Iterator[None]:
    """Hold this machine's lock on setting ``version`` up; ProvisionBusy at once, without
    waiting, when another worker of this machine holds it."""
    with (_folder() / f"version-{version.pk}.lock").open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ProvisionBusy(str(version)) from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def version_provision(*, version: PluginVersion) -> bool:
    """Make sure this machine has ``version``'s code snapshot and environment; True if they
    were set up now, False if they were here already (or come with the bot's plugin roots).

    Raises :class:`ProvisionBusy` at once while another worker of this machine sets them up,
    and :class:`ProvisionError` (step, reason, logged) when they cannot be made; that failure
    is the answer, without a new try, for RETRY_SECONDS.
    """
    if not _from_source(version):
        return False
    missing = _missing(version)
    if not (missing.code or missing.environment):
        return False
    failed = _failure_recent(version)
    if failed is not None:
        raise failed
    with provision_lock(version=version):
        missing = _missing(version)  # the worker that held the lock may have made them
        if not (missing.code or missing.environment):
            return False
        failed = _failure_recent(version)  # or failed to, just now
        if failed is not None:
            raise failed
        log.info("setting up %s on this machine from its %s source %s", version, version.source_kind, version.source)
        try:
            _provision(version, missing)
        except ProvisionError as exc:
            log.warning("%s cannot be set up on this machine: step %s: %s", version, exc.step, exc.message)
            _failure_note(version, exc)
            raise
        _failure_note(version, None)
    log.info("%s is set up on this machine", version)
    return True


@contextmanager
def _making(part: str, step: str) -> Iterator[None]:
    """Report what goes wrong while making ``part`` as a ProvisionError (``step`` unless the
    error names its own): a full disk or an unreadable folder is a reason like any other."""
    try:
        yield
    except InstallError as exc:
        raise ProvisionError(exc.step, exc.message, part=part) from None
    except PinsError as exc:
        raise ProvisionError("resolve", str(exc), part=part) from None
    except OSError as exc:
        raise ProvisionError(step, f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), part=part) from None


def _provision(version: PluginVersion, missing: _Missing) -> None:
    with fetch_scratch() as work:
        if version.source_kind == SourceKind.INDEX:
            # The requirement's code is what its environment installs.
            if missing.environment:
                with _making(ENVIRONMENT, "build"):
                    _environment(version, version.pins, project=None)
            if missing.code:
                with _making(CODE, "manifest"):
                    _code(version, environment_site_packages(version.environment))
            return
        with _making(CODE, "fetch"):
            tree, wheel = _fetch(version, work)
        if missing.environment:
            with _making(ENVIRONMENT, "build"):
                pins = pins_with_file(version.pins, path=str(wheel)) if wheel is not None else version.pins
                _environment(version, pins, project=None if wheel is not None else tree)
        if missing.code:
            with _making(CODE, "manifest"):
                _code(version, tree)


def _fetch(version: PluginVersion, work: Path) -> tuple[Path, Path | None]:
    """The version's tree fetched again, and its wheel when it is one (installed by the pins)."""
    kept = None
    if version.source_kind == SourceKind.ARCHIVE:
        kept = archive_restore(sha256=version.resolved, into=work / "kept")
        if kept is None and not version.source.startswith(("https://", "http://")):
            raise ProvisionError(
                "fetch",
                _(
                    "its archive %(archive)s is not kept in the database (larger than %(limit)s, or installed "
                    "before archives were kept): install it again from a machine that has it"
                )
                % {"archive": version.source, "limit": size_text(ARCHIVE_MAX_BYTES)},
                part=CODE,
            )
    commit = version.resolved if version.source_kind == SourceKind.GIT else ""
    fetched = source_fetch_any(
        source=version.source, ref="", upload=kept, into=work, progress=_progress(version), commit=commit
    )
    if version.source_kind in (SourceKind.GIT, SourceKind.ARCHIVE) and fetched.resolved != version.resolved:
        raise ProvisionError(
            "fetch",
            _("%(source)s now gives %(found)s, not %(recorded)s that the version was installed from")
            % {"source": version.source, "found": fetched.resolved[:12], "recorded": version.resolved[:12]},
            part=CODE,
        )
    return fetched.tree, fetched.archive


def _indexes(version: PluginVersion) -> tuple[str | None, list[str]]:
    """Where the install took distributions from: the same rule, on this machine's settings."""
    try:
        own = source_parse(version.source).index if version.source_kind == SourceKind.INDEX else ""
        return build_indexes(own)
    except SourceError as exc:
        raise ProvisionError("source", str(exc), part=ENVIRONMENT) from None


def _environment(version: PluginVersion, pins: str, *, project: Path | None) -> None:
    index_url, find_links = _indexes(version)
    try:
        built = environment_build(
            pins=pins, project=project, index_url=index_url, find_links=find_links, progress=_progress(version)
        )
    except BuildError as exc:
        raise ProvisionError(exc.step, exc.message, part=ENVIRONMENT) from None
    if built.digest != version.environment:
        raise ProvisionError(
            "build",
            _(
                "its pins built environment %(built)s here, not %(recorded)s that the version records "
                "(another Python, or code that differs): install it again"
            )
            % {"built": built.digest[:12], "recorded": version.environment[:12]},
            part=ENVIRONMENT,
        )


def _code(version: PluginVersion, tree: Path) -> None:
    """Pin the fetched tree as the install did, and check it is the code the version records."""
    name, recorded = version.plugin.name, version_digest(version=version)
    try:
        if version.api == PluginApi.LEGACY:
            module = version.entrypoint.partition(":")[0]
            code = legacy_snapshot_take(plugin=name, module=module, tree=tree, store=code_store())
        else:
            roots = code_roots(tree)
            code = snapshot_take(plugin=name, entrypoint=version.entrypoint, roots=roots, store=code_store())
    except (EntrypointError, SnapshotError) as exc:
        raise ProvisionError("manifest", str(exc), part=CODE) from None
    if code.digest != recorded:
        raise ProvisionError(
            "manifest",
            _("its source now holds other code (%(found)s) than the version was installed with (%(recorded)s)")
            % {"found": code.digest[:12], "recorded": recorded[:12]},
            part=CODE,
        )
