"""One Session account over session-python, with bounded retries and typed results.

Used from exactly one thread per instance (session-python keeps unlocked dicts): the bridge
makes one account for polling and one for sending, both from the same mnemonic.
"""

from __future__ import annotations

import base64
import logging
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from session_python import Session
from session_python.crypto import decrypt_attachment, encrypt_attachment
from session_python.network import NetworkError
from session_python.polling import get_snode_signature_params

from bridge.messages import (
    AttachmentPointer,
    Incoming,
    Quote,
    UndecodableMessage,
    content_text,
    content_typing,
    envelope_encode,
    message_decode,
)
from bridge.network import NetworkLike

log = logging.getLogger(__name__)

SESSION_ID_RE = re.compile(r"^05[0-9a-f]{64}$")
MAX_DATA_BYTES = 76_800  # a storage node's limit on one message
MAX_TTL_MS = 14 * 24 * 3600 * 1000  # and on its time to live
MAX_ATTACHMENT_BYTES = 10_000_000
STORE_ATTEMPTS = 3
TYPING_TTL_MS = 20_000


class SessionUnreachable(Exception):
    """The Session network did not answer (or answered with an error); try again later."""


class SendRejected(Exception):
    """This send can never succeed (bad recipient, too large); do not retry."""


@dataclass(frozen=True, slots=True)
class Broken:
    hash: str
    reason: str


@dataclass(frozen=True, slots=True)
class PollPage:
    messages: tuple[Incoming | Broken, ...]
    last_hash: str
    more: bool


@dataclass(frozen=True, slots=True)
class SendResult:
    hash: str
    timestamp: int


@dataclass(frozen=True, slots=True)
class Prepared:
    to: str
    timestamp: int
    data64: str
    sync64: str


@dataclass(frozen=True, slots=True)
class OutFile:
    name: str
    content_type: str
    data: bytes


# session-python's networks (and ours) report a file server's answer only in the message.
_FILE_STATUS = re.compile(r"status code (\d{3})")


def _unreachable(exc: BaseException) -> SessionUnreachable:
    return SessionUnreachable(f"{type(exc).__name__}: {str(exc)[:300]}")


