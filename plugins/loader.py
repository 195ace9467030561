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


def plugin_class_load(*, entrypoint: str, roots: list[Path]) -> type[Plugin]:
    """Import ``module:attr`` with the plugin roots on ``sys.path`` and return the class."""
    module_name, _, attr = entrypoint.partition(":")
    for root in roots:
        if str(root) not in sys.path:
            sys.path.insert(0, str(root))
    # A file added since the last import must be found: finders cache directory listings.
    importlib.invalidate_caches()
    try:
        module = importlib.import_module(module_name)
        cls = getattr(module, attr)
    except Exception as exc:
        raise PluginLoadError(f"{entrypoint}: {type(exc).__name__}: {exc}") from exc
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
