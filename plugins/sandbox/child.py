"""The plugin host: ``python -m plugins.sandbox.child [<entry>]``, one process per version.

It never imports Django (a finder refuses it, so a plugin cannot reach the platform's
settings or database through it). Before the host's own modules are even imported, it
confines itself (``plugins.sandbox.enter``: hard limits, the plugin's uid, and the cgroup
join, which then overlaps those imports); only the standard library and two small modules
run before that. The loop itself is ``plugins.sandbox.serve``.
"""

from __future__ import annotations

import os
import sys

from plugins.sandbox.confine import Entry
from plugins.sandbox.enter import host_enter


def boot() -> None:
    entry = Entry.from_arg(sys.argv[1]) if len(sys.argv) > 1 else None
    joining = host_enter(entry) if entry is not None else None
    from plugins.sandbox import serve

    serve.main(joining, site=entry is not None and entry.site)


if __name__ == "__main__":
    boot()
    # Threads a plugin left running must not keep the host alive once it is told to exit.
    sys.stdout.flush()
    os._exit(0)
