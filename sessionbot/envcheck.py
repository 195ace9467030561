"""Validate environment variables; each failure is one line naming the variable and why.

Pure module: no Django import, so the table tests need no settings. ``settings.py`` turns
:class:`EnvError` into ``ImproperlyConfigured``, which ``manage.py`` prints as one line.
Values that may hold a password (URLs, tokens) are never echoed back.
"""

from __future__ import annotations

import functools
import ipaddress
import pwd
import re
import zoneinfo
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
MIN_SECRET_KEY = 32
MIN_BRIDGE_TOKEN = 16


class EnvError(ValueError):
    """One environment variable is invalid: ``str()`` is ``NAME: reason``."""

    def __init__(self, name: str, reason: str) -> None:
        self.name, self.reason = name, reason
        super().__init__(f"{name}: {reason}")


def env_bool(name: str, raw: str, *, default: bool) -> bool:
    value = raw.strip().lower()
    if not value:
        return default
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise EnvError(name, f"{raw!r} is not a boolean (use true or false)")


def env_number(name: str, raw: str, *, default: float, minimum: float = 0) -> float:
    if not raw.strip():
        return default
    try:
        value = float(raw)
    except ValueError:
        raise EnvError(name, f"{raw!r} is not a number") from None
    if value < minimum:
        raise EnvError(name, f"{raw!r} is below the minimum {minimum:g}")
    return value


def secret_key_check(raw: str, *, debug: bool, scaled_out: bool) -> str:
    """Return the key, or "" when a generated one may be used (embedded mode, or DEBUG)."""
    if not raw:
        if scaled_out and not debug:
            # Every machine must sign with one key; a key generated per machine would differ.
            raise EnvError("SECRET_KEY", "is required when DEBUG is off and REDIS_URL is set (scaled-out mode)")
        return ""
    if not debug and len(raw) < MIN_SECRET_KEY:
        raise EnvError("SECRET_KEY", f"is {len(raw)} characters; use at least {MIN_SECRET_KEY} random ones")
    return raw


def plugin_secrets_key_check(raw: str, *, debug: bool) -> str:
    """Return the key that encrypts plugin secrets ("": generate one into the data folder).

    Several comma-separated keys: the first encrypts, every one decrypts (a key rotation).
    """
    keys = [key.strip() for key in raw.split(",") if key.strip()]
    for key in keys:
        if not debug and len(key) < MIN_SECRET_KEY:
            reason = f"a key is {len(key)} characters; use at least {MIN_SECRET_KEY} random ones"
            raise EnvError("PLUGIN_SECRETS_KEY", reason)
    return ",".join(keys)


def allowed_hosts_check(hosts: list[str]) -> list[str]:
    for host in hosts:
        if not host or "://" in host or "/" in host or re.search(r"\s", host):
            raise EnvError("ALLOWED_HOSTS", f"{host!r} is not a host name (give names like bot.example.org, no URL)")
    return hosts


def database_check(config: dict[str, Any]) -> dict[str, Any]:
    """Check a django-environ database config built from ``DATABASE_URL``."""
    engine = str(config.get("ENGINE", ""))
    if engine == "django.db.backends.sqlite3":
        if config.get("NAME") in ("", ":memory:"):
            # The ASGI server and the Celery worker are separate processes: they need a file.
            raise EnvError("DATABASE_URL", "an in-memory SQLite database cannot be shared; give a file path")
    elif engine == "django.db.backends.postgresql":
        if not config.get("NAME"):
            raise EnvError("DATABASE_URL", "names no database (postgres://user@host:5432/NAME)")
    else:
        scheme = engine.rsplit(".", 1)[-1] or "(none)"
        reason = f"scheme {scheme!r} is not supported; use sqlite:///path/to/file or postgres://user@host:5432/name"
        raise EnvError("DATABASE_URL", reason)
    return config


def sqlite_folder_check(name: str) -> str:
    """Return the SQLite file ``name`` when its folder exists.

    SQLite creates the file but not its folder; creating missing folders would turn a typo
    in ``DATABASE_URL`` into a new tree (under ``/`` for a root process). The default file
    lies in ``DATA_DIR``, which settings create before this check.
    """
    folder = Path(name).parent
    if not folder.is_dir():
        raise EnvError("DATABASE_URL", f"the folder {folder} of the SQLite file does not exist; create it first")
    return name


def redis_url_check(raw: str) -> str:
    """Return ``raw`` (empty: embedded mode) when it is a usable Redis URL."""
    if not raw:
        return raw
    try:
        url = urlparse(raw)
        url.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        raise EnvError("REDIS_URL", "has a bad port (redis://host:6379/0)") from None
    if url.scheme not in ("redis", "rediss", "unix"):
        raise EnvError("REDIS_URL", f"scheme {url.scheme or '(none)'!r} is not redis://, rediss:// or unix://")
    if url.scheme != "unix" and not url.hostname:
        raise EnvError("REDIS_URL", "names no host (redis://host:6379/0)")
    db = url.path.strip("/")
    if url.scheme != "unix" and db and not db.isdigit():
        raise EnvError("REDIS_URL", f"database {db!r} is not a number (redis://host:6379/0)")
    return raw


def redis_password_warning(raw: str, *, debug: bool) -> str | None:
    """A warning for a ``REDIS_URL`` that gives no password, with DEBUG off (else None)."""
    if not raw or debug:
        return None
    url = urlparse(raw)
    if url.password or any(parse_qs(url.query).get("password", [])):
        return None
    return (
        "REDIS_URL: gives no password, so anything that reaches this Redis (a plugin, say) can "
        "read and add Celery tasks and publish on the channel layer; set a password on the server "
        "(requirepass) and give it as redis://:PASSWORD@host:6379/0 (docs/redis.md)"
    )


