"""/mydata and /forgetme over the bridge, answered by a real worker, as a chat user sees them."""

from __future__ import annotations

import base64
import json
import re

import pytest
from asgiref.sync import sync_to_async

from broker.models import InboundMessage, OutboundMessage
from plugins.models import Invocation
from tests.broker.conftest import USER, communicator, message, plugin_install, receive_until, say_hello
from tests.plugins.conftest import plugin_roots  # noqa: F401 - the fixture plugins, here and in the worker

pytestmark = pytest.mark.slow


@pytest.fixture
def privacy(builtins, plugin_roots) -> None:  # noqa: F811
    plugin_install("privacy", "sessionbot_builtin.privacy:Privacy", ["mydata", "forgetme"])
    plugin_install("remember", "fx_remember:Remember", ["remember", "recall"])


async def said(bridge, text: str, mid: str) -> dict:
    """Send ``text`` as the user, confirm the bot's answer to the bridge, return the answer."""
    await bridge.send_json_to(message(text, mid=mid))
    assert (await receive_until(bridge, "ack"))["status"] == "accepted"
    send = await receive_until(bridge, "send", timeout=60)
    await bridge.send_json_to({"type": "sent", "ref": send["ref"], "hash": "h-" + send["ref"], "timestamp": 1})
    return send


async def test_a_user_sees_their_data_then_erases_it_with_a_confirmed_forgetme(bridge, privacy, celery_worker) -> None:
    assert (await said(bridge, "/remember swordfish", "m-remember"))["text"] == "noted"

    mydata = await said(bridge, "/mydata", "m-mydata")
    assert mydata["text"].startswith("What this bot keeps about you. Messages: 2, commands: 2, replies: 1, files: 0,")
    [file] = mydata["attachments"]
    exported = json.loads(base64.b64decode(file["data_b64"]))
    assert [m["text"] for m in exported["messages"]["messages"]] == ["/remember swordfish", "/mydata"]

    asked = await said(bridge, "/forgetme", "m-forgetme")
    code = re.search(r"/forgetme (\d{6})", asked["text"])[1]  # type: ignore[index]
    done = await said(bridge, f"/forgetme {code}", "m-confirm")
    assert done["text"].startswith("Done. Erased messages: 4, commands: 3, replies: 3, files: 0.")

    # The plugins' hooks run in a task after the command: the plugin forgot the word.
    recall = await said(bridge, "/recall", "m-recall")
    assert recall["text"] == "nothing"

    rows = InboundMessage.objects.filter(message_id__in=["m-remember", "m-mydata", "m-forgetme"])
    assert await sync_to_async(lambda: sorted(rows.values_list("text", "sender")))() == [("", "")] * 3
    erased = Invocation.objects.filter(command="remember")
    assert await sync_to_async(lambda: list(erased.values_list("arguments", "status")))() == [("", "ok")]
    assert not await OutboundMessage.objects.filter(text__contains="swordfish").aexists()

    # A copy of an erased message is still recognised, and never answered twice.
    await bridge.send_json_to(message("/remember swordfish", mid="m-remember"))
    assert (await receive_until(bridge, "ack"))["status"] == "duplicate"
    assert await bridge.receive_nothing(timeout=1.5)


async def test_forgetme_with_a_pending_reply_lets_it_be_delivered(bridge, privacy, celery_worker) -> None:
    # The answer to /remember is pushed but never confirmed: the erasure must not lose it.
    await bridge.send_json_to(message("/remember tuna", mid="p-remember"))
    await receive_until(bridge, "ack")
    unconfirmed = await receive_until(bridge, "send", timeout=60)
    asked = await said(bridge, "/forgetme", "p-forgetme")
    code = re.search(r"/forgetme (\d{6})", asked["text"])[1]  # type: ignore[index]
    await said(bridge, f"/forgetme {code}", "p-confirm")
    row = await OutboundMessage.objects.aget(ref=unconfirmed["ref"])
    assert (row.status, row.text, row.to) == ("pending", "noted", USER)
    # A bridge that connects again is pushed the reply, whole.
    await bridge.disconnect()
    again = communicator()
    await say_hello(again)
    resent = await receive_until(again, "send")
    assert (resent["ref"], resent["text"], resent["to"]) == (row.ref, "noted", USER)
    await again.disconnect()
