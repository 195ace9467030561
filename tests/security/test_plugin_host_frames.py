"""A hostile plugin host: malformed frames and bad platform calls never wedge an invocation.

The plugin runs in its own host process but can reach the host's end of the pipe (its
platform transport), so it can write any frame. The worker must treat what comes back as
untrusted: the invocation ends (crashed or answered), the user gets a reply, and the next
invocation works.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from plugins.models import Invocation
from tests.plugins.conftest import ask, install, user

HOSTILE = """
from plugins.api import Context, Plugin, Reply, command
from plugins.sandbox.protocol import frame_write


class Hostile(Plugin):
    @command("badargs")
    def badargs(self, ctx: Context) -> str:
        # Arguments the platform service does not take.
        return str(ctx.platform._call("languages", {"bogus": 1}))

    @command("badshape")
    def badshape(self, ctx: Context) -> str:
        # Arguments that are not a mapping at all.
        return str(ctx.platform._call("languages", "xy"))

    @command("forged")
    def forged(self, ctx: Context) -> str:
        # A result frame whose reply is not what the protocol describes.
        channel = ctx.platform._call.__self__
        frame_write(channel.wfd, {"op": "result", "status": "ok", "reply": {"text": "x", "attachments": [5]}})
        return "never read"

    @command("ok")
    def ok(self, ctx: Context) -> str:
        return "fine"
"""


@pytest.fixture
def hostile(plugin_roots: Path):
    (plugin_roots / "fx_hostile.py").write_text(HOSTILE)
    install("hostile", "fx_hostile:Hostile", ["badargs", "badshape", "forged", "ok"])
    user()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("command", ["badargs", "badshape", "forged"])
def test_a_hostile_frame_ends_the_invocation_and_the_next_one_works(hostile, command: str) -> None:
    reply, inv = ask(f"/{command}")
    assert inv.status in Invocation.FINISHED
    assert reply  # the user is told something, not left waiting
    reply, inv = ask("/ok")
    assert (reply, inv.status) == ("fine", Invocation.Status.OK)
