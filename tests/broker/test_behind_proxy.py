"""HTTPS_ONLY behind a TLS proxy: the scheme is believed only from TRUSTED_PROXIES."""

from __future__ import annotations

import http.client

import pytest

from tests.broker.servers import runbroker
from tests.conftest import worker_env

pytestmark = pytest.mark.slow


def _get(port: int, path: str, headers: dict[str, str] | None = None) -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", path, headers=headers or {})
    resp = conn.getresponse()
    resp.read()
    conn.close()
    return resp


def test_https_only_redirects_plain_http_and_serves_https_from_the_proxy(transactional_db) -> None:
    env = {**worker_env(), "HTTPS_ONLY": "true", "TRUSTED_PROXIES": "127.0.0.1"}
    with runbroker("--no-worker", env=env) as (port, _):
        plain = _get(port, "/admin/login/")
        assert plain.status == 301
        assert plain.getheader("Location") == f"https://127.0.0.1:{port}/admin/login/"
        secure = _get(port, "/admin/login/", {"X-Forwarded-Proto": "https"})
        assert secure.status == 200
        assert secure.getheader("Strict-Transport-Security") == "max-age=31536000"
        assert "; Secure" in (secure.getheader("Set-Cookie") or "")
        assert _get(port, "/healthz").status == 200  # load balancers probe over plain HTTP


def test_https_only_ignores_forwarded_proto_from_an_untrusted_peer(transactional_db) -> None:
    with runbroker("--no-worker", env={**worker_env(), "HTTPS_ONLY": "true"}) as (port, _):
        assert _get(port, "/admin/login/", {"X-Forwarded-Proto": "https"}).status == 301
