"""Pick and guard the network object session-python talks through.

``SESSION_NETWORK_URL`` set (``http://127.0.0.1:PORT``): seeds, swarm and file server are the
local test network. Unset: the real Session network, unchanged. Either way the network is
wrapped by :class:`GuardedNetwork`, which turns a store answer other than 200 into an
exception so session-python's store loop ends (it spins forever otherwise).
"""

from __future__ import annotations

import http.client
import json
from typing import Any, Protocol
from urllib.parse import urlparse
from urllib.request import getproxies

import session_python.network as sp_network
from session_python.network import NetworkError, SessionNetwork, SnodeFetchError, SnodeRPCError

from bridge.snodehttp import SnodeConnections

REQUEST_TIMEOUT = 10


class NetworkLike(Protocol):
    session: Any

    def get_snodes_from_seeds(self) -> list[dict[str, Any]]: ...

    def snode_batch_request(
        self, snode: dict[str, Any], requests_list: list[dict[str, Any]], timeout: int = ..., method: str = ...
    ) -> list[dict[str, Any]]: ...

    def upload_attachment(self, data: bytes, timeout: int = ...) -> dict[str, Any]: ...

    def download_attachment(self, file_id: int | str, timeout: int = ...) -> bytes: ...


class StoreRejected(SnodeRPCError):
    """A storage node answered a store with something other than 200."""

    def __init__(self, code: object, body: object) -> None:
        super().__init__(f"store answered {code}: {str(body)[:200]}")
        self.code = code


class PooledNetwork(SessionNetwork):
    """session-python's network with storage node requests over kept connections
    (:mod:`bridge.snodehttp`), unless a proxy is set in the environment: then through
    requests, which honours it."""

    def __init__(self) -> None:
        super().__init__()
        self.pooled = not getproxies()
        if self.pooled:
            # requests would otherwise look for a proxy and ~/.netrc at every request
            self.session.trust_env = False
        self.connections = SnodeConnections()

    def snode_batch_request(
        self, snode: dict[str, Any], requests_list: list[dict[str, Any]], timeout: int = 10, method: str = "batch"
    ) -> list[dict[str, Any]]:
        if not self.pooled:
            return super().snode_batch_request(snode, requests_list, timeout=timeout, method=method)
        body = json.dumps({"jsonrpc": "2.0", "method": method, "params": {"requests": requests_list}}).encode()
        host, port = str(snode["public_ip"]), int(snode["storage_port"])
        try:
            status, data = self.connections.post(host, port, "/storage_rpc/v1", body, timeout=timeout)
        except (OSError, http.client.HTTPException) as exc:
            raise SnodeFetchError(f"Network request failed: {type(exc).__name__}: {exc}") from None
        # the answers session-python gives for the same cases
        if status == 421:
            raise SnodeRPCError("421 handled. Retry this request with a new snode.")
        if not 200 <= status < 400:
            raise SnodeRPCError(f"HTTP Error {status}: {data[:200].decode(errors='replace')}")
        try:
            answer = json.loads(data)
        except ValueError as exc:
            raise SnodeFetchError(f"Network request failed: {exc}") from None
        if not isinstance(answer, dict) or "results" not in answer:
            raise SnodeRPCError(f"Invalid snode RPC response (no 'results'): {str(answer)[:200]}")
        results: list[dict[str, Any]] = answer["results"]
        return results

    def close(self) -> None:
        self.connections.close()


class LocalFileServerNetwork(PooledNetwork):
    """The pooled network with the file server moved to ``base_url``."""

    def __init__(self, base_url: str) -> None:
        super().__init__()
        self.base_url = base_url.rstrip("/")

    def upload_attachment(self, data: bytes, timeout: int = 30) -> dict[str, Any]:
        try:
            response = self.session.post(f"{self.base_url}/file", data=data, timeout=timeout)
            if not response.ok:
                raise NetworkError(f"Upload failed with status code {response.status_code}")
            file_id = int(response.json()["id"])
        except (OSError, ValueError, KeyError) as exc:
            raise NetworkError(f"Failed to upload attachment: {exc}") from None
        return {"id": file_id, "url": f"{self.base_url}/file/{file_id}"}

    def download_attachment(self, file_id: int | str, timeout: int = 30) -> bytes:
        try:
            response = self.session.get(f"{self.base_url}/file/{int(file_id)}", timeout=timeout)
        except (OSError, ValueError) as exc:
            raise NetworkError(f"Failed to download attachment: {exc}") from None
        if not response.ok:
            raise NetworkError(f"Download failed with status code {response.status_code}")
        return bytes(response.content)


class GuardedNetwork:
    """Delegate to ``inner``; a store sub-result that is not 200 raises :class:`StoreRejected`."""

    def __init__(self, inner: NetworkLike) -> None:
        self.inner = inner
        self.session = inner.session

    def get_snodes_from_seeds(self) -> list[dict[str, Any]]:
        return self.inner.get_snodes_from_seeds()

    def snode_batch_request(
        self,
        snode: dict[str, Any],
        requests_list: list[dict[str, Any]],
        timeout: int = REQUEST_TIMEOUT,
        method: str = "batch",
    ) -> list[dict[str, Any]]:
        results = self.inner.snode_batch_request(
            snode=snode, requests_list=requests_list, timeout=min(timeout, REQUEST_TIMEOUT), method=method
        )
        for sub, result in zip(requests_list, results, strict=False):
            if sub.get("method") == "store" and result.get("code") != 200:
                raise StoreRejected(result.get("code"), result.get("body"))
        return results

    def upload_attachment(self, data: bytes, timeout: int = 30) -> dict[str, Any]:
        return self.inner.upload_attachment(data, timeout=timeout)

    def download_attachment(self, file_id: int | str, timeout: int = 30) -> bytes:
        return self.inner.download_attachment(file_id, timeout=timeout)


def network_configure(url: str) -> None:
    """Point session-python's seed list at ``url`` (the local test network) or leave it."""
    if not url:
        return
    parsed = urlparse(url)
    if parsed.scheme != "http" or not parsed.hostname or not parsed.port:
        raise ValueError(f"SESSION_NETWORK_URL must look like http://127.0.0.1:PORT, not {url!r}")
    sp_network.SEEDS = [{"url": f"{parsed.hostname}:{parsed.port}"}]


def network_build(url: str) -> GuardedNetwork:
    """Return a guarded network for ``url`` (empty: the real Session network)."""
    network_configure(url)
    inner: NetworkLike = LocalFileServerNetwork(url) if url else PooledNetwork()
    return GuardedNetwork(inner)
