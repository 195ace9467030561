"""The local Session test network over HTTP and HTTPS on one loopback port.

session-python asks seeds over plain HTTP and storage nodes over HTTPS (accepting any
certificate), and announces one address for both; so each connection's first byte decides:
a TLS handshake record (0x16) is wrapped with a self-signed certificate made at start.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import logging
import re
import socket
import ssl
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from sessiontestnet.local import LocalNetwork
from sessiontestnet.storage import RpcError

log = logging.getLogger(__name__)

TLS_HANDSHAKE = b"\x16"
MAX_BODY = 20 * 1024 * 1024
FILE_PATH = re.compile(r"^/file/(\d+)$")


def tls_context_selfsigned(host: str) -> ssl.SSLContext:
    """Return a server context with a fresh self-signed certificate for ``host``."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sessiontestnet")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address(host))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with tempfile.TemporaryDirectory() as tmp:
        cert_path, key_path = Path(tmp) / "cert.pem", Path(tmp) / "key.pem"
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        context.load_cert_chain(cert_path, key_path)
    return context


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 60
    server: SessionTestnet

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.client_address[0], *args)

    def _reply(self, code: int, payload: bytes, content_type: str = "application/json") -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _json(self, code: int, body: Any) -> None:
        self._reply(code, json.dumps(body).encode() if not isinstance(body, str) else body.encode(), "application/json")

    def _body(self) -> bytes | None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self._json(413, "request too large")
            return None
        return self.rfile.read(length)

    def do_POST(self) -> None:
        raw = self._body()
        if raw is None:
            return
        net = self.server.network
        path = self.path.split("?", 1)[0]
        if path == "/file":
            try:
                self._json(200, {"id": net.files.upload(raw)})
            except RpcError as exc:
                self._json(exc.code, exc.message)
            return
        if path not in ("/json_rpc", "/storage_rpc/v1"):
            self._json(404, "not found")
            return
        try:
            body = json.loads(raw or b"null")
        except ValueError:
            self._json(400, "body is not JSON")
            return
        try:
            code, result = net.seed_rpc(body) if path == "/json_rpc" else net.storage_rpc(body)
        except ConnectionError:
            self.close_connection = True  # an injected outage: hang up without an answer
            return
        self._json(code, result)

    def do_GET(self) -> None:
        match = FILE_PATH.match(self.path.split("?", 1)[0])
        if not match:
            self._json(404, "not found")
            return
        try:
            self._reply(200, self.server.network.files.download(int(match.group(1))), "application/octet-stream")
        except RpcError as exc:
            self._json(exc.code, exc.message)


class SessionTestnet(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__((host, port), _Handler)
        self.tls = tls_context_selfsigned(host)
        bound_host, bound_port = self.server_address[0], self.server_address[1]
        self.network = LocalNetwork(host=str(bound_host), port=int(bound_port))

    @property
    def url(self) -> str:
        return f"http://{self.network.host}:{self.network.port}"

    def finish_request(self, request: Any, client_address: Any) -> None:
        # Runs in the connection's own thread, so a slow handshake blocks nobody else.
        try:
            request.settimeout(30)
            first = request.recv(1, socket.MSG_PEEK)
            tls_sock = self.tls.wrap_socket(request, server_side=True) if first == TLS_HANDSHAKE else None
        except (OSError, ssl.SSLError) as exc:
            log.debug("connection from %s dropped before a request: %s", client_address, exc)
            return
        if tls_sock is None:
            super().finish_request(request, client_address)
            return
        try:
            super().finish_request(tls_sock, client_address)
        finally:
            tls_sock.close()

    def start_background(self) -> threading.Thread:
        """Serve from a daemon thread (tests); stop with ``shutdown()``."""
        thread = threading.Thread(target=self.serve_forever, name="sessiontestnet", daemon=True)
        thread.start()
        return thread
