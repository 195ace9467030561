"""A whole local Session network (seed, swarm, file server) and an in-process client network.

:class:`LocalNetwork` holds the state; the HTTP test network (:mod:`.server`) and
:class:`MemoryNetwork` (a drop-in for ``session_python.network.SessionNetwork``) both answer
from it, so two real session-python clients can talk with real encryption and no sockets.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from typing import Any

from session_python.network import NetworkError, SnodeFetchError, SnodeRPCError

from sessiontestnet.storage import FileStore, RpcError, SwarmStore

SNODE_COUNT = 3


def _fake_snode(host: str, port: int, index: int) -> dict[str, Any]:
    seed = hashlib.sha256(f"sessiontestnet-{index}".encode()).hexdigest()
    return {
        "public_ip": host,
        "storage_port": port,
        "pubkey_ed25519": seed,
        "pubkey_x25519": hashlib.sha256(seed.encode()).hexdigest(),
    }


class LocalNetwork:
    """One swarm for every account: ``SNODE_COUNT`` announced nodes sharing one store."""

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host, self.port = host, port
        self.store = SwarmStore()
        self.files = FileStore()
        self.faults = Faults()
        self.announce(host=host, port=port)

    def announce(self, *, host: str, port: int) -> None:
        """Set the address the seed and ``get_swarm`` hand out (known once the port is bound)."""
        self.host, self.port = host, port
        nodes = [_fake_snode(host, port, i) for i in range(SNODE_COUNT)]
        self.service_nodes = nodes
        self.store.snodes = [
            {
                "ip": n["public_ip"],
                "port": str(n["storage_port"]),
                "port_https": n["storage_port"],
                "pubkey_ed25519": n["pubkey_ed25519"],
                "pubkey_x25519": n["pubkey_x25519"],
            }
            for n in nodes
        ]

    def seed_rpc(self, body: object) -> tuple[int, Any]:
        """Answer the seed's JSON-RPC ``get_n_service_nodes``."""
        if not isinstance(body, dict) or body.get("method") != "get_n_service_nodes":
            return 400, {"error": "only get_n_service_nodes is served here"}
        return 200, {"jsonrpc": "2.0", "id": body.get("id", 0), "result": {"service_node_states": self.service_nodes}}

    def storage_rpc(self, body: object) -> tuple[int, Any]:
        """Answer ``POST /storage_rpc/v1``, applying any injected faults."""
        self.faults.before_request()
        code, result = self.store.batch(body, now_ms=int(time.time() * 1000))
        if code == 200 and isinstance(result, dict):
            self.faults.after_batch(result.get("results", []))
        return code, result


class Faults:
    """Failures a test can switch on: a dead network, or store answers that are not 200."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.unreachable = False
        self.store_failures = 0
        self.requests = 0

    def before_request(self) -> None:
        with self._lock:
            self.requests += 1
            if self.unreachable:
                raise ConnectionError("network switched off by a test")

    def after_batch(self, results: list[dict[str, Any]]) -> None:
        with self._lock:
            for result in results:
                if self.store_failures > 0 and isinstance(result.get("body"), dict) and "hash" in result["body"]:
                    self.store_failures -= 1
                    result["code"], result["body"] = 500, "injected failure"


class _NoHttp:
    def close(self) -> None:
        """Nothing to close; present because ``Session.close`` calls it."""


class MemoryNetwork:
    """Drop-in for ``SessionNetwork`` talking to a :class:`LocalNetwork` in this process."""

    def __init__(self, net: LocalNetwork) -> None:
        self.net = net
        self.session = _NoHttp()
        self.proxy = None

    def get_snodes_from_seeds(self) -> list[dict[str, Any]]:
        try:
            _code, body = self.net.seed_rpc({"jsonrpc": "2.0", "id": 0, "method": "get_n_service_nodes", "params": {}})
        except ConnectionError as exc:
            raise SnodeFetchError(str(exc)) from None
        return list(body["result"]["service_node_states"])

    def snode_batch_request(
        self, snode: dict[str, Any], requests_list: list[dict[str, Any]], timeout: int = 10, method: str = "batch"
    ) -> list[dict[str, Any]]:
        # JSON round trip, so nothing is shared by reference as it would not be on the wire
        wire = json.loads(json.dumps({"jsonrpc": "2.0", "method": method, "params": {"requests": requests_list}}))
        try:
            code, body = self.net.storage_rpc(wire)
        except ConnectionError as exc:
            raise SnodeFetchError(f"Network request failed: {exc}") from None
        if code != 200:
            raise SnodeRPCError(f"HTTP Error {code}: {body}")
        return list(json.loads(json.dumps(body))["results"])

    def upload_attachment(self, data: bytes, timeout: int = 30) -> dict[str, Any]:
        try:
            file_id = self.net.files.upload(data)
        except RpcError as exc:
            raise NetworkError(f"Upload failed with status code {exc.code}") from None
        return {"id": file_id, "url": f"http://{self.net.host}:{self.net.port}/file/{file_id}"}

    def download_attachment(self, file_id: int | str, timeout: int = 30) -> bytes:
        try:
            return self.net.files.download(int(file_id))
        except RpcError as exc:
            raise NetworkError(f"Download failed with status code {exc.code}: {exc.message}") from None
        except ValueError as exc:
            raise NetworkError(f"Failed to download attachment: {exc}") from None