class SessionAccount:
    def __init__(self, *, mnemonic: str, network: NetworkLike, display_name: str = "") -> None:
        self.session = Session()
        self.session.network = network
        self.session.set_mnemonic(mnemonic, display_name or None)
        self.display_name = display_name

    @property
    def session_id(self) -> str:
        return self.session.get_session_id()

    def close(self) -> None:
        self.session.close()

    # --- receiving -------------------------------------------------------------------

    def retrieve(self, *, last_hash: str, namespace: int = 0) -> PollPage:
        """Fetch one page after ``last_hash`` from our swarm and decode it."""
        keys = self.session.keys
        assert keys is not None
        try:
            swarm = self.session.get_our_swarm()
            sig = get_snode_signature_params(keys, "retrieve", namespace)
            params = {"pubkey": self.session_id, "lastHash": last_hash, "namespace": namespace, "maxSize": -1, **sig}
            results = self.session.network.snode_batch_request(
                snode={"public_ip": swarm["ip"], "storage_port": int(swarm["port"])},
                requests_list=[{"method": "retrieve", "params": params}],
            )
        except (NetworkError, ValueError, OSError, KeyError) as exc:
            self.session.our_swarm = None  # the next poll picks another node
            raise _unreachable(exc) from None
        result = results[0] if results else {}
        if result.get("code") != 200 or not isinstance(result.get("body"), dict):
            self.session.our_swarm = None
            raise SessionUnreachable(f"retrieve answered {result.get('code')}: {str(result.get('body'))[:200]}")
        body: dict[str, Any] = result["body"]
        decoded: list[Incoming | Broken] = []
        for raw in body.get("messages", []):
            try:
                decoded.append(message_decode(keys=keys, msg_hash=raw["hash"], data_b64=raw["data"]))
            except UndecodableMessage as exc:
                decoded.append(Broken(raw["hash"], str(exc)))
        last = decoded[-1].hash if decoded else last_hash
        return PollPage(tuple(decoded), last, bool(body.get("more")))

    def download(self, pointer: AttachmentPointer) -> bytes:
        """Fetch and decrypt one attachment; raise SendRejected-like errors as ValueError."""
        if pointer.size > MAX_ATTACHMENT_BYTES:
            raise ValueError(f"attachment of {pointer.size} bytes is over the limit")
        try:
            blob = self.session.network.download_attachment(pointer.id)
        except (NetworkError, OSError) as exc:
            status = _FILE_STATUS.search(str(exc))
            if status is not None and status.group(1).startswith("4"):
                # Gone (expired after 14 days) or never there: asking again will not help.
                raise ValueError(f"the file server answered {status.group(1)}") from None
            raise _unreachable(exc) from None
        return decrypt_attachment(data=blob, key=pointer.key, digest=pointer.digest, size=pointer.size or None)

    # --- sending ---------------------------------------------------------------------

    def send(self, *, to: str, text: str, files: Sequence[OutFile] = (), quote: Quote | None = None) -> SendResult:
        """Store a message for ``to`` (and a best-effort sync copy); return its hash."""
        return self.deliver(self.prepare(to=to, text=text, files=files, quote=quote))

    def prepare(self, *, to: str, text: str, files: Sequence[OutFile] = (), quote: Quote | None = None) -> Prepared:
        """Upload the files and encrypt once; delivering the result again stores the same bytes."""
        if not SESSION_ID_RE.match(to):
            raise SendRejected(f"{to[:70]!r} is not a Session ID this bridge can send to")
        pointers = tuple(self._upload(f) for f in files)
        timestamp = int(time.time() * 1000)
        visible = content_text(
            text=text, timestamp=timestamp, display_name=self.display_name, attachments=pointers, quote=quote
        )
        sync = content_text(text=text, timestamp=timestamp, attachments=pointers, quote=quote, sync_target=to)
        return Prepared(
            to=to,
            timestamp=timestamp,
            data64=self._encode(to, visible, timestamp),
            sync64=self._encode(self.session_id, sync, timestamp),
        )

    def deliver(self, prepared: Prepared) -> SendResult:
        """Store a prepared message; identical bytes give the same hash, so retries never double."""
        msg_hash = self._store(prepared.to, prepared.data64, prepared.timestamp, MAX_TTL_MS)
        try:
            self._store(self.session_id, prepared.sync64, prepared.timestamp, MAX_TTL_MS)
        except SessionUnreachable as exc:
            log.info("sync copy not stored (%s); the message itself was", exc)
        return SendResult(msg_hash, prepared.timestamp)

    def typing(self, *, to: str, on: bool = True) -> None:
        """Show (or hide) the typing indicator in ``to``'s chat, stored for 20 s only."""
        if not SESSION_ID_RE.match(to):
            return
        timestamp = int(time.time() * 1000)
        data64 = self._encode(to, content_typing(timestamp=timestamp, typing=on), timestamp)
        self._store(to, data64, timestamp, TYPING_TTL_MS, attempts=1)

    def _encode(self, to: str, content: Any, timestamp: int) -> str:
        assert self.session.keys is not None
        data64 = envelope_encode(keys=self.session.keys, to=to, content=content, timestamp=timestamp)
        if len(base64.b64decode(data64)) > MAX_DATA_BYTES:
            raise SendRejected(f"the message is larger than Session's {MAX_DATA_BYTES} bytes")
        return data64

    def _upload(self, file: OutFile) -> AttachmentPointer:
        if len(file.data) > MAX_ATTACHMENT_BYTES:
            raise SendRejected(f"attachment {file.name!r} is over {MAX_ATTACHMENT_BYTES} bytes")
        enc = encrypt_attachment(file.data)
        for attempt in range(STORE_ATTEMPTS):
            try:
                res = self.session.network.upload_attachment(enc["ciphertext"])
                break
            except (NetworkError, OSError) as exc:
                if attempt == STORE_ATTEMPTS - 1:
                    raise _unreachable(exc) from None
                time.sleep(0.2 * 2**attempt)
        return AttachmentPointer(
            int(res["id"]), str(res["url"]), enc["key"], enc["digest"], file.name, file.content_type, len(file.data)
        )

    def _store(self, recipient: str, data64: str, timestamp: int, ttl: int, *, attempts: int = STORE_ATTEMPTS) -> str:
        # Our own loop, not session-python's _store_message (which never ends on a non-200).
        # Storing identical data again returns the same hash, so a retry cannot duplicate.
        last_error: BaseException | None = None
        for attempt in range(attempts):
            try:
                swarms = self.session.get_swarms_for(recipient)
                swarm = swarms[attempt % len(swarms)]
                params = {"pubkey": recipient, "ttl": ttl, "timestamp": timestamp, "data": data64, "namespace": 0}
                results = self.session.network.snode_batch_request(
                    snode={"public_ip": swarm["ip"], "storage_port": int(swarm["port"])},
                    requests_list=[{"method": "store", "params": params}],
                    timeout=5,
                )
                if results and results[0].get("code") == 200:
                    return str(results[0]["body"]["hash"])
                last_error = NetworkError(f"store answered {results[0].get('code') if results else 'nothing'}")
            except (NetworkError, ValueError, OSError, KeyError, IndexError) as exc:
                last_error = exc
                self.session.swarms_cache.pop(recipient, None)
            if attempt < attempts - 1:
                time.sleep(0.2 * 2**attempt)
        assert last_error is not None
        raise _unreachable(last_error)
