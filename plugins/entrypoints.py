"""Resolve a plugin entrypoint (``module:attr``) inside the plugin roots, and fingerprint it.

No Django import. The module's file is located with the import machinery's finders,
without running any code, and must lie under one of the roots. Whether ``attr`` exists
and is a plugin class is for a plugin host to find out (``plugins.codecheck``): importing
the module would run the plugin's code in this process.
"""

from __future__ import annotations

import hashlib
import importlib
import json
from collections.abc import Sequence
from importlib.machinery import ModuleSpec, PathFinder
from pathlib import Path
from typing import Any


class EntrypointError(Exception):
    """The entrypoint's module cannot be found in the plugin roots, or lies outside them."""


def _find_spec(module: str, roots: Sequence[Path]) -> ModuleSpec:
    parts = module.split(".")
    search = [str(root) for root in roots]
    spec: ModuleSpec | None = None
    for depth in range(1, len(parts) + 1):
        name = ".".join(parts[:depth])
        spec = PathFinder.find_spec(name, search)
        if spec is None:
            where = ", ".join(str(r) for r in roots) or "(none configured)"
            raise EntrypointError(f"module {name} is not found in the plugin roots ({where})")
        if depth < len(parts):
            if spec.submodule_search_locations is None:
                raise EntrypointError(f"{name} is a module, not a package")
            search = list(spec.submodule_search_locations)
    assert spec is not None
    return spec


def entrypoint_file(*, entrypoint: str, roots: Sequence[Path]) -> Path:
    """Return the source file of the entrypoint's module, which must lie under a root."""
    module, _, _attr = entrypoint.partition(":")
    # Finders cache directory listings; a plugin added a moment ago must be found.
    importlib.invalidate_caches()
    spec = _find_spec(module, roots)
    if not spec.origin or not spec.has_location:
        raise EntrypointError(f"module {module} has no source file (a namespace package?)")
    path = Path(spec.origin).resolve()
    if not any(path.is_relative_to(root.resolve()) for root in roots):
        # A symlink inside a root may point anywhere; the file itself must be inside.
        raise EntrypointError(f"module {module} resolves to {path}, outside the plugin roots")
    return path


def source_files(*, module_file: Path) -> list[Path]:
    """The files whose content makes up the plugin: its package's .py files, or its module."""
    if module_file.name == "__init__.py":
        return sorted(p for p in module_file.parent.rglob("*.py") if "__pycache__" not in p.parts)
    return [module_file]


def source_checksum(*, module_file: Path, entry: dict[str, Any]) -> str:
    """SHA-256 over the manifest entry and the plugin's source files, stable across machines."""
    digest = hashlib.sha256()
    digest.update(json.dumps(entry, sort_keys=True, separators=(",", ":")).encode())
    base = module_file.parent
    for path in source_files(module_file=module_file):
        digest.update(b"\0" + str(path.relative_to(base)).encode() + b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()
