"""A plugin's own manifest, ``sessionbot-plugin.yaml``, read from its fetched tree.

Pure apart from reading files under the tree; no Django, and nothing of the plugin runs.
The file sits at the tree's root or in the plugin's package (``pkg/``, ``src/pkg/``). It
states what the author decides: name, version, entry point, requirements, default
limits, whether it needs the network, its queue; the operator's entry adds the rest. A
tree without one may be an older bot's plugin: :func:`legacy_layout` finds its module.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from plugins.constraints import VersionError, constraint_parse, requirement_parse, version_parse
from plugins.manifest import ENTRYPOINT, SLUG, HealthCheck, Limits, PluginEntry

FILE_NAME = "sessionbot-plugin.yaml"
MAX_CHARS = 256 * 1024
QUEUE = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
MODULE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Folders that hold no plugin code, left out of the search for a package.
NOT_CODE = frozenset({"tests", "test", "docs", "doc", "examples", "build", "dist", "data"})


class PluginFileError(ValueError):
    """An unreadable or invalid plugin manifest; ``str()`` is one line: file, field, reason."""


class PluginFile(BaseModel):
    """What a plugin's author declares in ``sessionbot-plugin.yaml``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=SLUG)
    version: str
    entrypoint: str = Field(pattern=ENTRYPOINT)
    summary: str = Field("", max_length=200)
    requirements: tuple[str, ...] = ()
    dependencies: dict[str, str] = Field(default_factory=dict)
    network: bool = False
    limits: Limits = Limits()
    queue: str = Field("", pattern=r"^$|" + QUEUE)
    health_check: HealthCheck | None = None

    def entry_fields(self) -> dict[str, Any]:
        """The fields the author wrote that a plugins.yaml entry also has, to put under the
        operator's entry (whose own fields win)."""
        written = self.model_dump(mode="json", exclude_unset=True)
        return {key: value for key, value in written.items() if key in PluginEntry.model_fields}

    @field_validator("version", mode="before")
    @classmethod
    def _version_is_text(cls, value: object) -> object:
        if isinstance(value, int | float):
            raise ValueError(f'write the version in quotes, such as "{value}"')
        return value

    @field_validator("version")
    @classmethod
    def _version(cls, value: str) -> str:
        try:
            version_parse(value)
        except VersionError as exc:
            raise ValueError(str(exc)) from None
        return value

    @field_validator("requirements")
    @classmethod
    def _requirements(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for line in value:
            try:
                requirement_parse(line)
            except VersionError as exc:
                raise ValueError(str(exc)) from None
        return value

    @field_validator("dependencies")
    @classmethod
    def _dependencies(cls, value: dict[str, str]) -> dict[str, str]:
        for plugin, constraint in value.items():
            if not re.match(SLUG, plugin):
                raise ValueError(f"{plugin!r} is not a plugin name")
            try:
                constraint_parse(constraint)
            except VersionError as exc:
                raise ValueError(f"{plugin}: {exc}") from None
        return value


def plugin_file_find(tree: Path) -> Path | None:
    """Where the tree's manifest is: its root, ``<pkg>/`` or ``src/<pkg>/``; None: nowhere.

    Two manifests in different packages are an error: which plugin is meant is unclear.
    """
    root = tree / FILE_NAME
    if root.exists() or root.is_symlink():
        return root
    found = sorted(
        p
        for pattern in (f"*/{FILE_NAME}", f"src/*/{FILE_NAME}")
        for p in tree.glob(pattern)
        if p.parent.name not in NOT_CODE and not p.parent.name.startswith(".")
    )
    if len(found) > 1:
        shown = ", ".join(str(p.relative_to(tree)) for p in found)
        raise PluginFileError(f"{FILE_NAME}: found more than one ({shown}); keep one, at the root")
    return found[0] if found else None


def _reason(exc: ValidationError) -> str:
    err = exc.errors(include_url=False)[0]
    field = ".".join(str(part) for part in err["loc"]) or "(top level)"
    reason = str(err["msg"]).removeprefix("Value error, ")
    if err["type"] == "missing":
        reason = "this field is required"
    elif err["type"] == "extra_forbidden":
        reason = "unknown field (check the spelling)"
    return f"{field}: {reason}"


def plugin_file_parse(text: str, *, file: str = FILE_NAME) -> PluginFile:
    """Parse the text of a manifest named ``file`` (used in messages)."""
    try:
        data: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        raise PluginFileError(f"{file}: {where}not valid YAML") from None
    if not isinstance(data, dict):
        raise PluginFileError(f"{file}: the top level must be a mapping of fields")
    try:
        return PluginFile.model_validate(data)
    except ValidationError as exc:
        raise PluginFileError(f"{file}: {_reason(exc)}") from None


def plugin_file_read(tree: Path) -> PluginFile | None:
    """The manifest of the plugin in ``tree``; None when it has none (maybe an older bot's
    plugin). Raise :class:`PluginFileError` for one that cannot be read or is invalid."""
    path = plugin_file_find(tree)
    if path is None:
        return None
    shown = str(path.relative_to(tree))
    # A link could make the worker read (and show in an error) a file outside the tree.
    if path.is_symlink() or not path.is_file():
        raise PluginFileError(f"{shown}: must be a regular file, not a link")
    try:
        with path.open("rb") as stream:
            raw = stream.read(MAX_CHARS + 1)
        text = raw.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PluginFileError(f"{shown}: cannot read the file ({getattr(exc, 'strerror', None) or exc})") from None
    if len(raw) > MAX_CHARS:
        raise PluginFileError(f"{shown}: larger than {MAX_CHARS // 1024} KB")
    return plugin_file_parse(text, file=shown)


def _module_file(tree: Path, name: str) -> Path | None:
    """The file the older loader would import as module ``name`` from ``tree``: ``<name>/<name>.py``,
    ``<name>/__init__.py`` or ``<name>.py``; None when there is none (links are not followed)."""
    folder = tree / name
    places = (folder / f"{name}.py", folder / "__init__.py") if folder.is_dir() and not folder.is_symlink() else ()
    for path in (*places, tree / f"{name}.py"):
        if path.is_file() and not path.is_symlink():
            return path
    return None


def _module_at(tree: Path, name: str) -> bool:
    return _module_file(tree, name) is not None


def _setup_packages(tree: Path) -> list[str]:
    """Top-level packages and modules a ``setup.py`` lists as literals (never run it)."""
    path = tree / "setup.py"
    if path.is_symlink() or not path.is_file():
        return []
    try:
        module = ast.parse(path.read_text(encoding="utf-8", errors="replace"))
    except (SyntaxError, ValueError):
        return []
    names: list[str] = []
    for node in ast.walk(module):
        if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", "")) == "setup":
            for keyword in node.keywords:
                if keyword.arg in ("packages", "py_modules") and isinstance(keyword.value, ast.List | ast.Tuple):
                    names += [
                        elt.value.split(".")[0]
                        for elt in keyword.value.elts
                        if isinstance(elt, ast.Constant) and isinstance(elt.value, str)
                    ]
    return list(dict.fromkeys(names))


def legacy_layout(tree: Path, *, name: str = "") -> str | None:
    """The module an older bot would import from ``tree``, or None when there is none.

    With ``name`` (the older plugins.yaml's ``name``): that module, as the older loader
    finds it (``<name>/<name>.py``, ``<name>/__init__.py`` or ``<name>.py``). Without it:
    the one folder ``<d>/<d>.py``, else the first package or module that ``setup.py``
    lists and the tree holds, else the one package at the top of a project.
    """
    if name:
        return name if MODULE.match(name) and _module_at(tree, name) else None
    folders = sorted(
        d.name
        for d in tree.iterdir()
        if d.is_dir() and not d.is_symlink() and MODULE.match(d.name) and d.name not in NOT_CODE
    )
    inner = [d for d in folders if (tree / d / f"{d}.py").is_file()]
    if len(inner) == 1:
        return inner[0]
    for candidate in _setup_packages(tree):
        if MODULE.match(candidate) and candidate not in NOT_CODE and _module_at(tree, candidate):
            return candidate
    if (tree / "setup.py").is_file() or (tree / "pyproject.toml").is_file():
        # Packages found at build time (find_packages()): the one package at the top.
        packages = [d for d in folders if (tree / d / "__init__.py").is_file()]
        if len(packages) == 1:
            return packages[0]
    return None


def legacy_plugin_class(tree: Path, module: str, *, name: str = "Plugin") -> bool:
    """Whether ``module`` (as :func:`legacy_layout` found it) defines or imports ``name``, the
    class the older bot instantiated. Read, never run: a name made at run time is not seen."""
    path = _module_file(tree, module)
    if path is None:
        return False
    try:
        parsed = ast.parse(path.read_text(encoding="utf-8", errors="replace"))
    except (SyntaxError, ValueError):
        return True  # the code check names the line that does not parse
    for node in parsed.body:
        if isinstance(node, ast.ClassDef) and node.name == name:
            return True
        if isinstance(node, ast.ImportFrom) and any((a.asname or a.name) == name for a in node.names):
            return True
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
            return True
    return False