def redis_tls_ca_check(raw: str, *, redis_url: str) -> str:
    """Return ``raw`` (empty: the system's CAs) when it is a CA file for a rediss:// ``redis_url``."""
    if not raw:
        return raw
    if not redis_url.startswith("rediss://"):
        raise EnvError("REDIS_TLS_CA_FILE", "is set but REDIS_URL is not a rediss:// (TLS) URL")
    if not Path(raw).is_file():
        raise EnvError(
            "REDIS_TLS_CA_FILE", f"{raw} is not a file (give the PEM file of the CA that signed Redis' certificate)"
        )
    return raw


def bridge_token_check(raw: str) -> str:
    """Return ``raw`` (empty: generate one) when it is a usable bearer token."""
    if raw and (len(raw) < MIN_BRIDGE_TOKEN or not raw.isascii() or re.search(r"\s", raw)):
        reason = f"must be at least {MIN_BRIDGE_TOKEN} ASCII characters without spaces (or unset, to generate one)"
        raise EnvError("BRIDGE_TOKEN", reason)
    return raw


def metrics_token_check(raw: str) -> str:
    """Return ``raw`` (empty: ``/metrics`` for this machine only) when it is a usable bearer token."""
    if raw and (len(raw) < MIN_BRIDGE_TOKEN or not raw.isascii() or re.search(r"\s", raw)):
        reason = f"must be at least {MIN_BRIDGE_TOKEN} ASCII characters without spaces (or unset: loopback only)"
        raise EnvError("METRICS_TOKEN", reason)
    return raw


def client_name_check(raw: str) -> str:
    name = raw.strip()
    if not name or len(name) > 64 or any(ord(c) < 32 for c in name):
        raise EnvError("CLIENT_NAME", f"{raw!r} must be 1 to 64 printable characters")
    return name


def host_ip_check(raw: str) -> str:
    try:
        return str(ipaddress.ip_address(raw.strip()))
    except ValueError:
        raise EnvError("HOST_IP", f"{raw!r} is not an IP address (127.0.0.1, or 0.0.0.0 for every interface)") from None


def log_level_check(raw: str) -> str:
    level = raw.strip().upper() or "INFO"
    if level not in LOG_LEVELS:
        raise EnvError("LOG_LEVEL", f"{raw!r} is not one of {', '.join(LOG_LEVELS)}")
    return level


def log_format_check(raw: str) -> str:
    """``text`` (the default) or ``json``: one JSON object per line (bridgeprotocol.logformat)."""
    value = raw.strip().lower() or "text"
    if value not in ("text", "json"):
        raise EnvError("LOG_FORMAT", f"{raw!r} is not text or json")
    return value


def plugin_host_user_check(raw: str, *, root: bool) -> str:
    """The user plugin hosts run as when the worker is root: it must exist and not be root.

    Unset and not running as root, nothing is looked up: hosts keep the worker's user.
    """
    name = raw.strip() or "nobody"
    if not raw.strip() and not root:
        return name
    try:
        entry = pwd.getpwuid(int(name)) if name.isdigit() else pwd.getpwnam(name)
    except (KeyError, OverflowError):
        raise EnvError("PLUGIN_HOST_USER", f"{raw!r} is not a user on this machine (such as nobody)") from None
    if entry.pw_uid == 0 or entry.pw_gid == 0:
        raise EnvError("PLUGIN_HOST_USER", f"{raw!r} is root or in the root group; give an unprivileged user")
    return name


UID_BASE, UID_COUNT = 200000, 65536


def plugin_uid_range_check(raw_base: str, raw_count: str, *, users: list[int] | None = None) -> tuple[int, int]:
    """The uids reserved for plugins (uid = gid = base + the plugin's id): above the
    machine's own users and services, below 2**31, and given to no user of this machine."""
    try:
        base = int(raw_base.strip() or UID_BASE)
    except ValueError:
        raise EnvError("PLUGIN_UID_BASE", f"{raw_base!r} is not a number") from None
    try:
        count = int(raw_count.strip() or UID_COUNT)
    except ValueError:
        raise EnvError("PLUGIN_UID_COUNT", f"{raw_count!r} is not a number") from None
    if base < 100000:
        raise EnvError("PLUGIN_UID_BASE", f"{base} is below 100000 and could be a user's or a service's uid")
    if count < 16 or base + count > 2**31 - 1:
        raise EnvError("PLUGIN_UID_COUNT", f"{count} must be at least 16 and keep the range below 2147483647")
    taken = [u.pw_uid for u in pwd.getpwall()] if users is None else users
    clash = sorted(u for u in taken if base <= u < base + count)
    if clash:
        raise EnvError("PLUGIN_UID_BASE", f"uid {clash[0]} of the range {base}-{base + count - 1} belongs to a user")
    return base, count


@functools.cache
def time_zones() -> frozenset[str]:
    """The IANA time zone names this machine knows (its tz database or the tzdata package)."""
    return frozenset(zoneinfo.available_timezones())


def time_zone_check(raw: str) -> str:
    """TIME_ZONE: an IANA name such as Europe/Madrid; unset, UTC."""
    name = raw.strip() or "UTC"
    if name not in time_zones():
        raise EnvError("TIME_ZONE", f"{raw!r} is not an IANA time zone name such as Europe/Madrid or Asia/Shanghai")
    return name
