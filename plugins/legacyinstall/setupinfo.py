"""What an older-bot plugin's ``setup.py`` or ``pyproject.toml`` declares, read without running it.

Pure: no Django, no I/O (the caller reads the files). ``setup.py`` is parsed, never
executed: the literal ``version=``, ``name=`` and ``install_requires=`` of its ``setup()``
call (or a module-level string constant they name). A value computed at run time is not
read; the version then comes from the commit (:func:`legacy_version`).
"""

from __future__ import annotations

import ast
import tomllib
from dataclasses import dataclass
from typing import Any

from packaging.version import InvalidVersion, Version


@dataclass(frozen=True, slots=True)
class ProjectInfo:
    name: str = ""
    version: str = ""
    requirements: tuple[str, ...] = ()


def _constants(tree: ast.Module) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            try:
                found[node.targets[0].id] = ast.literal_eval(node.value)
            except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
                continue
    return found


def _value(node: ast.expr, constants: dict[str, Any]) -> Any:
    if isinstance(node, ast.Name):
        return constants.get(node.id)
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None


def _setup_call(tree: ast.Module) -> ast.Call | None:
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
            if name == "setup":
                return node
    return None


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _lines(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = value.splitlines()
    if not isinstance(value, list | tuple):
        return ()
    return tuple(s.strip() for s in value if isinstance(s, str) and s.strip() and not s.strip().startswith("#"))


def setup_py_read(text: str) -> ProjectInfo:
    """The literal name, version and install_requires of a setup.py's ``setup()`` call."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return ProjectInfo()
    call = _setup_call(tree)
    if call is None:
        return ProjectInfo()
    constants = _constants(tree)
    given = {kw.arg: _value(kw.value, constants) for kw in call.keywords if kw.arg}
    return ProjectInfo(
        name=_text(given.get("name")),
        version=_text(given.get("version")),
        requirements=_lines(given.get("install_requires")),
    )


def pyproject_read(text: str) -> ProjectInfo:
    """The static ``[project]`` name, version and dependencies of a pyproject.toml."""
    try:
        project = tomllib.loads(text).get("project") or {}
    except (tomllib.TOMLDecodeError, ValueError):
        return ProjectInfo()
    if not isinstance(project, dict):
        return ProjectInfo()
    return ProjectInfo(
        name=_text(project.get("name")),
        version=_text(project.get("version")),
        requirements=_lines(project.get("dependencies")),
    )


def project_merge(*found: ProjectInfo) -> ProjectInfo:
    """The first of each field that one of ``found`` gives (pyproject first, then setup.py)."""
    return ProjectInfo(
        name=next((f.name for f in found if f.name), ""),
        version=next((f.version for f in found if f.version), ""),
        requirements=next((f.requirements for f in found if f.requirements), ()),
    )


def legacy_version(*, declared: str, resolved: str, commit: bool) -> str:
    """The version an older-bot plugin is installed as (PEP 440, normal form).

    ``declared``: what its setup.py or pyproject says ("" or unreadable: ``0``). From a git
    repository (``commit``) the resolved commit is added as a local version (``0.1+gab12cd3``),
    so a moved branch is a new version and an unchanged one the same.
    """
    try:
        base = Version(declared) if declared else Version("0")
    except InvalidVersion:
        base = Version("0")
    if not (commit and resolved):
        return str(base)
    sha = "g" + resolved[:7].lower()
    local = f"{base.local}.{sha}" if base.local else sha
    return str(Version(f"{base.public}+{local}"))
