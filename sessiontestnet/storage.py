"""A Session storage server's rules in memory: hashes, signatures, namespaces, TTL, limits.

Pure module (no Django, no I/O): :class:`SwarmStore` answers the storage RPC methods as the
real oxen storage server does, so unchanged Session clients can run against it in tests and
behind ``manage.py sessiontestnet``. Every method takes ``now_ms`` so the rules are testable.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import threading
from dataclasses import dataclass, field
from typing import Any

import nacl.bindings
import nacl.exceptions
import nacl.signing

from bridge.account import MAX_DATA_BYTES, MAX_TTL_MS

SIGNATURE_WINDOW_MS = 60_000
PAGE_MESSAGES = 100

RpcResult = tuple[int, Any]


def message_hash(*, pubkey: bytes, namespace: int, data: bytes) -> str:
    """Return the storage server's hash: unpadded base64 of BLAKE2b-256(pubkey ‖ ns ‖ data)."""
    digest = hashlib.blake2b(digest_size=32)
    digest.update(pubkey)
    if namespace != 0:
        digest.update(str(namespace).encode())
    digest.update(data)
    return base64.b64encode(digest.digest()).decode().rstrip("=")


def is_public_namespace(namespace: int) -> bool:
    """Anyone may store into namespaces divisible by 10 (0 holds 1:1 messages)."""
    return namespace % 10 == 0


@dataclass(slots=True)
class StoredMessage:
    hash: str
    timestamp: int
    expiry: int
    data: bytes


@dataclass(slots=True)
class _Mailbox:
    # insertion order is retrieval order, as on the real server
    messages: dict[str, StoredMessage] = field(default_factory=dict)


class RpcError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _pubkey_bytes(raw: object) -> bytes:
    if not isinstance(raw, str) or len(raw) != 66 or not raw.startswith("05"):
        raise RpcError(400, "pubkey must be 66 hex characters starting 05")
    try:
        return bytes.fromhex(raw)
    except ValueError:
        raise RpcError(400, "pubkey is not hex") from None


def _int(params: dict[str, Any], *names: str, default: int | None = None) -> int:
    for name in names:
        if name in params:
            value = params[name]
            if isinstance(value, bool) or not isinstance(value, int):
                raise RpcError(400, f"{name} must be an integer")
            return value
    if default is None:
        raise RpcError(400, f"missing {names[0]}")
    return default


def verify_owner(*, params: dict[str, Any], pubkey: bytes, message: bytes) -> None:
    """Check the Ed25519 signature and that the Ed25519 key belongs to ``pubkey``."""
    ed_hex, sig_b64 = params.get("pubkey_ed25519"), params.get("signature")
    if not isinstance(ed_hex, str) or not isinstance(sig_b64, str):
        raise RpcError(401, "signature and pubkey_ed25519 are required")
    try:
        ed_key = bytes.fromhex(ed_hex)
        signature = base64.b64decode(sig_b64 + "=" * (-len(sig_b64) % 4), validate=True)
        x_key = nacl.bindings.crypto_sign_ed25519_pk_to_curve25519(ed_key)
    except (ValueError, binascii.Error, nacl.exceptions.CryptoError):
        raise RpcError(401, "malformed pubkey_ed25519 or signature") from None
    if x_key != pubkey[1:]:
        raise RpcError(401, "pubkey_ed25519 does not belong to pubkey")
    try:
        nacl.signing.VerifyKey(ed_key).verify(message, signature)
    except (nacl.exceptions.BadSignatureError, ValueError):
        raise RpcError(401, "invalid signature") from None


def _check_clock(timestamp: int, now_ms: int) -> None:
    if abs(now_ms - timestamp) > SIGNATURE_WINDOW_MS:
        raise RpcError(406, "timestamp too far from the server's clock")


