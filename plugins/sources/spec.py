"""Where a plugin's code comes from: one line of text classified as a :class:`Source`.

Pure module: no Django, no I/O. The one question it cannot answer from the text alone,
whether a local path is a repository, a folder or a file, is asked of ``local`` (by
default :func:`local_kind`, a thin look at the file system), so table tests can pass a
plain function instead.

Accepted forms:

- git: ``https://host/owner/repo``, ``http://``, ``ssh://``, ``git://``, ``file://``,
  ``git+https://`` (pip's spelling), ``user@host:path`` (scp form), or a local folder
  that holds ``.git``; a ref (tag, branch or commit) after a final ``@`` in the path, or
  given as ``ref``.
- archive: a local file or an ``https://``/``http://``/``file://`` URL ending in
  ``.whl``, ``.tar.gz``, ``.tgz``, ``.tar`` or ``.zip``.
- folder: a local folder without ``.git``.
- index: a PEP 508 requirement (``name==1.2``), optionally followed by
  ``--index-url URL`` or given ``index``; no index means the default one (PyPI).
- ``name @ URL`` (a PEP 508 direct reference) is the git repository or archive at URL.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import unquote, urlsplit

from packaging.requirements import InvalidRequirement, Requirement

SourceKindName = Literal["git", "archive", "folder", "index"]
LocalKind = Literal["repo", "folder", "file", ""]

ARCHIVE_SUFFIXES = (".whl", ".tar.gz", ".tgz", ".tar", ".zip")
GIT_SCHEMES = ("https", "http", "ssh", "git", "file")
# user@host:path, git's scp form; the host has no "/" and the path does not start with "//".
SCP = re.compile(r"^(?P<user>[A-Za-z0-9._~-]+)@(?P<host>[A-Za-z0-9.-]+):(?P<path>(?!//)[^\s]+)$")
# A git ref as git check-ref-format accepts it, narrowed to safe characters; never an option.
REF = re.compile(r"^(?!-)(?!/)(?!.*\.\.)(?!.*//)(?!.*@\{)[A-Za-z0-9._/+-]{1,200}(?<![./])(?<!\.lock)$")
INDEX_FLAG = re.compile(r"\s+(?:--index-url|-i)(?:\s+|=)(\S+)\s*$")


class SourceError(ValueError):
    """A source that cannot be used; ``str()`` is one line saying why."""


@dataclass(frozen=True, slots=True)
class Source:
    """A classified source.

    ``location``: the URL as given (``git+`` removed), or the absolute local path, or the
    requirement for an index. ``ref``: the git ref asked for ("" = the remote's default
    branch). ``index``: the index URL for an index source ("" = the default index).
    ``upload``: an archive uploaded through the admin (the uploads rule applies).
    """

    kind: SourceKindName
    location: str
    ref: str = ""
    index: str = ""
    upload: bool = False

    @property
    def local(self) -> bool:
        """Whether the source is on this machine (a path or a ``file://`` URL)."""
        return self.kind == "folder" or self.location.startswith("/") or self.location.startswith("file://")


def local_kind(path: str) -> LocalKind:
    """What ``path`` is on this machine: a repository, a folder, a file, or "" (nothing)."""
    p = Path(path)
    if p.is_dir():
        return "repo" if (p / ".git").exists() else "folder"
    return "file" if p.is_file() else ""


def _is_archive(path: str) -> bool:
    return path.lower().endswith(ARCHIVE_SUFFIXES)


def _ref_check(ref: str) -> str:
    if ref and not REF.match(ref):
        raise SourceError(f"{ref!r} is not a git tag, branch or commit")
    return ref


def _ref_merge(given: str, written: str, text: str) -> str:
    if given and written and given != written:
        raise SourceError(f"{text!r} names ref {written!r}, but the ref given is {given!r}")
    return _ref_check(given or written)


def _split_ref(path: str, text: str) -> tuple[str, str]:
    """Split ``repo@ref`` at the first "@" of the path part (a ref may contain "/")."""
    head, sep, ref = path.partition("@")
    if sep and not ref:
        raise SourceError(f"{text!r} ends with @ but names no ref")
    return head, ref


def _dots_check(text: str, path: str) -> None:
    if any(segment in (".", "..") for segment in unquote(path).split("/")):
        raise SourceError(f"{text!r}: write the path without . or .. segments")


def _url(text: str, ref: str) -> Source:
    url = text.removeprefix("git+")
    parts = urlsplit(url)
    _dots_check(text, parts.path)
    scheme = parts.scheme.lower()
    if scheme not in GIT_SCHEMES:
        raise SourceError(f"{text!r}: {scheme}:// is not a source (use https, ssh, git or file)")
    if scheme != "file" and not parts.hostname:
        raise SourceError(f"{text!r} names no host")
    try:
        parts.port  # noqa: B018 - urlsplit checks the port when it is read
    except ValueError:
        raise SourceError(f"{text!r}: the port is not a number from 0 to 65535") from None
    if (parts.hostname or "").startswith("-"):
        raise SourceError(f"{text!r}: a host name cannot start with -")
    if parts.password is not None or (parts.username is not None and scheme in ("https", "http")):
        raise SourceError(f"{text!r} carries credentials: give them to git (a credential helper), not in the URL")
    if scheme == "file" and parts.netloc not in ("", "localhost"):
        raise SourceError(f"{text!r}: a file:// URL names a path on this machine (file:///path)")
    if _is_archive(parts.path):
        if ref:
            raise SourceError(f"{text!r} is an archive: a ref applies to git repositories only")
        if (parts.query or parts.fragment) and scheme not in ("https", "http"):
            raise SourceError(f"{text!r}: a file:// URL has no ?query or #fragment")
        return Source("archive", url)
    if parts.query or parts.fragment:
        raise SourceError(f"{text!r}: a repository URL has no ?query or #fragment")
    path, written = _split_ref(parts.path, text)
    base = url[: len(url) - len(parts.path)] + path
    return Source("git", base, _ref_merge(ref, written, text))


def _scp(text: str, ref: str) -> Source:
    match = SCP.match(text)
    assert match is not None
    if match["host"].startswith("-"):
        raise SourceError(f"{text!r}: a host name cannot start with -")
    _dots_check(text, match["path"])
    path, written = _split_ref(match["path"], text)
    return Source("git", f"{match['user']}@{match['host']}:{path}", _ref_merge(ref, written, text))


def _local(text: str, ref: str, local: Callable[[str], LocalKind]) -> Source | None:
    """A local path, or None when ``text`` is not one (and does not look like one)."""
    path = os.path.abspath(os.path.expanduser(text))
    looks_local = text.startswith(("/", "./", "../", "~")) or text in (".", "..")
    kind = local(path)
    written = ""
    if not kind and "@" in text:
        head, _, written = text.rpartition("@")
        head_path = os.path.abspath(os.path.expanduser(head))
        if local(head_path) == "repo":
            path, kind = head_path, "repo"
    if kind == "repo":
        return Source("git", path, _ref_merge(ref, written, text))
    if ref and kind:
        raise SourceError(f"{text!r} is not a git repository: a ref applies to git repositories only")
    if kind == "folder":
        return Source("folder", path)
    if kind == "file":
        if not _is_archive(path):
            raise SourceError(f"{text!r} is a file but not an archive ({', '.join(ARCHIVE_SUFFIXES)})")
        return Source("archive", path)
    if looks_local:
        raise SourceError(f"{text!r}: no such folder or file")
    return None


def _requirement(text: str, ref: str, index: str) -> Source:
    flag = INDEX_FLAG.search(text)
    if flag:
        if index and index != flag[1]:
            raise SourceError(f"{text!r} names index {flag[1]!r}, but the index given is {index!r}")
        index, text = flag[1], text[: flag.start()]
    try:
        req = Requirement(text)
    except InvalidRequirement:
        raise SourceError(
            f"{text!r} is not a source: give a git URL, an archive, a folder or a requirement such as name==1.2"
        ) from None
    if req.url:
        if index:
            raise SourceError(f"{text!r} names its URL: an index does not apply")
        return _url(req.url, ref)
    if ref:
        raise SourceError(f"{text!r} is a requirement: a ref applies to git repositories only")
    if index:
        parts = urlsplit(index)
        if parts.scheme not in ("https", "http", "file") or (parts.scheme != "file" and not parts.hostname):
            raise SourceError(f"{index!r} is not an index URL such as https://pypi.org/simple")
        if parts.password is not None:
            raise SourceError(f"{index!r} carries credentials: configure them for the installer, not in the URL")
    return Source("index", str(req), index=index)


def source_parse(
    text: str, *, ref: str = "", index: str = "", local: Callable[[str], LocalKind] = local_kind
) -> Source:
    """Classify ``text`` as a git repository, an archive, a folder or an index requirement.

    ``ref`` is the git ref asked for besides the text (it must agree with an ``@ref``
    written in the text); ``index`` the index URL for a requirement. Raise
    :class:`SourceError` with one line saying why when ``text`` is none of them.
    """
    text = text.strip()
    ref = ref.strip()
    if not text:
        raise SourceError("the source is empty")
    # URLs and the scp form have no spaces; a requirement may ("name >= 1.0", "name @ URL").
    spaced = any(ch.isspace() for ch in text)
    if "://" in text and not spaced:
        if index:
            raise SourceError(f"{text!r} is a URL: an index applies to requirements only")
        return _url(text, ref)
    if SCP.match(text) and not text.startswith("~"):
        if index:
            raise SourceError(f"{text!r} is a git repository: an index applies to requirements only")
        return _scp(text, ref)
    found = _local(text, ref, local)
    if found is not None:
        if index:
            raise SourceError(f"{text!r} is on this machine: an index applies to requirements only")
        return found
    return _requirement(text, ref, index)


def source_upload(path: str) -> Source:
    """The source for an archive uploaded through the admin and saved at ``path``."""
    if not _is_archive(path):
        raise SourceError(f"{os.path.basename(path)!r} is not an archive ({', '.join(ARCHIVE_SUFFIXES)})")
    return Source("archive", os.path.abspath(path), upload=True)


def source_text(source: Source) -> str:
    """``source`` as one line that :func:`source_parse` reads back (with ``ref=source.ref``)."""
    if source.kind == "index" and source.index:
        return f"{source.location} --index-url {source.index}"
    return source.location
