"""Import an inline plugin from its snapshot without sharing modules with other versions.

Pure module (no Django). The worker's interpreter may hold several inline plugins whose
top-level package has the same name (every built-in is ``sessionbot_builtin.*``), or two
versions of one plugin. Each load therefore gets a private set of modules: imported with
the snapshot as the only place its top-level name is found, then taken out of
``sys.modules``; :func:`code_active` puts the set back around each call, so an import made
inside a handler resolves to the same snapshot. The worker runs one invocation at a time
per process (Celery's prefork and solo pools), which is what makes the swap safe.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib.machinery import ModuleSpec, PathFinder
from pathlib import Path
from types import ModuleType
from typing import Any

from plugins.api import Plugin
from plugins.loader import PluginLoadError

RESERVED = {"plugins", "sessionbot", "broker", "django", *sys.stdlib_module_names}


@dataclass(slots=True)
class LoadedCode:
    top: str
    root: Path
    cls: type[Plugin]
    modules: dict[str, ModuleType] = field(default_factory=dict)


class _SnapshotFinder:
    """Find the top-level name in the snapshot only (its submodules follow ``__path__``)."""

    def __init__(self, top: str, root: Path) -> None:
        self.top, self.root = top, root
        self.seen: set[str] = set()  # every name under ``top`` imported while this finder is in place

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> ModuleSpec | None:
        if fullname != self.top:
            if fullname.startswith(self.top + "."):
                self.seen.add(fullname)  # found by the next finder through the package's __path__
            return None
        self.seen.add(fullname)
        spec = PathFinder.find_spec(fullname, [str(self.root)])
        if spec is None:
            raise ImportError(f"{fullname} is not in the plugin's snapshot {self.root}")
        return spec


def _owned(top: str) -> dict[str, ModuleType]:
    """The modules of ``top`` in ``sys.modules`` (a scan of all of them: only when ``top`` is there)."""
    if top not in sys.modules:
        return {}  # a submodule is never imported without its package
    # A copy first: another worker thread may import (and so grow sys.modules) meanwhile.
    return {n: m for n, m in list(sys.modules.items()) if n == top or n.startswith(top + ".")}


def _present(names: set[str]) -> dict[str, ModuleType]:
    return {n: sys.modules[n] for n in names if n in sys.modules}


@contextmanager
def _swapped(top: str, root: Path, modules: dict[str, ModuleType]) -> Iterator[dict[str, ModuleType]]:
    """Within the block ``top`` means ``modules`` (plus what gets imported from ``root``)."""
    saved = _owned(top)
    for name in saved:
        del sys.modules[name]
    sys.modules.update(modules)
    finder = _SnapshotFinder(top, root)
    sys.meta_path.insert(0, finder)
    loaded: dict[str, ModuleType] = {}
    try:
        yield loaded
    finally:
        sys.meta_path.remove(finder)
        # The block's modules: those it started with and those imported in it (the finder saw
        # each import under ``top``); no scan of the whole of sys.modules on every call.
        loaded.update(_present(set(modules) | finder.seen))
        for name in loaded:
            del sys.modules[name]
        sys.modules.update(saved)


def code_load(*, entrypoint: str, root: Path) -> LoadedCode:
    """Import ``module:attr`` from the snapshot at ``root``; raise PluginLoadError if it fails."""
    module_name, _, attr = entrypoint.partition(":")
    top = module_name.split(".")[0]
    if top in RESERVED:
        raise PluginLoadError(f"{entrypoint}: {top} is the name of a platform or standard module")
    importlib.invalidate_caches()
    with _swapped(top, root, {}) as loaded:
        try:
            cls = getattr(importlib.import_module(module_name), attr)
        except (Exception, SystemExit) as exc:  # any failure of plugin code is reported
            raise PluginLoadError(f"{entrypoint}: {type(exc).__name__}: {exc}") from exc
    if not (isinstance(cls, type) and issubclass(cls, Plugin)):
        raise PluginLoadError(f"{entrypoint} is not a subclass of plugins.api.Plugin")
    return LoadedCode(top=top, root=root, cls=cls, modules=loaded)


@contextmanager
def code_active(code: LoadedCode) -> Iterator[None]:
    """Run the block with the plugin's own modules in ``sys.modules``."""
    with _swapped(code.top, code.root, code.modules) as loaded:
        yield
    code.modules = loaded
