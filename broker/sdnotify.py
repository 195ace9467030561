"""The systemd notify protocol, client side: one datagram per message to ``$NOTIFY_SOCKET``.

systemd (``Type=notify``, ``WatchdogSec=``) hands a service the address of a unix datagram
socket; the service sends ``READY=1`` once it serves, ``WATCHDOG=1`` at least every half
``WATCHDOG_USEC``, ``STATUS=...`` for ``systemctl status`` and ``STOPPING=1`` when it stops.
An address starting with ``@`` is in the abstract namespace (a leading NUL byte). Without
``NOTIFY_SOCKET`` every call does nothing, so the same code runs under any supervisor.
Standard library only: the protocol is a few lines, and libsystemd is not on every machine.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping

log = logging.getLogger(__name__)


def notify_address(value: str) -> str | None:
    """The socket address of ``NOTIFY_SOCKET``'s value: ``@name`` is abstract; None when unusable."""
    if value.startswith("@"):
        return "\0" + value[1:]
    if value.startswith("/"):
        return value
    return None  # unset, or a vsock address (vsock:CID:PORT), which a service here never gets


def notify_message(fields: Mapping[str, str]) -> bytes:
    """``KEY=value`` lines; a value's newlines become spaces (a newline ends an assignment)."""
    lines = [f"{key}={' '.join(str(value).splitlines())}" for key, value in fields.items()]
    return "\n".join(lines).encode()


def watchdog_interval(environ: Mapping[str, str], *, pid: int) -> float | None:
    """Seconds between two ``WATCHDOG=1`` (half the timeout systemd set), or None: no watchdog.

    ``WATCHDOG_PID`` names the process the watchdog is meant for; a child that inherited
    the variables from its parent must not answer for it.
    """
    usec = environ.get("WATCHDOG_USEC", "")
    owner = environ.get("WATCHDOG_PID", "")
    if not usec.isdigit() or int(usec) == 0:
        return None
    if owner and (not owner.isdigit() or int(owner) != pid):
        return None
    return int(usec) / 2_000_000


class Notifier:
    """Sends notify messages to ``address`` (None: to nobody)."""

    def __init__(self, address: str | None) -> None:
        self.address = address

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> Notifier:
        return cls(notify_address((os.environ if environ is None else environ).get("NOTIFY_SOCKET", "")))

    @property
    def enabled(self) -> bool:
        return self.address is not None

    def notify(self, **fields: str) -> bool:
        """Send ``fields`` (``READY="1"``, ``STATUS="..."``); false if there is no socket or it failed."""
        if self.address is None:
            return False
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                sock.sendto(notify_message(fields), self.address)
        except OSError as exc:
            # The service must run on when the manager's socket is gone (systemd restarting).
            log.warning("could not notify the service manager (%s)", exc.strerror or exc)
            return False
        return True
