"""A confined uv step: ``python -s -P -m plugins.environments.confined <entry> <uv> <args…>``.

No Django. Run under bubblewrap by a root worker (``plugins.environments.run``), it
applies the hard limits and drops to the build uid exactly as a plugin host does
(``plugins.sandbox.enter``), then becomes uv: a build backend that uv starts (a
``setup.py``) inherits all of it.
"""

from __future__ import annotations

import os
import sys

from plugins.sandbox.confine import Entry
from plugins.sandbox.enter import host_enter


def main(argv: list[str]) -> None:
    host_enter(Entry.from_arg(argv[1]))
    # The project on the path found this module; a build backend must not see it.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    os.execve(argv[2], argv[2:], env)  # noqa: S606 - the uv binary, its arguments made by the caller


if __name__ == "__main__":
    main(sys.argv)
