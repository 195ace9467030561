"""The pure part of plugin environments: digests, pins, uv command lines, error messages.

No Django, no I/O. An environment is named by the digest of what makes it: the pinned
requirements (names, versions, hashes), the interpreter it runs on and the plugin's own
code (its project's content digest), so the same inputs give the same folder on every
machine, and any change gives a new one. ``uv pip compile --generate-hashes`` writes the
pins; ``pins_parse`` reads them back, refusing anything but requirements and hashes (the
pins file is handed to uv again, so an option line would change where it installs from).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from email.parser import HeaderParser
from pathlib import PurePosixPath

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

FORMAT = 1  # changes to an environment's layout change every digest
STEPS = ("resolve", "download", "build")
MESSAGE_LINES = 12
MESSAGE_CHARS = 1200
LINE_CHARS = 300
# uv's progress lines: never the reason a step failed.
PROGRESS_PREFIXES = (
    "Using Python",
    "Using CPython",
    "Resolved ",
    "Prepared ",
    "Building ",
    "Built ",
    "Installed ",
    "Uninstalled ",
    "Audited ",
    "Checked ",
    "Bytecode compiled",
    "Downloading ",
    "Downloaded ",
    "Creating virtual environment",
    "Activate with",
    "Updated ",
)
# What in uv's message tells which step failed, first match wins (lower-cased).
STEP_SIGNS = (
    ("build", ("build backend", "failed to build", "build failed")),
    (
        "download",
        (
            "failed to download",
            "failed to fetch",
            "request failed",
            "error sending request",
            "dns error",
            "connection refused",
            "network",
            "hash mismatch",
            "hashes do not match",
        ),
    ),
    ("resolve", ("no solution found", "unsatisfiable", "not found in the package registry", "not found in the cache")),
)
PHASE_STEPS = {
    "lock": "resolve",
    "venv": "build",
    "install": "download",
    "requires": "download",
    "project": "build",
    "sdist": "build",
    "compile": "build",
}


class BuildError(Exception):
    """A lock or a build failed: ``step`` is one of STEPS, ``message`` says why (shortened)."""

    def __init__(self, step: str, message: str) -> None:
        super().__init__(f"{step}: {message}")
        self.step = step
        self.message = message


class PinsError(ValueError):
    """The pins text is not a list of pinned requirements with hashes."""


@dataclass(frozen=True, slots=True)
class Pin:
    name: str  # canonical (PEP 503)
    version: str  # "" for a direct reference
    url: str  # "" for a version from an index or find-links
    marker: str
    hashes: tuple[str, ...]  # "sha256:…", sorted


def _logical_lines(text: str) -> list[str]:
    lines, current = [], ""
    for raw in text.splitlines():
        line = raw.split(" #", 1)[0].rstrip() if not raw.lstrip().startswith("#") else ""
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        current += line
        if current.strip():
            lines.append(current.strip())
        current = ""
    if current.strip():
        lines.append(current.strip())
    return lines


def _pin(line: str) -> Pin:
    words = line.split()
    hashes = sorted(w.removeprefix("--hash=") for w in words if w.startswith("--hash="))
    rest = " ".join(w for w in words if not w.startswith("--hash="))
    if rest.startswith("-"):
        raise PinsError(f"only pinned requirements may appear in pins, not options: {rest[:80]!r}")
    try:
        req = Requirement(rest)
    except InvalidRequirement as exc:
        raise PinsError(f"not a requirement: {rest[:80]!r} ({exc})") from None
    specs = list(req.specifier)
    if not req.url and (len(specs) != 1 or specs[0].operator not in ("==", "===") or "*" in specs[0].version):
        raise PinsError(f"{req.name} is not pinned to one version: {rest[:80]!r}")
    version = specs[0].version if specs and not req.url else ""
    return Pin(
        name=canonicalize_name(req.name),
        version=version,
        url=req.url or "",
        marker=str(req.marker or ""),
        hashes=tuple(hashes),
    )


def pins_parse(text: str, *, require_hashes: bool = True) -> tuple[Pin, ...]:
    """The pins in ``text`` (``uv pip compile --generate-hashes`` output), sorted by name.

    PinsError for an option line, an unpinned requirement, a requirement listed twice or
    (``require_hashes``) one without a hash.
    """
    pins = sorted((_pin(line) for line in _logical_lines(text)), key=lambda p: (p.name, p.marker))
    seen: set[tuple[str, str]] = set()
    for pin in pins:
        if (pin.name, pin.marker) in seen:
            raise PinsError(f"{pin.name} is pinned twice")
        seen.add((pin.name, pin.marker))
        if require_hashes and not pin.hashes:
            raise PinsError(f"{pin.name} has no hash")
    return tuple(pins)


def environment_digest(*, pins: str, python: str, project: str) -> str:
    """The name of the environment made of these pins, this interpreter and this project.

    ``python`` identifies the interpreter (implementation, version, platform); ``project``
    is the content digest of the plugin's own distribution ("" when it installs none).
    The pins are read, not hashed as text: comments and their order do not matter. A file
    of this machine (a direct reference to a local wheel) counts by its name and hashes, not
    its folder: another machine that puts the same file elsewhere builds the same environment.
    """
    canonical = [
        [p.name, p.version, _url_identity(p), p.marker, list(p.hashes)] for p in pins_parse(pins, require_hashes=False)
    ]
    blob = json.dumps({"format": FORMAT, "pins": canonical, "python": python, "project": project}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


def _url_identity(pin: Pin) -> str:
    local = location_local(pin.url) if pin.url else None
    if local is None or not pin.hashes:
        return pin.url
    return "file:" + PurePosixPath(local).name


def pins_with_file(pins: str, *, path: str) -> str:
    """``pins`` with each direct reference to a local file named as ``path`` leading to
    ``path`` instead: the same file (its hash is checked) where this machine keeps it."""
    target = PurePosixPath(path).as_uri()
    wanted = PurePosixPath(target.removeprefix("file://")).name
    for pin in pins_parse(pins, require_hashes=False):
        local = location_local(pin.url) if pin.url else None
        if local is not None and PurePosixPath(local).name == wanted and pin.url != target:
            pins = pins.replace(pin.url, target)
    return pins


def requirements_text(requirements: Sequence[str]) -> str:
    """The requirements file uv reads; BuildError (step "resolve") for one that is not PEP 508.

    Each line must be a requirement: a line such as ``--index-url …`` or ``-r /etc/…``
    would be read by uv as an option.
    """
    lines = []
    for text in requirements:
        stripped = text.strip()
        try:
            if not stripped or stripped.startswith("-") or "\n" in stripped or "\r" in stripped:
                raise InvalidRequirement("not a single requirement")
            Requirement(stripped)
        except InvalidRequirement as exc:
            raise BuildError("resolve", f"{text[:80]!r} is not a requirement ({exc})") from None
        lines.append(stripped)
    return "".join(f"{line}\n" for line in lines)


def metadata_requirements(metadata: str) -> list[str]:
    """The requirements a wheel's METADATA declares (``Requires-Dist``), but its extras'.

    BuildError (step "build") for one that is not a requirement: the wheel was made by
    the plugin's own build.
    """
    found = []
    for text in HeaderParser().parsestr(metadata).get_all("Requires-Dist") or []:
        try:
            req = Requirement(str(text))
        except InvalidRequirement as exc:
            raise BuildError("build", f"the project declares {str(text)[:80]!r}, not a requirement ({exc})") from None
        if req.marker is None or "extra" not in str(req.marker):
            found.append(str(req))
    return found


def location_local(location: str) -> str | None:
    """The path of a find-links folder or a direct reference on this machine, None for a URL."""
    if location.startswith("file://"):
        return location.removeprefix("file://")
    return None if "://" in location else location


def network_needed(*, index_url: str | None, locations: Sequence[str]) -> bool:
    """Whether uv needs the network: an index, or a find-links or direct-reference URL."""
    return index_url is not None or any(location_local(loc) is None for loc in locations)


def requirement_urls(requirements: Sequence[str]) -> list[str]:
    """The direct references (``name @ URL``) among valid requirements."""
    return [url for text in requirements if (url := Requirement(text).url)]


def message_shorten(text: str, *, max_lines: int = MESSAGE_LINES, max_chars: int = MESSAGE_CHARS) -> str:
    """The useful part of a resolver's or a build's output, without progress lines: uv's
    ``error:`` block first, then what came before it (a build backend's own words, which
    ``uv build`` passes on as they come). A long one keeps its head (what failed) and its
    tail (where a traceback ends)."""
    lines = [line.strip() for line in text.splitlines()]
    lines = [line[:LINE_CHARS] for line in lines if line and not line.startswith(PROGRESS_PREFIXES)]
    first_error = next((i for i, line in enumerate(lines) if line.startswith("error:")), 0)
    lines = lines[first_error:] + lines[:first_error]
    if len(lines) > max_lines:
        head = max(1, max_lines // 3)
        lines = [*lines[:head], "…", *lines[-(max_lines - head - 1) :]]
    short = "\n".join(lines)
    if len(short) > max_chars:
        short = short[: max_chars - 1] + "…"
    return short


def failure_step(*, phase: str, message: str) -> str:
    """Which step (STEPS) a uv command of ``phase`` (lock, venv, install, project) failed at."""
    lowered = message.lower()
    for step, signs in STEP_SIGNS:
        if any(sign in lowered for sign in signs):
            return step
    return PHASE_STEPS[phase]


@dataclass(frozen=True, slots=True)
class UvSources:
    """Where uv may take distributions from, and its cache."""

    uv: str
    cache: str
    index_url: str | None = None  # None: no index, only find_links (and the cache)
    find_links: tuple[str, ...] = ()
    offline: bool = False  # the cache only: not a byte from the network

    def args(self) -> list[str]:
        args = ["--cache-dir", self.cache, "--no-progress"]
        args += ["--index-url", self.index_url] if self.index_url else ["--no-index"]
        for link in self.find_links:
            args += ["--find-links", link]
        if self.offline:
            args.append("--offline")
        return args


def lock_argv(src: UvSources, *, python: str, inputs: Sequence[str], output: str, build: bool = False) -> list[str]:
    """Resolve ``inputs`` (requirements files, a project's pyproject.toml or setup.py).

    ``build`` False: with ``--no-build``, which runs no package code (what it writes to
    the cache is safe for every plugin) and fails when an sdist must be built.
    """
    head = [src.uv, "pip", "compile", "--generate-hashes", "--no-header", "--no-annotate"]
    return [
        *head,
        *([] if build else ["--no-build"]),
        "--python",
        python,
        "--output-file",
        output,
        *src.args(),
        *inputs,
    ]


def venv_argv(src: UvSources, *, python: str, target: str) -> list[str]:
    # Relocatable: the environment is built in a work folder, then renamed into place.
    return [src.uv, "venv", "--python", python, "--relocatable", "--cache-dir", src.cache, "--no-progress", target]


def sync_argv(src: UvSources, *, python: str, pins_file: str) -> list[str]:
    """Install exactly the pins, every file checked against its hash, wheels only.

    ``--no-build``: no package code runs while uv writes the shared cache; an sdist is
    built apart first (``pin_build_argv``) and installed as the wheel that made.
    No ``--compile-bytecode``: uv would start the environment's interpreter, which runs
    the ``.pth`` files of what it installed (``compile_argv`` does it without them).
    """
    # Copies, not hardlinks: the environment shares no inode with the cache.
    tail = ["--link-mode", "copy", *src.args(), pins_file]
    return [src.uv, "pip", "sync", "--require-hashes", "--no-build", "--python", python, *tail]


def requires_argv(src: UvSources, *, python: str, requirements_file: str) -> list[str]:
    """Install a project's build requirements (wheels only) into the environment its
    build runs on."""
    tail = ["--link-mode", "copy", *src.args(), "-r", requirements_file]
    return [src.uv, "pip", "install", "--no-build", "--python", python, *tail]


def wheel_argv(src: UvSources, *, python: str, project: str, out: str) -> list[str]:
    """Build the plugin's own distribution to a wheel, installed with the pins (its
    dependencies), on ``python``'s environment, which holds its build requirements: uv
    fetches nothing, so the build needs neither the shared cache nor the network."""
    head = [src.uv, "build", "--wheel", "--no-build-isolation", "--python", python, "--out-dir", out]
    return [*head, *src.args(), project]


def pin_build_argv(src: UvSources, *, python: str, pin_file: str) -> list[str]:
    """Build one pinned sdist (``pin_file`` holds it alone, with its hashes) and install
    it into a scratch environment: the wheel it makes is left in ``src.cache``."""
    tail = ["--no-deps", "--link-mode", "copy", *src.args(), "-r", pin_file]
    return [src.uv, "pip", "install", "--require-hashes", "--python", python, *tail]


def compile_argv(*, python: str, site_packages: str, final: str) -> list[str]:
    """Byte-compile an environment's site-packages with the trusted interpreter: ``-I -S``
    run no ``.pth`` file and nothing of the environment; compileall does not descend
    into linked folders; ``-s``/``-p`` record the path the files will have once in place."""
    return [python, "-I", "-S", "-m", "compileall", "-q", "-j", "0", "-s", site_packages, "-p", final, site_packages]


# uv's words for "this needs a build", for a distribution of an index and for a direct reference.
NO_BUILD = re.compile(
    r"Wheels are required for `([^`]+)` because building from source is disabled"
    r"|Building source distributions for `([^`]+)` is disabled"
)


def no_build_blocker(message: str) -> str | None:
    """The distribution a ``--no-build`` step would have had to build (canonical), if that
    is why it failed."""
    found = NO_BUILD.search(message)
    return canonicalize_name(found.group(1) or found.group(2)) if found else None


def pin_text(pin: Pin) -> str:
    """A pin as a requirements line, its hashes with it."""
    requirement = f"{pin.name} @ {pin.url}" if pin.url else f"{pin.name}=={pin.version}"
    marker = f" ; {pin.marker}" if pin.marker else ""
    return requirement + marker + "".join(f" --hash={digest}" for digest in pin.hashes)


@dataclass(frozen=True, slots=True)
class Wheel:
    path: str
    sha256: str  # hex


def install_text(pins: Sequence[Pin], *, built: Mapping[str, Wheel], project: Wheel | None = None) -> str:
    """The requirements of one ``uv pip sync``: the pins, each one ``built`` here (by
    name) replaced by its wheel and that wheel's hash, then the project's wheel."""
    lines = []
    for pin in pins:
        wheel = built.get(pin.name)
        marker = f" ; {pin.marker}" if pin.marker else ""
        lines.append(f"{wheel.path}{marker} --hash=sha256:{wheel.sha256}" if wheel else pin_text(pin))
    if project is not None:
        lines.append(f"{project.path} --hash=sha256:{project.sha256}")
    return "".join(f"{line}\n" for line in lines)


def sdist_key(pin: Pin, *, index_url: str | None, find_links: Sequence[str], python: str) -> str:
    """The name of the wheel built from this pinned sdist, alone, on this interpreter, its
    build requirements from these sources: what made it, so only the same inputs reuse it."""
    made = {"pin": [pin.name, pin.version, pin.url, list(pin.hashes)], "index": index_url, "links": list(find_links)}
    blob = json.dumps({"format": FORMAT, "sdist": made, "python": python}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()
