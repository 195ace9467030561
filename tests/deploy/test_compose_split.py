"""compose.yaml's processes, each with its user and privileges, on this machine's servers:
setup as root, the bot as uid 10001 (the image's user) with its bridge on the local Session
test network, a worker as root held to Docker's capabilities plus the worker's cap_add. A
chat user's /ping is answered, and /echo by a plugin host in the sandbox; the bot, which may
not load plugin code (PLUGINS_CONFINED_ONLY), has a worker reload it. What this leaves out is
Docker itself: the image, its file system, seccomp and AppArmor."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.conftest import ROOT, process_stop, require_server, services_required, wait_for
from tests.deploy.test_entrypoint import SCRIPT, free_port, redis_url
from tests.deploy.test_files import compose
from tests.deploy.test_sandbox_caps import DOCKER_DEFAULT

APP_UID = 10001
PLUGIN_UID_BASE = 200000
# uid 10001 cannot enter /root on these machines, where pyenv keeps the interpreter: in a
# mount namespace of its own, /root becomes a traversable tmpfs holding that folder alone.
AS_APP_USER = """set -e
uid=$1 interpreter=$(readlink -f "$2"); shift 2
case "$interpreter" in
  /root/*)
    keep=/root/$(echo "${interpreter#/root/}" | cut -d/ -f1)
    hold=$(mktemp -d)
    mount --bind "$keep" "$hold"
    mount -t tmpfs -o mode=0755 none /root
    mkdir "$keep"
    mount --bind "$hold" "$keep"
    ;;
esac
exec setpriv --reuid="$uid" --regid="$uid" --clear-groups -- "$@"
"""


def needs(*tools: str) -> None:
    missing = [tool for tool in tools if shutil.which(tool, path="/usr/bin:/usr/sbin:/bin") is None]
    if os.geteuid() != 0 or missing:
        message = f"needs root and {', '.join(tools)} (missing: {', '.join(missing) or 'root'})"
        if services_required():
            pytest.fail(message)
        pytest.skip(message)


def bounded(caps: list[str], argv: list[str]) -> list[str]:
    return ["setpriv", f"--bounding-set={','.join(['-all', *(f'+{c.lower()}' for c in caps)])}", "--", *argv]


@pytest.fixture
def database() -> Iterator[str]:
    base = os.environ.get("DATABASE_URL", "")
    base = base if base.startswith("postgres") else "postgres://postgres@127.0.0.1:5432/postgres"
    require_server(base, "PostgreSQL")
    server, name = base.rsplit("/", 1)[0], f"sessionbot_split_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{server}/{name}"
    finally:
        with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def volume() -> Iterator[Path]:
    """The data volume, as the image makes it, where uid 10001 can reach it (not in pytest's
    own temporary folder, which only root may enter)."""
    data = Path(tempfile.mkdtemp(prefix="sessionbot-volume-"))
    data.chmod(0o750)
    os.chown(data, APP_UID, APP_UID)
    try:
        yield data
    finally:
        shutil.rmtree(data, ignore_errors=True)


def compose_env(tmp_path: Path, volume: Path, database: str, network_port: int) -> dict[str, str]:
    """The environment compose.yaml gives its app containers, with the secrets `secrets` wrote."""
    dotenv = tmp_path / ".env"
    subprocess.run(["sh", str(SCRIPT), "secrets", str(dotenv)], check=True, capture_output=True)
    secrets = dict(line.split("=", 1) for line in dotenv.read_text().splitlines())
    data = volume
    # data/plugins.yaml with echo in a plugin host, which a root worker confines.
    plugins = (ROOT / "data" / "plugins.yaml").read_text()
    echo = "    entrypoint: sessionbot_builtin.echo:Echo\n    isolation: inline\n"
    assert echo in plugins
    (tmp_path / "plugins.yaml").write_text(plugins.replace(echo, echo.replace("inline", "host")))
    env = {k: v for k, v in os.environ.items() if k != "SESSION_MNEMONIC"} | secrets
    # compose.yaml's own setting, at its default: ${PLUGINS_CONFINED_ONLY:-true}.
    confined = re.fullmatch(
        r"\$\{PLUGINS_CONFINED_ONLY:-(\w+)\}", compose()["x-app"]["environment"]["PLUGINS_CONFINED_ONLY"]
    )
    assert confined is not None
    return env | {
        "PLUGINS_CONFINED_ONLY": confined.group(1),
        "PLUGINS_FILE": str(tmp_path / "plugins.yaml"),
        "DATA_DIR": str(data),
        "DATABASE_URL": database,
        "REDIS_URL": redis_url(),
        "SESSION_NETWORK_URL": f"http://127.0.0.1:{network_port}",
        "WORKER_THREADS": "2",
        "LOG_LEVEL": "INFO",  # as in the containers; the test suite sets WARNING
    }


def chat(env: dict[str, str], session_id: str, chat_data: Path) -> str:
    """What a chat user on the test network reads after sending /ping and /echo."""
    argv = [sys.executable, str(ROOT / "manage.py"), "chat", session_id, "--linger", "20"]
    chat_env = env | {"DATA_DIR": str(chat_data)}
    result = subprocess.run(
        argv,
        input="/ping\n/echo from-the-sandbox\n",
        env=chat_env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return result.stdout


def test_the_compose_processes_answer_a_chat_user_with_their_own_privileges(
    tmp_path: Path, volume: Path, database: str
) -> None:
    needs("unshare", "setpriv", "bwrap", "nft")
    network_port = free_port()
    env = compose_env(tmp_path, volume, database, network_port)
    services = compose()["services"]
    assert services["setup"]["cap_add"] == services["worker"]["cap_add"]
    root_caps = [*DOCKER_DEFAULT, *services["worker"]["cap_add"]]
    procs: list[subprocess.Popen[bytes]] = []

    def start(argv: list[str], log: str) -> None:
        with (tmp_path / log).open("wb") as out:
            procs.append(subprocess.Popen(argv, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT))

    try:
        start([sys.executable, str(ROOT / "manage.py"), "sessiontestnet", "--port", str(network_port)], "testnet.log")
        setup = subprocess.run(
            bounded(root_caps, ["sh", str(SCRIPT), "setup"]), env=env, capture_output=True, text=True
        )
        session_id = re.search(r"^main\s+(05[0-9a-f]{64})", setup.stdout, re.M)
        assert session_id, setup.stdout + setup.stderr[-3000:]
        as_app = ["unshare", "--mount", "sh", "-c", AS_APP_USER, "sh", str(APP_UID), sys.executable]
        start([*as_app, "sh", str(SCRIPT), "bot", "--port", str(free_port())], "bot.log")
        start(bounded(root_caps, ["sh", str(SCRIPT), "worker"]), "worker.log")
        bot_log = tmp_path / "bot.log"
        connected = wait_for(lambda: "bot main: connected to the broker" in bot_log.read_text(), timeout=90)
        assert connected, bot_log.read_text()[-3000:]
        answer = chat(env, session_id.group(1), tmp_path / "chat")
        assert "bot> pong" in answer, answer + (tmp_path / "worker.log").read_text()[-3000:]
        assert "bot> from-the-sandbox" in answer, answer + (tmp_path / "worker.log").read_text()[-3000:]
        # The bot's process may not load plugin code: its reload is the worker's, in the sandbox.
        reload = subprocess.run(
            [*as_app, "sh", str(SCRIPT), "manage", "plugins", "reload", "echo"],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert reload.stdout.strip().endswith("echo reloaded."), reload.stdout + reload.stderr[-3000:]
    finally:
        for proc in reversed(procs):
            process_stop(proc, timeout=30)
    # The server ran as the image's user; the plugin ran as a uid of its own, in the sandbox.
    data = Path(env["DATA_DIR"])
    assert (data / "bridge-state").stat().st_uid == APP_UID
    assert (data / "plugin-data" / "echo").stat().st_uid >= PLUGIN_UID_BASE
