"""Import plugin code by entrypoint (``module:attr``) from the configured plugin roots.

Pure module (no Django): the plugin host uses it too.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

from plugins.api import Plugin


class PluginLoadError(Exception):
    """The plugin's code could not be imported or is not a Plugin."""


def plugin_class_load(*, entrypoint: str, roots: list[Path], confined: bool = False) -> type[Plugin]:
    """Import ``module:attr`` with the plugin roots on ``sys.path`` and return the class.

    ``confined``: the module must come from one of ``roots`` (a plugin host, whose only
    root is the snapshot), not from wherever else the interpreter finds that name.
    """
    module_name, _, attr = entrypoint.partition(":")
    for root in roots:
        if str(root) not in sys.path:
            sys.path.insert(0, str(root))
    # A file added since the last import must be found: finders cache directory listings.
    importlib.invalidate_caches()
    try:
        module = importlib.import_module(module_name)
    except (Exception, SystemExit, KeyboardInterrupt) as exc:  # any failure of plugin code is reported
        detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        raise PluginLoadError(f"cannot import {module_name}: {detail}") from exc
    loaded = getattr(module, "__file__", None)
    inside = loaded is not None and any(Path(loaded).resolve().is_relative_to(Path(r).resolve()) for r in roots)
    if confined and not inside:
        # A name the interpreter had already imported (a standard module) is not the plugin.
        raise PluginLoadError(f"module {module_name} is already imported from {loaded}, outside the plugin roots")
    cls = getattr(module, attr, None)
    if cls is None:
        raise PluginLoadError(f"module {module_name} has no attribute {attr}")
    if not (isinstance(cls, type) and issubclass(cls, Plugin)):
        raise PluginLoadError(f"{entrypoint} is not a subclass of plugins.api.Plugin")
    return cls


def plugin_modules_purge(*, entrypoint: str) -> list[str]:
    """Forget the modules of the entrypoint's top-level package, submodules included.

    The next import reads the code from disk again. Objects already created from the old
    modules (a running invocation's handler) keep working on the old code.
    """
    top = entrypoint.partition(":")[0].split(".")[0]
    gone = [name for name in sys.modules if name == top or name.startswith(top + ".")]
    for name in gone:
        del sys.modules[name]
    return gone
