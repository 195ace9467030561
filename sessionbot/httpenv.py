"""Validate the environment settings of the web edge: admin path, proxies, TLS origins.

Pure module (no Django import), tested as tables. Each failure is an
:class:`~sessionbot.envcheck.EnvError`: one line naming the variable and why.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlparse

from sessionbot.envcheck import EnvError

# Paths the project serves itself; the admin must not shadow them.
RESERVED_PATHS = ("healthz", "livez", "readyz", "metrics", "static", "ws")
_SEGMENT = re.compile(r"^[A-Za-z0-9._~-]+$")


def admin_path_check(raw: str) -> str:
    """Return the admin's URL prefix as Django's ``path()`` wants it: ``ops/console/``."""
    path = raw.strip().strip("/")
    segments = path.split("/")
    if not path or any(not _SEGMENT.match(s) or s in (".", "..") for s in segments):
        reason = f"{raw!r} is not a URL path (letters, digits and . _ ~ - between slashes, such as admin/)"
        raise EnvError("ADMIN_PATH", reason)
    if segments[0] in RESERVED_PATHS:
        raise EnvError("ADMIN_PATH", f"{raw!r} would hide /{segments[0]}; choose another path")
    return path + "/"


def trusted_proxies_check(raw: list[str]) -> list[str]:
    """Addresses or networks (``127.0.0.1``, ``10.0.0.0/8``) of reverse proxies to believe."""
    proxies = [item.strip() for item in raw if item.strip()]
    for item in proxies:
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError:
            reason = f"{item!r} is not an IP address or network (127.0.0.1, ::1, 10.0.0.0/8)"
            raise EnvError("TRUSTED_PROXIES", reason) from None
    return proxies


def csrf_trusted_origins_check(raw: list[str]) -> list[str]:
    """Origins with a scheme and host (``https://bot.example.org``), as Django requires."""
    origins = [item.strip() for item in raw if item.strip()]
    for origin in origins:
        url = urlparse(origin)
        if url.scheme not in ("http", "https") or not url.netloc or url.path not in ("", "/"):
            reason = f"{origin!r} is not an origin (scheme and host, such as https://bot.example.org)"
            raise EnvError("CSRF_TRUSTED_ORIGINS", reason)
    return origins


def client_address(remote_addr: str) -> str:
    """The address login failures are counted under: IPv6 clients by their /64 network.

    One IPv6 subscriber usually holds a whole /64; counting its addresses one by one would
    give it 2^64 fresh tries.
    """
    try:
        address = ipaddress.ip_address(remote_addr.strip().strip("[]"))
    except ValueError:
        return remote_addr
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False).network_address)
    return str(address)
