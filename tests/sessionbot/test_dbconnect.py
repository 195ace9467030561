"""A database that cannot be reached stops start-up with one line naming DATABASE_URL.

The processes are real (``manage.py migrate``, ``runbroker``, a Celery worker) and so is the
refusal: nothing listens on port 1 of the loopback address.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from sessionbot.dbconnect import connect_failure_line, database_shown
from tests.conftest import ROOT

UNREACHABLE = "postgres://bot:s3cret@127.0.0.1:1/bot"
SHOWN = "postgres://bot@127.0.0.1:1/bot"


@pytest.mark.parametrize(
    ("config", "shown"),
    [
        (
            {
                "ENGINE": "django.db.backends.postgresql",
                "USER": "bot",
                "PASSWORD": "s3cret",
                "HOST": "db",
                "PORT": 5432,
                "NAME": "bot",
            },
            "postgres://bot@db:5432/bot",
        ),
        (
            {"ENGINE": "django.db.backends.postgresql", "USER": "", "HOST": "db", "PORT": "", "NAME": "bot"},
            "postgres://db/bot",
        ),
        ({"ENGINE": "django.db.backends.sqlite3", "NAME": "/srv/bot/db.sqlite3"}, "sqlite:////srv/bot/db.sqlite3"),
    ],
)
def test_the_database_is_shown_without_its_password(config, shown) -> None:
    assert database_shown(config) == shown


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (
            'connection failed: connection to server at "127.0.0.1", port 1 failed: Connection refused\n'
            "\tIs the server running on that host and accepting TCP/IP connections?",
            "Connection refused",
        ),
        (
            'connection failed: connection to server at "127.0.0.1", port 5432 failed: FATAL:  '
            'password authentication failed for user "bot"',
            'password authentication failed for user "bot"',
        ),
        ("failed to resolve host 'db': [Errno -2] Name or service not known", "failed to resolve host 'db'"),
        ("", "OSError"),
    ],
)
def test_the_line_gives_the_drivers_reason(error, reason) -> None:
    config = {"ENGINE": "django.db.backends.postgresql", "USER": "bot", "HOST": "db", "PORT": 5432, "NAME": "bot"}
    line = connect_failure_line(config, OSError(error) if error else OSError())
    assert line.startswith("sessionbot: cannot connect to the database of DATABASE_URL (postgres://bot@db:5432/bot): ")
    assert reason in line
    assert "\n" not in line


def _run(tmp_path, argv: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` in a clean environment plus ``env``, with its own data folder."""
    base = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "DEBUG"}}
    base.update({"DATA_DIR": str(tmp_path / "data"), "PYTHONPATH": str(ROOT)}, **env)
    return subprocess.run(argv, cwd=ROOT, env=base, capture_output=True, text=True, timeout=60)


MANAGE = [sys.executable, "manage.py"]
WORKER = [sys.executable, "-m", "celery", "-A", "sessionbot", "worker", "--pool=threads", "--without-gossip",
          "--without-mingle", "--without-heartbeat"]  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize(
    "argv",
    [[*MANAGE, "migrate"], [*MANAGE, "runbroker", "--port", "0", "--no-bridge"], WORKER],
    ids=["migrate", "runbroker", "celery worker"],
)
def test_an_unreachable_database_stops_start_up_with_one_line(tmp_path, argv) -> None:
    result = _run(tmp_path, argv, DATABASE_URL=UNREACHABLE)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("sessionbot:")]
    assert lines == [f"sessionbot: cannot connect to the database of DATABASE_URL ({SHOWN}): Connection refused"]
    assert "s3cret" not in result.stderr + result.stdout


@pytest.mark.slow
def test_a_statements_error_keeps_its_traceback(tmp_path) -> None:
    """Only a connection that cannot be opened is reported as one line; a bad query is a bug."""
    code = "from django.db import connection; connection.cursor().execute('SELECT * FROM no_such_table')"
    result = _run(tmp_path, [*MANAGE, "shell", "-c", code])
    assert result.returncode != 0
    assert "Traceback" in result.stderr
    assert "no such table: no_such_table" in result.stderr
    assert "cannot connect" not in result.stderr
