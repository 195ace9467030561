"""Turn stored Session envelopes into typed messages and back, with session-python's crypto.

session-python's poller swallows decryption errors and hides the sender's display name and
quotes; decoding here reports every failure and keeps what the bridge needs.
"""

from __future__ import annotations

import binascii
from dataclasses import dataclass

import nacl.public
from google.protobuf.message import DecodeError as ProtobufDecodeError
from session_python.crypto import (
    SessionKeys,
    add_message_padding,
    decrypt_with_session_protocol,
    remove_message_padding,
    wrap_envelope,
)
from session_python.protobuf.signalservice_pb2 import Content, Envelope, WebSocketMessage


class UndecodableMessage(Exception):
    """A stored message that is not a Session envelope we can decrypt."""


@dataclass(frozen=True, slots=True)
class AttachmentPointer:
    id: int
    url: str
    key: bytes
    digest: bytes
    name: str
    content_type: str
    size: int


@dataclass(frozen=True, slots=True)
class Quote:
    timestamp: int
    author: str


@dataclass(frozen=True, slots=True)
class Incoming:
    hash: str
    timestamp: int
    sender: str
    kind: str  # "data", "typing", "receipt" or "other"
    text: str = ""
    sync_target: str = ""
    author_name: str = ""
    attachments: tuple[AttachmentPointer, ...] = ()
    quote: Quote | None = None


def message_decode(*, keys: SessionKeys, msg_hash: str, data_b64: str) -> Incoming:
    """Decrypt one stored message; raise :class:`UndecodableMessage` with the reason."""
    try:
        ws_msg = WebSocketMessage.FromString(binascii.a2b_base64(data_b64))
        envelope = Envelope.FromString(ws_msg.request.body)
        if not envelope.content:
            raise UndecodableMessage("envelope without content")
        padded, sender = decrypt_with_session_protocol(keys, envelope.content)
        content = Content.FromString(remove_message_padding(padded))
    except (binascii.Error, ValueError, ProtobufDecodeError) as exc:
        raise UndecodableMessage(str(exc)) from None
    if content.HasField("dataMessage"):
        data = content.dataMessage
        quote = Quote(int(data.quote.id), data.quote.author) if data.HasField("quote") else None
        return Incoming(
            hash=msg_hash,
            timestamp=int(envelope.timestamp),
            sender=sender,
            kind="data",
            text=data.body,
            sync_target=data.syncTarget,
            author_name=data.profile.displayName if data.HasField("profile") else "",
            attachments=tuple(
                AttachmentPointer(a.id, a.url, a.key, a.digest, a.fileName, a.contentType, a.size)
                for a in data.attachments
            ),
            quote=quote,
        )
    kind = "typing" if content.HasField("typingMessage") else "other"
    kind = "receipt" if content.HasField("receiptMessage") else kind
    return Incoming(hash=msg_hash, timestamp=int(envelope.timestamp), sender=sender, kind=kind)


def content_text(
    *,
    text: str,
    timestamp: int,
    display_name: str = "",
    attachments: tuple[AttachmentPointer, ...] = (),
    quote: Quote | None = None,
    sync_target: str = "",
) -> Content:
    """Build a visible message (or, with ``sync_target``, its sync copy)."""
    content = Content()
    data = content.dataMessage
    data.body = text
    data.timestamp = timestamp
    if display_name and not sync_target:
        data.profile.displayName = display_name
    if sync_target:
        data.syncTarget = sync_target
    if quote is not None:
        data.quote.id = quote.timestamp
        data.quote.author = quote.author
    for att in attachments:
        ptr = data.attachments.add()
        ptr.id, ptr.url, ptr.key, ptr.digest = att.id, att.url, att.key, att.digest
        ptr.fileName, ptr.contentType, ptr.size = att.name, att.content_type, att.size
    return content


def content_typing(*, timestamp: int, typing: bool) -> Content:
    content = Content()
    content.typingMessage.timestamp = timestamp
    content.typingMessage.action = 0 if typing else 1
    return content


def session_encrypt(*, keys: SessionKeys, to: str, plaintext: bytes) -> bytes:
    """Seal ``plaintext`` for ``to`` with the sender's Ed25519 signature, as Session does.

    Not session-python's ``encrypt_using_session_protocol``: it strips a leading 0x05 byte
    twice, so it cannot write to the one Session ID in 256 whose key starts with 0x05.
    """
    recipient = bytes.fromhex(to[2:])
    signature = keys.signing_key.sign(plaintext + keys.ed25519.public_key + recipient).signature
    sealed: bytes = nacl.public.SealedBox(nacl.public.PublicKey(recipient)).encrypt(
        plaintext + keys.ed25519.public_key + signature
    )
    return sealed


def envelope_encode(*, keys: SessionKeys, to: str, content: Content, timestamp: int) -> str:
    """Encrypt ``content`` for ``to`` and return the base64 ``data`` a store request carries."""
    ciphertext = session_encrypt(keys=keys, to=to, plaintext=add_message_padding(content.SerializeToString()))
    envelope = Envelope(type=Envelope.Type.SESSION_MESSAGE, timestamp=timestamp, content=ciphertext)
    return binascii.b2a_base64(wrap_envelope(envelope.SerializeToString()), newline=False).decode()
