"""Running plugin code: in a plugin host process of its own (default) or inline.

``protocol``, ``runner``, ``child`` (the host's main module), ``enter`` and ``serve`` never
import Django. ``confine`` builds the sandbox's command line and limits, ``system``,
``cgroups`` and ``firewall`` are the operating system's side of it; ``host`` and ``pool``
are the worker's side of the pipe; ``drain`` and ``output`` turn what a host prints into
the worker's log lines. ``runtime`` copies the modules a host imports (and ``plugins.api``)
into a folder of their own: the only part of the platform on a host's path.
"""
