"""Redis with a password, and with TLS (``rediss://``): every client of ``REDIS_URL`` connects.

Each test starts its own ``redis-server`` on a free loopback port in a temporary folder
(never the shared one), with a password, and for TLS a throwaway CA and certificate made
with ``openssl``. Without those programs the tests are skipped (in CI, failed).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

from tests.broker.conftest import BOT
from tests.broker.conftest import message as message_frame
from tests.broker.servers import bridge_connect, frame_recv, free_port, hello, runbroker
from tests.conftest import ROOT, process_stop, services_required, wait_for, worker_env

pytestmark = [pytest.mark.slow, pytest.mark.services]

PASSWORD = "correct-horse-battery-staple"
KEY = "k" * 40


def _needs(program: str) -> str:
    path = shutil.which(program)
    if path is None:
        reason = (
            f"{program} is not installed; install it (apt-get install redis-server openssl) or unset REQUIRE_SERVICES"
        )
        if services_required():
            pytest.fail(reason)
        pytest.skip(reason)
    return path


@dataclass(frozen=True, slots=True)
class OwnRedis:
    url: str
    ca_file: Path | None


def _certificates(folder: Path) -> tuple[Path, Path, Path]:
    """A throwaway CA, and a certificate for 127.0.0.1 that it signed: (CA, certificate, key)."""
    openssl = _needs("openssl")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    ca, ca_key, cert, key, csr = (folder / name for name in ("ca.pem", "ca.key", "server.pem", "server.key", "s.csr"))
    (folder / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    signed = ["-days", "1", "-extfile", folder / "san.ext"]
    steps = [
        [openssl, "req", "-x509", *ec, "-keyout", ca_key, "-out", ca, "-days", "1", "-subj", "/CN=sessionbot test CA"],
        [openssl, "req", *ec, "-keyout", key, "-out", csr, "-subj", "/CN=127.0.0.1"],
        [openssl, "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial", "-out", cert, *signed],
    ]
    for step in steps:
        subprocess.run([str(arg) for arg in step], check=True, capture_output=True, timeout=60)
    return ca, cert, key


@pytest.fixture(params=["password", "tls"])
def own_redis(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[OwnRedis]:
    server = _needs("redis-server")
    port = free_port()
    argv = [server, "--bind", "127.0.0.1", "--requirepass", PASSWORD, "--save", "", "--appendonly", "no"]
    argv += ["--dir", str(tmp_path)]
    ca_file = None
    if request.param == "tls":
        ca_file, cert, key = _certificates(tmp_path)
        argv += ["--port", "0", "--tls-port", str(port), "--tls-cert-file", str(cert), "--tls-key-file", str(key)]
        argv += ["--tls-ca-cert-file", str(ca_file), "--tls-auth-clients", "no"]
        url = f"rediss://:{PASSWORD}@127.0.0.1:{port}/0"
    else:
        argv += ["--port", str(port)]
        url = f"redis://:{PASSWORD}@127.0.0.1:{port}/0"
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    tls = {"ssl_ca_certs": str(ca_file)} if ca_file else {}
    client = redis.Redis.from_url(url, **tls)
    try:
        assert wait_for(lambda: _answers(client), timeout=20), "redis-server did not start"
        yield OwnRedis(url=url, ca_file=ca_file)
    finally:
        client.close()
        process_stop(proc, timeout=10)


def _answers(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.ConnectionError:
        return False


def _env(own: OwnRedis) -> dict[str, str]:
    env = {**worker_env(), "REDIS_URL": own.url, "SECRET_KEY": KEY}
    env.pop("CELERY_BROKER_URL", None)
    if own.ca_file is not None:
        env["REDIS_TLS_CA_FILE"] = str(own.ca_file)
    return env


def test_the_server_wants_the_password(own_redis: OwnRedis) -> None:
    tls = {"ssl_ca_certs": str(own_redis.ca_file)} if own_redis.ca_file else {}
    without = own_redis.url.replace(f":{PASSWORD}@", "")
    with pytest.raises(redis.AuthenticationError):
        redis.Redis.from_url(without, **tls).ping()


def test_every_client_of_redis_connects_with_the_password(own_redis: OwnRedis) -> None:
    probe = subprocess.run(
        [sys.executable, "-m", "tests.redis_probe"],
        cwd=ROOT,
        env=_env(own_redis),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert probe.returncode == 0, probe.stderr[-2000:]
    assert json.loads(probe.stdout.strip().splitlines()[-1]) == {
        "channel_layer": True,
        "cache": True,
        "rate_limiter": True,
        "celery_broker": True,
    }


def test_a_message_is_answered_through_redis_with_the_password(own_redis: OwnRedis, builtins) -> None:
    with runbroker(env=_env(own_redis)) as (port, _), bridge_connect(port) as ws:
        hello(ws, BOT)
        ws.send(json.dumps(message_frame("/ping", mid="m-auth")))
        frames = [frame_recv(ws), frame_recv(ws)]
    assert frames[0] == {"type": "ack", "id": "m-auth", "status": "accepted"}
    assert (frames[1]["type"], frames[1]["text"]) == ("send", "pong")


@pytest.mark.parametrize("own_redis", ["tls"], indirect=True)
def test_a_tls_url_without_the_ca_is_refused(own_redis: OwnRedis) -> None:
    assert own_redis.ca_file is not None
    env = {**_env(own_redis)}
    env.pop("REDIS_TLS_CA_FILE")  # the throwaway CA is not among the system's
    probe = subprocess.run(
        [sys.executable, "-m", "tests.redis_probe"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert probe.returncode != 0
    assert "CERTIFICATE_VERIFY_FAILED" in probe.stderr
