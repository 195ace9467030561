"""Plugin dependency constraints and Python requirements, checked without Django.

Each check returns ``None`` when satisfied or one sentence naming what is missing, so that
the importer, the activation service and the admin all show the operator the same words.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from importlib import metadata

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version


class VersionError(ValueError):
    """Text that is not a version, constraint or requirement; ``str()`` says why in one line.

    ``normal`` is the normal form to write instead, when the text is a version spelled otherwise.
    """

    def __init__(self, message: str, *, normal: str = "") -> None:
        super().__init__(message)
        self.normal = normal


def version_parse(text: str) -> Version:
    """Return ``text`` as a PEP 440 version; refuse text not written in its normal form.

    ``v1`` and ``1.0.0-rc1`` are PEP 440 versions, but spelled otherwise than they compare
    (``1`` and ``1.0.0rc1``): the operator is asked to write the normal form, so that one
    version never shows under two names.
    """
    try:
        version = Version(text)
    except InvalidVersion:
        raise VersionError(f"{text!r} is not a PEP 440 version such as 1.0.0") from None
    if str(version) != text:
        raise VersionError(
            f"{text!r} is not written as PEP 440 normalizes it: write {str(version)!r}", normal=str(version)
        )
    return version


def version_equal(a: str, b: str) -> bool:
    """Whether ``a`` and ``b`` are the same version by PEP 440 (``1`` equals ``1.0.0``)."""
    try:
        return Version(a) == Version(b)
    except InvalidVersion:
        return a == b


def constraint_parse(text: str) -> SpecifierSet:
    """Return ``text`` as a PEP 440 version constraint (``>=1.0,<2``)."""
    try:
        return SpecifierSet(text)
    except InvalidSpecifier:
        raise VersionError(f"{text!r} is not a version constraint such as >=1.0,<2") from None


def requirement_parse(text: str) -> Requirement:
    """Return ``text`` as a PEP 508 requirement (``requests>=2.31``)."""
    try:
        return Requirement(text)
    except InvalidRequirement:
        raise VersionError(f"{text!r} is not a PEP 508 requirement such as requests>=2.31") from None


def _satisfies(spec: SpecifierSet, version: str) -> bool:
    try:
        # An operator who installs 2.0rc1 and asks for >=2.0rc1 means it; allow pre-releases.
        return spec.contains(Version(version), prereleases=True)
    except InvalidVersion:
        return False


def constraint_problem(*, plugin: str, dependency: str, constraint: str, installed: Iterable[str]) -> str | None:
    """Say why no installed version of ``dependency`` satisfies ``constraint``, or ``None``.

    ``installed`` is every version of the dependency known (in the database or the file
    being imported); empty means the dependency is not installed at all.
    """
    versions = sorted(set(installed), key=_sort_key)
    if not versions:
        return f"{plugin} depends on plugin {dependency!r}, which is not installed"
    try:
        spec = SpecifierSet(constraint)
    except InvalidSpecifier:
        return f"{plugin} depends on {dependency}{constraint}, which is not a version constraint"
    if any(_satisfies(spec, v) for v in versions):
        return None
    have = ", ".join(versions)
    return f"{plugin} needs {dependency}{constraint or ' (any version)'}, but only {dependency} {have} is installed"


def active_constraint_problem(*, plugin: str, dependency: str, constraint: str, active: str | None) -> str | None:
    """Say why the active version of ``dependency`` does not satisfy ``constraint``, or ``None``."""
    if active is None:
        return f"{plugin} needs {dependency}{constraint}, but {dependency} has no active version"
    if _satisfies(SpecifierSet(constraint), active):
        return None
    return f"{plugin} needs {dependency}{constraint}, but the active version of {dependency} is {active}"


def requirement_problem(*, plugin: str, requirement: str) -> str | None:
    """Say why the installed distributions do not meet a PEP 508 ``requirement``, or ``None``."""
    try:
        req = Requirement(requirement)
    except InvalidRequirement:
        return f"{plugin} requires {requirement!r}, which is not a PEP 508 requirement"
    if req.marker is not None and not req.marker.evaluate():
        return None  # Not meant for this Python or platform.
    try:
        installed = metadata.version(req.name)
    except metadata.PackageNotFoundError:
        return f"{plugin} requires {requirement}, but {req.name} is not installed"
    if req.specifier and not _satisfies(req.specifier, installed):
        return f"{plugin} requires {requirement}, but {req.name} {installed} is installed"
    return None


def dependency_order(graph: Mapping[str, Iterable[str]]) -> list[str]:
    """Order plugin names so that each comes after the ones it depends on.

    Dependencies outside ``graph`` are ignored (they are already installed). A cycle raises
    ``ValueError`` naming the plugins in it.
    """
    order: list[str] = []
    state: dict[str, str] = {}

    def visit(name: str, path: list[str]) -> None:
        if state.get(name) == "done":
            return
        if state.get(name) == "visiting":
            cycle = [*path[path.index(name) :], name]
            raise ValueError("dependency cycle: " + " -> ".join(cycle))
        state[name] = "visiting"
        for dep in graph[name]:
            if dep in graph:
                visit(dep, [*path, name])
        state[name] = "done"
        order.append(name)

    for name in graph:
        visit(name, [])
    return order


def _sort_key(version: str) -> tuple[int, Version | str]:
    try:
        return (0, Version(version))
    except InvalidVersion:
        return (1, version)
