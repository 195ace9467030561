"""Running plugin code: in a plugin host process of its own (default) or inline.

``protocol``, ``runner`` and ``child`` never import Django: ``child`` is the plugin host's
main module. ``host`` and ``pool`` are the worker's side of the pipe.
"""
