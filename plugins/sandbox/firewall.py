"""The nftables table that keeps networked plugin hosts off this machine's own services.

No Django. A host whose version may use the network shares the machine's network
namespace; this table rejects every packet that a process of the plugin uid range sends to
an address of this machine (``fib daddr type local``: loopback, the machine's own
addresses, hence the database, Redis, the broker and any local admin port). It is keyed by
the socket owner's uid, so it binds every plugin and nothing else. Replaced atomically and
idempotently (one ``nft -f`` transaction) the first time a worker process needs it.
"""

from __future__ import annotations

import subprocess
import threading

TABLE = "sessionbot"
_lock = threading.Lock()
_installed: set[tuple[str, int, int]] = set()


def ruleset(*, first_uid: int, last_uid: int) -> str:
    uids = f"{first_uid}-{last_uid}"
    return f"""table inet {TABLE} {{}}
delete table inet {TABLE}
table inet {TABLE} {{
  chain output {{
    type filter hook output priority filter; policy accept;
    meta skuid {uids} fib daddr type local counter reject
    meta skuid {uids} ip daddr 127.0.0.0/8 counter reject
    meta skuid {uids} ip6 daddr ::1 counter reject
  }}
}}
"""


def firewall_install(*, nft: str, first_uid: int, last_uid: int) -> str:
    """Install the table (once per process); "" on success, else why it failed."""
    key = (nft, first_uid, last_uid)
    with _lock:
        if key in _installed:
            return ""
        try:
            done = subprocess.run(
                [nft, "-f", "-"],
                input=ruleset(first_uid=first_uid, last_uid=last_uid),
                capture_output=True,
                text=True,
                timeout=30,
                check=False,
            )
        except OSError as exc:
            return f"{nft}: {exc.strerror or exc}"
        except subprocess.TimeoutExpired:
            return f"{nft} did not answer"
        if done.returncode != 0:
            return f"{nft} failed: {(done.stderr or done.stdout).strip()[:300]}"
        _installed.add(key)
        return ""
