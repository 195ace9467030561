"""Turn a ``send`` frame into a stored Session message, exactly once per ``ref``."""

from __future__ import annotations

import base64
import binascii
import logging

from bridge.account import OutFile, SendRejected, SessionAccount, SessionUnreachable
from bridge.messages import Quote
from bridge.store import BridgeStore
from bridgeprotocol.frames import Failed, Send, Sent
from bridgeprotocol.logformat import log_fields

log = logging.getLogger(__name__)


def _files(frame: Send) -> list[OutFile]:
    files = []
    for att in frame.attachments or ():
        try:
            data = base64.b64decode(att.data_b64, validate=True)
        except (binascii.Error, ValueError):
            raise SendRejected(f"attachment {att.name!r} is not valid base64") from None
        files.append(OutFile(att.name, att.content_type, data))
    return files


def send_handle(*, account: SessionAccount, store: BridgeStore, frame: Send) -> Sent | Failed:
    """Send ``frame`` unless its ref was sent before; answer ``sent`` or ``failed``."""
    known = store.sent_get(frame.ref)
    if known is not None:
        return Sent(ref=frame.ref, hash=known[0], timestamp=known[1])
    quote = Quote(frame.reply_to.timestamp, frame.reply_to.author) if frame.reply_to else None
    try:
        prepared = store.prepared_get(frame.ref)
        if prepared is None:
            prepared = account.prepare(to=frame.to, text=frame.text, files=_files(frame), quote=quote)
            store.prepared_put(frame.ref, prepared)
        result = account.deliver(prepared)
    except SendRejected as exc:
        log.warning("send %s rejected: %s", frame.ref, exc, extra=log_fields(ref=frame.ref))
        return Failed(ref=frame.ref, reason=str(exc), retry=False)
    except SessionUnreachable as exc:
        log.info("send %s failed, the broker will retry: %s", frame.ref, exc, extra=log_fields(ref=frame.ref))
        return Failed(ref=frame.ref, reason=f"Session network unreachable: {exc}", retry=True)
    except Exception as exc:
        # A full disk, a bug, session-python misbehaving: this send fails (the broker tries
        # again later, with the same bytes if they were kept), the next ones go on.
        log.exception("send %s failed unexpectedly; the broker will retry", frame.ref, extra=log_fields(ref=frame.ref))
        return Failed(ref=frame.ref, reason=f"the bridge failed on this send ({type(exc).__name__})", retry=True)
    try:
        store.sent_put(frame.ref, result.hash, result.timestamp)
        store.prepared_drop(frame.ref)
    except OSError:
        # Delivered all the same: the broker must hear so. Unrecorded, a resend of this ref
        # would store the same bytes again (the storage server keeps one copy).
        log.exception(
            "send %s was delivered but could not be recorded on disk", frame.ref, extra=log_fields(ref=frame.ref)
        )
    return Sent(ref=frame.ref, hash=result.hash, timestamp=result.timestamp)
