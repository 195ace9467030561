"""Text a plugin answers with is stored and sent, whatever characters it holds."""

from __future__ import annotations

from pathlib import Path

import pytest

from broker.consumers import send_frame_json
from broker.models import OutboundMessage
from plugins.models import Invocation
from tests.plugins.conftest import ask, install, user

ODD = """
from plugins.api import Attachment, Context, Plugin, Reply, command


class Odd(Plugin):
    @command("odd")
    def odd(self, ctx: Context) -> Reply:
        # A lone surrogate cannot be encoded as UTF-8; NUL is refused by PostgreSQL.
        return Reply("a\\ud800b\\x00c", (Attachment("x\\udfff.txt", "text/\\ud800plain", b"x"),))
"""


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("isolation", ["host", "inline"])
def test_a_reply_with_unencodable_characters_still_reaches_the_user(plugin_roots: Path, isolation: str) -> None:
    (plugin_roots / "fx_odd.py").write_text(ODD)
    install("odd", "fx_odd:Odd", ["odd"], isolation=isolation)
    user()
    reply, inv = ask("/odd")
    assert inv.status == Invocation.Status.OK
    assert reply == "a\ufffdb\ufffdc"
    row = OutboundMessage.objects.get(invocation=inv)
    send_frame_json(row).encode("utf-8")  # what the consumer writes to the bridge
