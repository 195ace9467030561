"""Running plugin code: in a plugin host process of its own (default) or inline.

No module here imports Django: ``child`` is the plugin host's main module. ``host`` and
``pool`` are the worker's side of the pipe; ``drain`` and ``output`` turn what a host
prints into the worker's log lines.
"""
