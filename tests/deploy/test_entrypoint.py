"""deploy/sessionbot.sh run for real: its roles against this machine's database, Redis and
a runbroker of its own, as a container or a systemd unit would run them."""

from __future__ import annotations

import os
import re
import socket
import stat
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from tests.conftest import ROOT, process_stop, require_server, wait_for

SCRIPT = ROOT / "deploy" / "sessionbot.sh"
SECRETS = ["SECRET_KEY", "PLUGIN_SECRETS_KEY", "BRIDGE_TOKEN", "POSTGRES_PASSWORD", "REDIS_PASSWORD"]
SESSION_ID = re.compile(r"^main\s+(05[0-9a-f]{64})\s+enabled", re.M)
KEY = "deploy-test-secret-key-0123456789-abcdefghijklmnop"


@dataclass(frozen=True, slots=True)
class Install:
    env: dict[str, str]
    session_id: str
    data: Path


def script(*args: str, env: dict[str, str], timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["sh", str(SCRIPT), *args], env=env, capture_output=True, text=True, timeout=timeout)


def start(*args: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(["sh", str(SCRIPT), *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def clean_env(data: Path) -> dict[str, str]:
    """This process's environment without the test suite's database, Redis or data folder."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "SESSION_MNEMONIC")}
    return env | {"DATA_DIR": str(data), "DATABASE_URL": f"sqlite:///{data / 'sessionbot.sqlite3'}"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def redis_url() -> str:
    url = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
    require_server(url, "Redis")
    return url


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Install:
    """``sessionbot.sh setup`` on an empty SQLite data folder: the embedded default."""
    data = tmp_path_factory.mktemp("data")
    env = clean_env(data)
    result = script("setup", env=env)
    assert result.returncode == 0, result.stderr
    found = SESSION_ID.search(result.stdout)
    assert found, result.stdout
    assert "plugins: 7 created" in result.stdout  # data/plugins.yaml was imported
    return Install(env=env, session_id=found.group(1), data=data)


def test_secrets_writes_each_secret_once_random_and_private(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    assert script("secrets", str(dotenv), env=dict(os.environ)).returncode == 0
    values = dict(line.split("=", 1) for line in dotenv.read_text().splitlines())
    assert sorted(values) == sorted(SECRETS)
    assert all(re.fullmatch(r"[0-9a-f]{64}", value) for value in values.values())
    assert len(set(values.values())) == len(SECRETS)
    assert stat.S_IMODE(dotenv.stat().st_mode) == 0o600
    before = dotenv.read_text()
    assert script("secrets", str(dotenv), env=dict(os.environ)).returncode == 0
    assert dotenv.read_text() == before  # the database keeps the password it was made with


def test_secrets_keeps_the_operators_values_and_fills_empty_ones(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text("ALLOWED_HOSTS=bot.example.org\nSECRET_KEY=\nREDIS_PASSWORD=mine")
    script("secrets", str(dotenv), env=dict(os.environ))
    lines = dotenv.read_text().splitlines()
    names = [line.split("=", 1)[0] for line in lines]
    assert sorted(names) == sorted([*SECRETS, "ALLOWED_HOSTS"])  # none repeated
    assert "REDIS_PASSWORD=mine" in lines
    assert "ALLOWED_HOSTS=bot.example.org" in lines
    assert all(line.split("=", 1)[1] for line in lines)  # none empty


def test_setup_prints_the_session_id_of_the_first_bot(installed: Install) -> None:
    words = (installed.data / "session_mnemonic").read_text().split()
    assert len(words) == 13  # the identity the bridge will serve, kept for the operator


@pytest.mark.services
def test_setup_on_postgresql_keeps_the_identity_the_older_bot_had(installed: Install) -> None:
    """SESSION_MNEMONIC, as an older bot's .env gives it, becomes the bot's identity."""
    base = os.environ.get("DATABASE_URL", "")
    base = base if base.startswith("postgres") else "postgres://postgres@127.0.0.1:5432/postgres"
    require_server(base, "PostgreSQL")
    name = f"sessionbot_deploy_{uuid.uuid4().hex[:8]}"
    admin = base.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        env = installed.env | {
            "DATABASE_URL": base.rsplit("/", 1)[0] + "/" + name,
            "DATA_DIR": str(installed.data / "pg"),
            "REDIS_URL": redis_url(),
            "SECRET_KEY": KEY,
            "PLUGIN_SECRETS_KEY": KEY,
            "SESSION_MNEMONIC": (installed.data / "session_mnemonic").read_text().strip(),
        }
        result = script("setup", env=env)
        assert result.returncode == 0, result.stderr
        found = SESSION_ID.search(result.stdout)
        assert found, result.stdout
        assert found.group(1) == installed.session_id
        again = script("setup", env=env)
        assert "plugins: 0 created, 0 updated, 7 unchanged" in again.stdout  # setup runs at every `up`
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_health_fails_when_nothing_runs(installed: Install) -> None:
    env = installed.env | {"PORT": str(free_port())}
    for probe in ("ready", "live"):
        result = script("health", probe, env=env)
        assert result.returncode != 0
        assert "Connection refused" in result.stderr


@pytest.fixture
def bot(installed: Install) -> Iterator[str]:
    """The bot role (runbroker without a worker), its bridge left out: its base URL."""
    port = free_port()
    proc = start("bot", "--no-bridge", "--port", str(port), env=installed.env)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        process_stop(proc, timeout=30)


def test_health_follows_the_bot_roles_server(installed: Install, bot: str) -> None:
    def probe(path: str) -> int:
        return script("health", env=installed.env | {"HEALTH_URL": bot + path}).returncode

    assert wait_for(lambda: probe("/healthz") == 0, timeout=60, interval=0.5)
    assert probe("/no-such-page") == 1  # an answer other than 200 is not healthy


@pytest.mark.services
def test_a_worker_answers_the_health_probe_until_it_stops(installed: Install) -> None:
    env = installed.env | {
        "REDIS_URL": redis_url(),
        "SECRET_KEY": KEY,
        "WORKER_NAME": f"deploytest-{uuid.uuid4().hex[:8]}@%h",
        "WORKER_THREADS": "1",
    }
    worker = start("worker", env=env)
    try:
        assert wait_for(lambda: script("health", "worker", env=env).returncode == 0, timeout=60, interval=1)
    finally:
        process_stop(worker, timeout=30)
    assert script("health", "worker", env=env).returncode != 0
