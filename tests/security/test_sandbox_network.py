"""Issue 12, item 5: a plugin cannot reach this machine's services.

By default a host has a network namespace of its own with only ``lo``, down: no address at
all is reachable, and unix sockets such as PostgreSQL's are not in its mount namespace. A
version whose manifest says ``network: true`` shares the machine's network (it may reach
the internet), but the nftables table ``inet sessionbot`` rejects its uid's packets to any
address of this machine.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from plugins.execution import pool_close
from tests.security.sandbox import ask_with, hostile, sandbox_required

pytestmark = pytest.mark.django_db(transaction=True)
PG_SOCKET = "/var/run/postgresql/.s.PGSQL.5432"


@pytest.fixture
def listener() -> Iterator[int]:
    """A TCP listener on loopback, as a local service would be; its port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def results(reply: str) -> dict[str, str]:
    return dict(line.split(" ", 1) for line in reply.splitlines())


def test_a_default_plugin_reaches_no_local_service(plugin_roots, listener) -> None:
    sandbox_required()
    hostile()
    targets = [f"tcp:127.0.0.1:{listener}", "tcp:127.0.0.1:6379", "tcp:127.0.0.1:5432", f"unix:{PG_SOCKET}"]
    seen = results(ask_with("hostile", "/net", targets=targets))
    assert not [t for t in targets if seen[t].startswith("ok:")], seen
    assert seen["interfaces"] == "lo"  # a network namespace of its own
    with socket.create_connection(("127.0.0.1", listener), timeout=2):
        pass  # the listener is there for everyone else
    pool_close()


def test_a_networked_plugin_has_the_network_but_not_this_machines_services(plugin_roots, listener) -> None:
    sandbox_required(nft=True)
    hostile(network=True)
    targets = [f"tcp:127.0.0.1:{listener}", "tcp:[::1]:6379", "tcp:127.0.0.1:6379", "tcp:127.0.0.1:5432"]
    seen = results(ask_with("hostile", "/net", targets=[*targets, f"unix:{PG_SOCKET}"]))
    # Refused by the firewall rule, not "network unreachable": it is on the machine's network.
    assert {seen[t].split(":")[0] for t in targets} == {"ConnectionRefusedError"}, seen
    assert not seen[f"unix:{PG_SOCKET}"].startswith("ok:")
    assert set(seen["interfaces"].split(",")) - {"lo"}
    pool_close()


def test_a_networked_plugin_can_read_the_name_resolution_and_tls_files(plugin_roots) -> None:
    # bubblewrap makes the folders above a bound file 0700: without /etc made 0755 first,
    # the plugin's uid reads none of them, and name resolution and TLS fail.
    sandbox_required()
    hostile(network=True)
    wanted = [p for p in ("/etc/resolv.conf", "/etc/nsswitch.conf", "/etc/hosts") if Path(p).exists()]
    reply = ask_with("hostile", "/files", read=wanted)
    assert wanted
    assert all(line.split(" ")[2].startswith("ok") for line in reply.splitlines()), reply
    pool_close()
