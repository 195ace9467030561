"""An environment of its own for each plugin version, built with uv over a shared cache.

``core`` is the pure part (digests, pins, error messages, uv command lines); ``build``
locks a plugin's requirements and builds its environment, each uv step confined like a
plugin host (``steps``, run by ``run``, entered through ``confined``), what runs package
code apart from the shared cache (``apart``); ``store`` keeps the environments on disk
and removes those no version refers to. This module imports nothing: the sandboxed
entry point lives in this package and must start without Django.
"""
