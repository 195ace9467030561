"""Fetch a plugin's code from its source into a folder, and say what it resolved to.

- git: the repository is kept as a bare clone in a cache folder (one per URL), so a
  second fetch only fetches what is new; the ref (tag, branch or commit; the remote's
  default branch when none is given) is resolved to a full commit SHA, and that commit's
  files are exported into the tree through the same checks as an archive (no ``.git`` in
  the tree). git runs without hooks, without prompts, with only the protocols the source
  needs and within a time limit; no code of the plugin runs.
- archive: downloaded (a URL) or copied (a path), kept beside the tree for the installer,
  and unpacked safely (:mod:`plugins.sources.unpack`); resolved is its SHA-256.
- folder: copied without caches; resolved is the SHA-256 of the files copied.
- index: nothing to fetch here. The environment builder resolves the requirement and
  records the version it found; :func:`source_fetch` returns ``tree=None`` and
  ``resolved=""``.

Progress goes to ``progress(step, line)`` with the steps ``clone``, ``download``,
``unpack`` and ``copy``.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import IO
from urllib.parse import unquote, urlsplit

from plugins.sources.spec import Source, SourceError
from plugins.sources.unpack import CHUNK, FetchLimits, archive_unpack, file_sha256, folder_copy, size_text

Progress = Callable[[str, str], None]
MESSAGE_CHARS = 400
REMOTE_PROTOCOLS = "https:http:ssh:git"
DEFAULT_LIMITS = FetchLimits()


@dataclass(frozen=True, slots=True)
class Fetched:
    """The plugin's files (``tree``; None for an index source), what the source resolved to
    (a commit SHA, or a SHA-256), and for an archive, the archive file itself."""

    tree: Path | None
    resolved: str
    archive: Path | None = None


def shorten(text: str, limit: int = MESSAGE_CHARS) -> str:
    """A tool's message on one line, at most ``limit`` characters."""
    lines = [line.strip() for line in re.split(r"[\r\n]+", text) if line.strip()]
    # git prints hints after the error; the error lines are what the operator needs.
    errors = [line for line in lines if line.lower().startswith(("fatal:", "error:"))]
    joined = " ".join(errors or lines)
    return joined if len(joined) <= limit else joined[: limit - 1] + "…"


def _git_env(local: bool) -> dict[str, str]:
    env = dict(os.environ)
    env["GIT_TERMINAL_PROMPT"] = "0"
    env["GIT_ALLOW_PROTOCOL"] = "file" if local else REMOTE_PROTOCOLS
    env["GCM_INTERACTIVE"] = "never"
    if "GIT_SSH_COMMAND" not in env and "GIT_SSH" not in env:
        env["GIT_SSH_COMMAND"] = "ssh -o BatchMode=yes"
    return env


def _git(args: list[str], *, local: bool, limits: FetchLimits, progress: Progress | None = None) -> str:
    """Run git without hooks; stream its stderr to ``progress``; return stdout."""
    config = ["-c", "core.hooksPath=/dev/null", "-c", f"protocol.file.allow={'always' if local else 'never'}"]
    cmd = ["git", *config, *args]
    timed_out = threading.Event()
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(
            cmd,
            stdout=out,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            env=_git_env(local),
            start_new_session=True,  # its ssh and helpers are killed with it
        )

        def kill() -> None:
            timed_out.set()
            with suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)

        timer = threading.Timer(limits.timeout_seconds, kill)
        timer.start()
        errors: deque[str] = deque(maxlen=50)  # what failed is at the end
        try:
            assert proc.stderr is not None
            for line in _lines(proc.stderr):
                errors.append(line)
                if progress is not None:
                    progress("clone", line)
            proc.wait()
        finally:
            timer.cancel()
            if proc.poll() is None:
                kill()
                proc.wait()
        if timed_out.is_set():
            raise SourceError(f"git {_verb(args)} took longer than {limits.timeout_seconds:g} s")
        if proc.returncode != 0:
            message = shorten("\n".join(errors)) or f"exit status {proc.returncode}"
            raise SourceError(f"git {_verb(args)} failed: {message}")
        out.seek(0)
        return out.read().decode("utf-8", "replace")