class SwarmStore:
    """Thread-safe message store answering ``store``, ``retrieve``, ``delete``, ``get_swarm``."""

    def __init__(self, *, snodes: list[dict[str, Any]] | None = None) -> None:
        self._lock = threading.Lock()
        self._boxes: dict[tuple[bytes, int], _Mailbox] = {}
        self.snodes = snodes or []

    def call(self, method: str, params: object, *, now_ms: int) -> RpcResult:
        """Answer one sub-request with ``(code, body)``; never raises for client errors."""
        handler = {
            "store": self.store,
            "retrieve": self.retrieve,
            "delete": self.delete,
            "get_swarm": self.get_swarm,
        }.get(method)
        if handler is None:
            return 400, f"unknown method {method!r}"
        if not isinstance(params, dict):
            return 400, "params must be an object"
        try:
            return 200, handler(params, now_ms=now_ms)
        except RpcError as exc:
            return exc.code, exc.message

    def get_swarm(self, params: dict[str, Any], *, now_ms: int) -> dict[str, Any]:
        _pubkey_bytes(params.get("pubkey"))
        return {"snodes": list(self.snodes)}

    def store(self, params: dict[str, Any], *, now_ms: int) -> dict[str, Any]:
        pubkey = _pubkey_bytes(params.get("pubkey"))
        namespace = _int(params, "namespace", default=0)
        ttl, timestamp = _int(params, "ttl"), _int(params, "timestamp")
        if not 0 < ttl <= MAX_TTL_MS:
            raise RpcError(400, "ttl out of range")
        if timestamp + ttl <= now_ms:
            raise RpcError(406, "message already expired")
        raw = params.get("data")
        if not isinstance(raw, str):
            raise RpcError(400, "data must be base64 text")
        try:
            data = base64.b64decode(raw, validate=True)
        except binascii.Error:
            raise RpcError(400, "data is not base64") from None
        if len(data) > MAX_DATA_BYTES:
            raise RpcError(413, "message too large")
        if not is_public_namespace(namespace):
            sig_ts = _int(params, "sig_timestamp", "timestamp")
            _check_clock(sig_ts, now_ms)
            verify_owner(params=params, pubkey=pubkey, message=f"store{namespace}{sig_ts}".encode())
        digest = message_hash(pubkey=pubkey, namespace=namespace, data=data)
        with self._lock:
            box = self._boxes.setdefault((pubkey, namespace), _Mailbox())
            existing = box.messages.get(digest)
            if existing is not None:
                existing.expiry = max(existing.expiry, timestamp + ttl)
            else:
                box.messages[digest] = StoredMessage(digest, timestamp, timestamp + ttl, data)
        return {"hash": digest}

    def retrieve(self, params: dict[str, Any], *, now_ms: int) -> dict[str, Any]:
        pubkey = _pubkey_bytes(params.get("pubkey"))
        namespace = _int(params, "namespace", default=0)
        timestamp = _int(params, "timestamp")
        _check_clock(timestamp, now_ms)
        ns_text = "" if namespace == 0 else str(namespace)
        verify_owner(params=params, pubkey=pubkey, message=f"retrieve{ns_text}{timestamp}".encode())
        last_hash = params.get("last_hash", params.get("lastHash", "")) or ""
        with self._lock:
            box = self._boxes.get((pubkey, namespace), _Mailbox())
            live = [m for m in box.messages.values() if m.expiry > now_ms]
        hashes = [m.hash for m in live]
        start = hashes.index(last_hash) + 1 if last_hash in hashes else 0
        page = live[start : start + PAGE_MESSAGES]
        return {
            "messages": [
                {
                    "hash": m.hash,
                    "timestamp": m.timestamp,
                    "expiration": m.expiry,
                    "data": base64.b64encode(m.data).decode(),
                }
                for m in page
            ],
            "more": start + PAGE_MESSAGES < len(live),
        }

    def delete(self, params: dict[str, Any], *, now_ms: int) -> dict[str, Any]:
        pubkey = _pubkey_bytes(params.get("pubkey"))
        hashes = params.get("messages")
        if not isinstance(hashes, list) or not all(isinstance(h, str) for h in hashes):
            raise RpcError(400, "messages must be a list of hashes")
        verify_owner(params=params, pubkey=pubkey, message=("delete" + "".join(hashes)).encode())
        deleted = []
        with self._lock:
            for (owner, _ns), box in self._boxes.items():
                if owner != pubkey:
                    continue
                for digest in hashes:
                    if box.messages.pop(digest, None) is not None:
                        deleted.append(digest)
        node = self.snodes[0]["pubkey_ed25519"] if self.snodes else "local"
        return {"swarm": {node: {"deleted": sorted(deleted)}}}

    def batch(self, body: object, *, now_ms: int) -> tuple[int, Any]:
        """Answer a whole ``/storage_rpc/v1`` body: a ``batch``/``sequence`` or one method."""
        if not isinstance(body, dict) or not isinstance(body.get("method"), str):
            return 400, "request must be a JSON object with a method"
        method, params = body["method"], body.get("params", {})
        if method not in ("batch", "sequence"):
            code, result = self.call(method, params, now_ms=now_ms)
            return code, result
        requests_list = params.get("requests") if isinstance(params, dict) else None
        if not isinstance(requests_list, list):
            return 400, "batch needs params.requests"
        results = []
        for sub in requests_list:
            if not isinstance(sub, dict):
                results.append({"code": 400, "body": "sub-request must be an object"})
                continue
            code, result = self.call(str(sub.get("method")), sub.get("params", {}), now_ms=now_ms)
            results.append({"code": code, "body": result})
            if method == "sequence" and code != 200:
                break
        return 200, {"results": results}


class FileStore:
    """The file server's store: opaque encrypted blobs by numeric id."""

    MAX_BYTES = 16 * 1024 * 1024

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._files: dict[int, bytes] = {}

    def upload(self, data: bytes) -> int:
        if len(data) > self.MAX_BYTES:
            raise RpcError(413, "file too large")
        with self._lock:
            file_id = len(self._files) + 1
            self._files[file_id] = bytes(data)
        return file_id

    def download(self, file_id: int) -> bytes:
        with self._lock:
            data = self._files.get(file_id)
        if data is None:
            raise RpcError(404, "no such file")
        return data
