"""Report a database that cannot be reached in one line naming ``DATABASE_URL``.

A process that cannot open its first connection (a server down, a wrong port, a database
that does not exist, a refused password) would otherwise end in Django's and psycopg's
traceback, some ninety lines in which the cause is the last one. ``manage.py`` and the
Celery worker's start turn that error into one line, the URL shown without its password.
"""

from __future__ import annotations

import traceback
from collections.abc import Mapping
from typing import Any

EXIT_UNREACHABLE = 1

_SCHEMES = {"django.db.backends.postgresql": "postgres", "django.db.backends.sqlite3": "sqlite"}


def database_shown(config: Mapping[str, Any]) -> str:
    """The database's URL, as ``DATABASE_URL`` gives it, without the password or options."""
    engine = str(config.get("ENGINE", ""))
    scheme = _SCHEMES.get(engine, engine.rsplit(".", 1)[-1])
    if scheme == "sqlite":
        return f"sqlite:///{config.get('NAME', '')}"
    user = f"{config['USER']}@" if config.get("USER") else ""
    port = f":{config['PORT']}" if config.get("PORT") else ""
    return f"{scheme}://{user}{config.get('HOST', '')}{port}/{config.get('NAME', '')}"


def connect_failed(exc: BaseException) -> bool:
    """Whether ``exc`` was raised while opening a connection, not by a statement.

    Every Django backend opens its connections in ``get_new_connection``; an error whose
    traceback passes through it is a connection that could not be made. A statement's error
    (SQLite's "no table", say) is also an ``OperationalError`` and must keep its traceback.
    """
    return any(frame.f_code.co_name == "get_new_connection" for frame, _ in traceback.walk_tb(exc.__traceback__))


def connect_failure_line(config: Mapping[str, Any], exc: BaseException) -> str:
    """One line for the operator: what could not be reached, and the driver's reason."""
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    # psycopg: 'connection failed: connection to server at "h", port 1 failed: Connection refused'
    reason = first.rsplit(" failed: ", 1)[-1].removeprefix("FATAL:").strip()
    return f"sessionbot: cannot connect to the database of DATABASE_URL ({database_shown(config)}): {reason}"


def database_connect_check() -> None:
    """Open the default connection now; exit with one line if the database cannot be reached."""
    from django.db import Error, connection

    try:
        connection.ensure_connection()
    except Error as exc:
        if not connect_failed(exc):
            raise
        raise SystemExit(connect_failure_line(connection.settings_dict, exc)) from None