def _verb(args: list[str]) -> str:
    return args[2] if args[0] == "--git-dir" else args[0]


def _lines(stream: IO[bytes]) -> Iterator[str]:
    """Lines of git's progress output, which ends them with carriage returns as well."""
    buffer = b""
    read = getattr(stream, "read1", stream.read)
    while chunk := read(4096):
        buffer += chunk
        *done, buffer = re.split(rb"[\r\n]", buffer)
        yield from (line.decode("utf-8", "replace") for line in done if line.strip())
    if buffer.strip():
        yield buffer.decode("utf-8", "replace")


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (fetches of one repository never overlap)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _git_url(source: Source) -> str:
    # A local path is given to git as a file:// URL, so that git uses its file protocol
    # (the one GIT_ALLOW_PROTOCOL names) rather than copying the folder's objects.
    return Path(source.location).as_uri() if source.location.startswith("/") else source.location


def _mirror(source: Source, *, cache: Path, limits: FetchLimits, progress: Progress) -> Path:
    """The bare clone of ``source`` in ``cache``, created or brought up to date."""
    url = _git_url(source)
    mirror = cache / (hashlib.sha256(url.encode()).hexdigest()[:32] + ".git")
    local = source.local
    if not (mirror / "HEAD").is_file():
        shutil.rmtree(mirror, ignore_errors=True)
        partial = Path(tempfile.mkdtemp(prefix=".clone-", dir=cache))
        try:
            _git(
                ["clone", "--bare", "--progress", "--", url, str(partial)],
                local=local,
                limits=limits,
                progress=progress,
            )
            partial.rename(mirror)
        finally:
            shutil.rmtree(partial, ignore_errors=True)
        return mirror
    refspecs = ["+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"]
    fetch = ["--git-dir", str(mirror), "fetch", "--prune", "--prune-tags", "--force", "--progress", "--", url]
    _git([*fetch, *refspecs], local=local, limits=limits, progress=progress)
    return mirror


def _resolve(mirror: Path, ref: str, *, local: bool, limits: FetchLimits) -> str:
    name = ref or "HEAD"
    try:
        out = _git(
            ["--git-dir", str(mirror), "rev-parse", "--verify", "--end-of-options", f"{name}^{{commit}}"],
            local=local,
            limits=limits,
        )
    except SourceError:
        what = f"ref {ref!r}" if ref else "a default branch"
        raise SourceError(f"the repository has no {what} (no such tag, branch or commit)") from None
    return out.strip()


def _git_fetch(source: Source, *, into: Path, cache: Path, limits: FetchLimits, progress: Progress) -> Fetched:
    cache.mkdir(parents=True, exist_ok=True)
    key = hashlib.sha256(_git_url(source).encode()).hexdigest()[:32]
    lock = cache / f"{key}.lock"
    with _locked(lock):
        os.utime(lock)  # the clone's last use, for git_cache_prune
        mirror = _mirror(source, cache=cache, limits=limits, progress=progress)
        commit = _resolve(mirror, source.ref, local=source.local, limits=limits)
        progress("unpack", f"checking out {commit}")
        with tempfile.TemporaryDirectory(dir=cache) as tmp:
            tarball = Path(tmp) / "tree.tar"
            archive_args = ["--git-dir", str(mirror), "archive", "--format=tar", "-o", str(tarball), commit]
            _git(archive_args, local=source.local, limits=limits)
            archive_unpack(tarball, into=into, limits=limits, single_top=False, what="repository")
    return Fetched(tree=into, resolved=commit)


def git_cache_prune(cache: Path, *, unused_seconds: float, now: float | None = None) -> list[Path]:
    """Remove the clones in ``cache`` that no fetch used for ``unused_seconds``; return them.

    A clone being fetched right now is kept (its lock is held).
    """
    removed: list[Path] = []
    moment = time.time() if now is None else now
    for lock in sorted(cache.glob("*.lock")) if cache.is_dir() else []:
        with lock.open("a") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue
            try:
                if moment - lock.stat().st_mtime < unused_seconds:
                    continue
                mirror = lock.with_suffix(".git")
                shutil.rmtree(mirror, ignore_errors=True)
                lock.unlink(missing_ok=True)
                removed.append(mirror)
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
    return removed


