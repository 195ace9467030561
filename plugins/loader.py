"""Import plugin code by entrypoint (``module:attr``) from the configured plugin roots."""

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
    try:
        module = importlib.import_module(module_name)
        cls = getattr(module, attr)
    except Exception as exc:
        raise PluginLoadError(f"{entrypoint}: {type(exc).__name__}: {exc}") from exc
    if not (isinstance(cls, type) and issubclass(cls, Plugin)):
        raise PluginLoadError(f"{entrypoint} is not a subclass of plugins.api.Plugin")
    return cls
