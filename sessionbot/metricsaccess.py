"""Who may scrape ``/metrics``: this machine, or whoever holds ``METRICS_TOKEN``.

Pure module (no Django), so the rules are tested as a table. A request that came through
a proxy carries forwarding headers; it is not treated as local even though the proxy
connects from loopback, or a reverse proxy on the same machine would open the page to all.
"""

from __future__ import annotations

import hmac
import ipaddress

ALLOWED = 200
TOKEN_REQUIRED = 401  # a token is configured: present it (or it was wrong)
FORBIDDEN = 403  # no token configured and the request is not from this machine


def is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address.strip().strip("[]")).is_loopback
    except ValueError:
        return False


def bearer_token(authorization: str) -> str:
    """The token of an ``Authorization: Bearer <token>`` header, else ``""``."""
    scheme, _, value = authorization.strip().partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""


def metrics_access(*, remote_addr: str, forwarded: bool, authorization: str, token: str) -> int:
    """Return ALLOWED, TOKEN_REQUIRED or FORBIDDEN (the HTTP status to answer)."""
    presented = bearer_token(authorization)
    if token and presented:
        # Constant time, as for the bridge token: the scrape port may face the network.
        return ALLOWED if hmac.compare_digest(presented.encode(), token.encode()) else TOKEN_REQUIRED
    if is_loopback(remote_addr) and not forwarded:
        return ALLOWED
    return TOKEN_REQUIRED if token else FORBIDDEN