class _SameScheme(urllib.request.HTTPRedirectHandler):
    """Follow redirects, but never from https to anything else."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[no-untyped-def]
        if urlsplit(req.full_url).scheme == "https" and urlsplit(newurl).scheme != "https":
            raise SourceError(f"{req.full_url} redirects to {newurl}, which is not https")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _download(url: str, dest: Path, *, limits: FetchLimits, progress: Progress) -> None:
    opener = urllib.request.build_opener(_SameScheme)
    progress("download", url)
    try:
        with opener.open(url, timeout=limits.timeout_seconds) as response, dest.open("xb") as out:
            total = 0
            while chunk := response.read(CHUNK):
                total += len(chunk)
                if total > limits.max_bytes:
                    raise SourceError(f"{url} is larger than {size_text(limits.max_bytes)}: refused")
                out.write(chunk)
                progress("download", f"{total} bytes")
    except urllib.error.HTTPError as exc:
        raise SourceError(f"download of {url} failed: HTTP {exc.code} {shorten(str(exc.reason))}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise SourceError(f"download of {url} failed: {shorten(str(reason))}") from None


def _archive_fetch(source: Source, *, into: Path, limits: FetchLimits, progress: Progress) -> Fetched:
    into.mkdir(parents=True, exist_ok=True)
    location = source.location
    path = unquote(urlsplit(location).path) if "://" in location else location
    kept = into / Path(path).name
    if location.startswith(("https://", "http://")):
        _download(location, kept, limits=limits, progress=progress)
    else:
        try:
            if Path(path).stat().st_size > limits.max_bytes:
                raise SourceError(f"{Path(path).name} is larger than {size_text(limits.max_bytes)}: refused")
            shutil.copyfile(path, kept)
        except OSError as exc:
            raise SourceError(f"cannot read {path}: {exc.strerror}") from None
    digest = file_sha256(kept)
    progress("unpack", f"{kept.name} sha256:{digest}")
    tree = archive_unpack(kept, into=into / "tree", limits=limits)
    return Fetched(tree=tree, resolved=digest, archive=kept)


def source_fetch(
    source: Source,
    *,
    into: Path,
    progress: Progress,
    cache: Path | None = None,
    limits: FetchLimits = DEFAULT_LIMITS,
) -> Fetched:
    """Put the code of ``source`` under ``into`` (absent or empty) and say what it resolved to.

    ``cache`` keeps git clones between fetches (a temporary one when None). The tree is
    ``into`` for git and folders; for an archive, the archive is kept as
    ``into/<file name>`` and unpacked under ``into/tree``. Raise :class:`SourceError`
    with the tool's own message, shortened, when a step fails; ``into`` is then left as
    it was (absent or empty).
    """
    existed = into.exists()
    if existed and any(into.iterdir()):
        raise SourceError(f"{into} is not empty")
    if source.kind == "index":
        return Fetched(tree=None, resolved="")
    try:
        return _fetch(source, into=into, progress=progress, cache=cache, limits=limits)
    except BaseException:
        _empty(into, keep=existed)
        raise


def _empty(into: Path, *, keep: bool) -> None:
    if not keep:
        shutil.rmtree(into, ignore_errors=True)
        return
    for child in into.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child, ignore_errors=True)
        else:
            child.unlink(missing_ok=True)


def _fetch(source: Source, *, into: Path, progress: Progress, cache: Path | None, limits: FetchLimits) -> Fetched:
    if source.kind == "archive":
        return _archive_fetch(source, into=into, limits=limits, progress=progress)
    if source.kind == "folder":
        progress("copy", source.location)
        if not Path(source.location).is_dir():
            raise SourceError(f"{source.location} is not a folder")
        return Fetched(tree=into, resolved=folder_copy(Path(source.location), into=into, limits=limits))
    if cache is not None:
        return _git_fetch(source, into=into, cache=cache, limits=limits, progress=progress)
    with tempfile.TemporaryDirectory(prefix="sessionbot-git-") as tmp:
        return _git_fetch(source, into=into, cache=Path(tmp), limits=limits, progress=progress)
