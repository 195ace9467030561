"""Users' files on disk are the platform's alone: plugin hosts run as another user (when the
worker is root) and must not list or read other conversations' files."""

from __future__ import annotations

import base64
import stat
from pathlib import Path

import pytest
from django.conf import settings

from bridgeprotocol.frames import AttachmentFrame, Message
from broker.accept import inbound_accept
from tests.thebot import the_bot

BOT = "05" + "b0" * 32
USER = "05" + "ab" * 32


@pytest.mark.django_db
def test_a_received_file_is_kept_readable_by_the_platform_only(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(settings, "DATA_DIR", tmp_path)
    data = b"a private photo"
    attachment = AttachmentFrame(
        name="../../photo.jpg", content_type="image/jpeg", size=len(data), data_b64=base64.b64encode(data).decode()
    )
    message = Message.model_validate(
        {
            "id": "h-attach-1",
            "from": USER,
            "conversation": USER,
            "conversation_type": "private",
            "timestamp": 1,
            "text": "look",
            "attachments": [attachment.dump()],
        }
    )
    assert inbound_accept(bot=the_bot().pk, message=message, bot_id=BOT).status == "accepted"
    folder = tmp_path / "attachments"
    files = list(folder.iterdir())
    assert [f.read_bytes() for f in files] == [data]
    assert files[0].name != "photo.jpg"  # stored by digest: the sender's name never reaches the disk
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE(files[0].stat().st_mode) == 0o600
