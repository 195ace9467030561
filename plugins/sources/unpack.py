"""Write a plugin's files into a folder without letting an archive write anywhere else.

Every entry of a wheel, an sdist, a zip or a tar, or of a local folder being copied, goes
through :class:`TreeWriter`, which refuses absolute paths, ``..``, writing through a link,
links that lead out of the folder, devices, and more files or bytes than the limits allow.
The first refusal stops the whole unpacking with a :class:`SourceError`.
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import lzma
import os
import posixpath
import stat
import tarfile
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from plugins.sources.spec import SourceError

CHUNK = 1024 * 1024
# What reading a damaged or unsupported archive raises (an encrypted zip: RuntimeError).
TAR_ERRORS = (tarfile.TarError, EOFError, OSError, zlib.error, lzma.LZMAError)
ZIP_ERRORS = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    EOFError,
    OSError,
    zlib.error,
    RuntimeError,
    NotImplementedError,
)
# Compressed tars by their first bytes, opened to be read through once before unpacking.
COMPRESSED: dict[bytes, Callable[..., Any]] = {b"\x1f\x8b": gzip.open, b"BZh": bz2.open, b"\xfd7zXZ\x00": lzma.open}
PROJECT_FILES = ("pyproject.toml", "setup.py", "setup.cfg", "sessionbot-plugin.yaml")


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class Digest(Protocol):
    def update(self, data: bytes, /) -> None: ...


# Left out of a copied folder and of its digest: caches and other tools' metadata.
SKIPPED_DIRS = frozenset({"__pycache__", ".git", ".hg", ".svn", ".mypy_cache", ".pytest_cache", ".ruff_cache", ".venv"})


@dataclass(frozen=True, slots=True)
class FetchLimits:
    """At most ``max_bytes`` written (and downloaded), ``max_files`` entries, and git
    commands that end within ``timeout_seconds``."""

    max_bytes: int = 512 * 1024 * 1024
    max_files: int = 20000
    timeout_seconds: float = 300.0


def size_text(n: int) -> str:
    """``n`` bytes for a message: ``512 MB`` or, below one MB, ``900 bytes``."""
    return f"{n / (1024 * 1024):g} MB" if n >= 1024 * 1024 else f"{n} bytes"


class TreeWriter:
    """Create files, folders and links under ``root``, refusing any that would leave it."""

    def __init__(self, root: Path, limits: FetchLimits, *, what: str = "archive") -> None:
        root.mkdir(parents=True, exist_ok=True)
        self.root = root.resolve()
        self.limits, self.what = limits, what
        self.bytes = self.files = 0
        self._links: list[Path] = []

    def refuse(self, name: str, why: str) -> SourceError:
        return SourceError(f"{self.what} entry {name!r} {why}: refused")

    def _dest(self, name: str) -> Path:
        if not name or name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":") or "\0" in name:
            raise self.refuse(name, "has an absolute path")
        parts = [p for p in name.replace("\\", "/").split("/") if p not in ("", ".")]
        if ".." in parts:
            raise self.refuse(name, "leads out of the folder (..)")
        if not parts:
            return self.root
        self.files += 1
        if self.files > self.limits.max_files:
            raise SourceError(f"the {self.what} has more than {self.limits.max_files} files: refused")
        dest = self.root.joinpath(*parts)
        parent = dest.parent
        parent.mkdir(parents=True, exist_ok=True)
        if not parent.resolve().is_relative_to(self.root):
            raise self.refuse(name, "is written through a link")
        if dest.is_symlink() or (dest.exists() and not dest.is_dir()):
            raise self.refuse(name, "is written twice")
        return dest

    def folder(self, name: str) -> None:
        self._dest(name).mkdir(exist_ok=True)

    def file(self, name: str, stream: Readable, *, executable: bool = False) -> None:
        dest = self._dest(name)
        if dest.is_dir():
            raise self.refuse(name, "is written twice")
        with dest.open("xb") as out:
            while chunk := stream.read(CHUNK):
                self.bytes += len(chunk)
                if self.bytes > self.limits.max_bytes:
                    raise SourceError(
                        f"the {self.what} unpacks to more than {size_text(self.limits.max_bytes)}: refused"
                    )
                out.write(chunk)
        dest.chmod(0o755 if executable else 0o644)

    def link(self, name: str, target: str) -> None:
        dest = self._dest(name)
        rel = dest.relative_to(self.root).parent
        if target.startswith("/") or not target:
            raise self.refuse(name, f"links to an absolute path ({target})")
        if posixpath.normpath(posixpath.join(str(rel), target)).split("/")[0] == "..":
            raise self.refuse(name, f"links out of the folder ({target})")
        dest.symlink_to(target)
        self._links.append(dest)

    def finish(self) -> None:
        """Check where every link really leads, now that all of them exist."""
        for link in self._links:
            if not Path(os.path.realpath(link)).is_relative_to(self.root):
                name = str(link.relative_to(self.root))
                raise self.refuse(name, f"links out of the folder ({os.readlink(link)})")


def _tar_check(path: Path, limits: FetchLimits) -> None:
    """Read a compressed tar through once: its checksum is checked at its end (which
    unpacking may not reach), and what it expands to is measured before anything is written."""
    with path.open("rb") as head:
        magic = head.read(6)
    opener = next((open_ for prefix, open_ in COMPRESSED.items() if magic.startswith(prefix)), None)
    if opener is None:
        return
    # Tar adds a 512-byte header to each entry and pads each file to 512 bytes.
    allowed = limits.max_bytes + limits.max_bytes // 10 + 1024 * 1024
    total = 0
    with opener(path, "rb") as stream:
        while chunk := stream.read(CHUNK):
            total += len(chunk)
            if total > allowed:
                raise SourceError(f"the archive unpacks to more than {size_text(limits.max_bytes)}: refused")


def _tar_unpack(path: Path, writer: TreeWriter) -> None:
    try:
        _tar_check(path, writer.limits)
        with tarfile.open(path, mode="r:*") as tar:
            for member in tar:
                if member.isdir():
                    writer.folder(member.name)
                elif member.isfile():
                    stream = tar.extractfile(member)
                    assert stream is not None
                    writer.file(member.name, stream, executable=bool(member.mode & 0o111))
                elif member.issym():
                    writer.link(member.name, member.linkname)
                elif member.islnk():
                    raise writer.refuse(member.name, "is a hard link")
                else:
                    raise writer.refuse(member.name, "is a device or a pipe")
    except TAR_ERRORS as exc:
        raise SourceError(f"{path.name} is not a readable tar archive ({exc})") from None


def _zip_unpack(path: Path, writer: TreeWriter) -> None:
    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                mode = info.external_attr >> 16
                if info.is_dir():
                    writer.folder(info.filename)
                elif stat.S_ISLNK(mode):
                    if info.file_size > 4096:
                        raise writer.refuse(info.filename, "is a link with a target too long")
                    writer.link(info.filename, archive.read(info).decode("utf-8", "replace"))
                else:
                    with archive.open(info) as stream:
                        writer.file(info.filename, stream, executable=bool(mode & 0o111))
    except (
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        EOFError,
        OSError,
        zlib.error,
        RuntimeError,
        NotImplementedError,
    ) as exc:
        raise SourceError(f"{path.name} is not a readable zip archive ({exc})") from None


def archive_unpack(
    path: Path, *, into: Path, limits: FetchLimits, single_top: bool = True, what: str = "archive"
) -> Path:
    """Unpack the archive at ``path`` into ``into``; return the plugin's tree.

    The tree is the one folder the archive holds at its top when that folder is a project
    (an sdist's ``name-1.0/``, a zip of a repository: it holds a ``setup.py``,
    ``pyproject.toml`` or ``sessionbot-plugin.yaml``) and ``single_top``; else ``into``.
    """
    writer = TreeWriter(into, limits, what=what)
    if path.name.lower().endswith((".whl", ".zip")):
        _zip_unpack(path, writer)
    else:
        _tar_unpack(path, writer)
    writer.finish()
    top = list(into.iterdir())
    project = len(top) == 1 and top[0].is_dir() and not top[0].is_symlink()
    if single_top and project and any((top[0] / marker).is_file() for marker in PROJECT_FILES):
        return top[0]
    return into


def folder_copy(source: Path, *, into: Path, limits: FetchLimits) -> str:
    """Copy the folder ``source`` into ``into``; return the SHA-256 of what was copied.

    Caches and version-control folders are left out. A link that stays inside the folder
    is copied as the file it leads to; one that leads out is refused.
    """
    writer = TreeWriter(into, limits, what="folder")
    inside = source.resolve()
    digest = hashlib.sha256()
    for folder, dirs, names in os.walk(source):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS)
        rel_folder = Path(folder).relative_to(source)
        for d in dirs:
            _check_inside(Path(folder) / d, inside, writer)
            writer.folder(str(rel_folder / d))
        for name in sorted(names):
            path = Path(folder) / name
            if name.endswith((".pyc", ".pyo")):
                continue
            _check_inside(path, inside, writer)
            if not path.is_file():
                raise writer.refuse(str(rel_folder / name), "is not a regular file")
            rel = str(rel_folder / name)
            executable = bool(path.stat().st_mode & 0o111)
            with path.open("rb") as stream:
                before = writer.bytes
                writer.file(rel, _Hashing(stream, digest, rel, executable), executable=executable)
                digest.update(b"\0" + (writer.bytes - before).to_bytes(8, "big"))
    return digest.hexdigest()


def _check_inside(path: Path, inside: Path, writer: TreeWriter) -> None:
    if not path.resolve().is_relative_to(inside):
        rel = str(path.relative_to(inside)) if path.is_relative_to(inside) else str(path)
        raise writer.refuse(rel, f"links out of the folder ({os.readlink(path) if path.is_symlink() else path})")


class _Hashing:
    """A stream that adds the file's name, mode and bytes to ``digest`` as it is read."""

    def __init__(self, stream: Readable, digest: Digest, rel: str, executable: bool) -> None:
        self.stream, self.digest = stream, digest
        digest.update(rel.encode() + b"\0" + (b"x" if executable else b"-"))

    def read(self, size: int = -1, /) -> bytes:
        chunk = self.stream.read(size)
        self.digest.update(chunk)
        return chunk


def file_sha256(path: Path) -> str:
    """The SHA-256 of the file at ``path``, in hex."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
