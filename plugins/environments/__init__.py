"""An environment of its own for each plugin version, built with uv over a shared cache.

``core`` is the pure part (digests, pins, error messages, uv command lines); ``build``
locks a plugin's requirements and builds its environment, each uv step confined like a
plugin host (``run``, entered through ``confined``); ``store`` keeps the environments on
disk and removes those no version refers to. This module imports nothing: the sandboxed
entry point lives in this package and must start without Django.
"""
