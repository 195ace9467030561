"""A plugin's files cannot make a send the bridge must refuse forever.

A ``send`` frame over 16 MiB is refused by the bridge's WebSocket (close 1009); the broker
would send it again after every reconnect and no later reply would get through. Files over
Session's 10,000,000-byte limit are never deliverable. Names come from plugin code too.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bridgeprotocol.frames import MAX_FRAME_BYTES
from broker.consumers import send_frame_json
from broker.models import OutboundMessage
from tests.plugins.conftest import ask, install, user

FILES = """
from plugins.api import Attachment, Context, Plugin, Reply, command


class Files(Plugin):
    @command("files")
    def files(self, ctx: Context) -> Reply:
        return Reply(
            "here",
            (
                Attachment("big.bin", "application/octet-stream", b"a" * 10_000_001),
                Attachment("one.bin", "application/octet-stream", b"b" * 6_500_000),
                Attachment("two.bin", "application/octet-stream", b"c" * 6_500_000),
                Attachment("../../etc/pass\\x00wd\\n.txt", "text/plain\\r\\nX: y", b"d"),
            ),
        )
"""


@pytest.mark.django_db(transaction=True)
def test_plugin_files_fit_one_send_frame_and_session_limits(plugin_roots: Path) -> None:
    (plugin_roots / "fx_files.py").write_text(FILES)
    install("files", "fx_files:Files", ["files"], memory_mb=1024)
    user()
    reply, _ = ask("/files")
    assert reply == "here"
    rows = list(OutboundMessage.objects.order_by("part"))
    for row in rows:
        assert len(send_frame_json(row).encode()) <= MAX_FRAME_BYTES
    files = [a for row in rows for a in row.attachments]
    assert all(int(a["size"]) <= 10_000_000 for a in files)
    kinds = {a["name"]: a["content_type"] for a in files}
    assert kinds["one.bin"] == "application/octet-stream"  # what fits still goes out
    for a in files:
        assert not any(c in a["name"] for c in "/\\\x00\n\r")
        assert not any(c in a["content_type"] for c in "\x00\n\r")
