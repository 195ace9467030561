"""Rows of one user's history, with an attachment file, for the retention and erasure tests."""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from django.conf import settings

from bots.models import Bot
from broker.models import InboundMessage, OutboundMessage
from plugins.models import BotUser, Invocation, Plugin, PluginVersion


@dataclass
class History:
    inbound: InboundMessage
    invocation: Invocation
    reply: OutboundMessage
    file: Path


def attachment_file(data: bytes, *, age: float = 3600.0) -> dict[str, object]:
    """A stored attachment written ``age`` seconds ago, and its metadata as rows hold it."""
    digest = hashlib.sha256(data).hexdigest()
    folder = Path(settings.DATA_DIR) / "attachments"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / digest
    path.write_bytes(data)
    written = time.time() - age
    os.utime(path, (written, written))
    return {"name": "photo.jpg", "content_type": "image/jpeg", "size": len(data), "sha256": digest, "path": str(path)}


def history(
    *, bot: Bot, session_id: str, at: datetime, mid: str, data: bytes = b"a photo", status: str = "ok"
) -> History:
    """A message with a file, its finished invocation and its delivered reply, all at ``at``."""
    user, _ = BotUser.objects.get_or_create(bot=bot, session_id=session_id, defaults={"language": "es"})
    plugin, _ = Plugin.objects.get_or_create(name="echo")
    version, _ = PluginVersion.objects.get_or_create(
        plugin=plugin, version="1.0.0", defaults={"entrypoint": "sessionbot_builtin.echo:Echo"}
    )
    meta = attachment_file(data)
    inv = Invocation.objects.create(
        key=f"msg:{bot.pk}:{mid}",
        bot=bot,
        user=user,
        plugin_version=version,
        command="echo",
        arguments=f"secret words {mid}",
        conversation=session_id,
        attachments=[meta],
        status=status,
        queued_at=at,
        finished_at=at if status in Invocation.FINISHED else None,
        duration_ms=12.5,
    )
    inbound = InboundMessage.objects.create(
        bot=bot,
        message_id=mid,
        sender=session_id,
        conversation=session_id,
        conversation_type="private",
        timestamp=1_700_000_000_000,
        text=f"/echo secret words {mid}",
        author_name="Alice",
        attachments=[meta],
        status=InboundMessage.Status.ROUTED,
        invocation=inv,
        received_at=at,
    )
    reply = OutboundMessage.objects.create(
        ref=f"{inv.pk}:1",
        bot=bot,
        to=session_id,
        text=f"secret words {mid}",
        invocation=inv,
        status=OutboundMessage.Status.SENT,
        created_at=at,
        sent_at=at,
    )
    return History(inbound, inv, reply, Path(str(meta["path"])))
