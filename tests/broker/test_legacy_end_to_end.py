"""An older bot's plugin, installed from its own git repository by the older plugins.yaml,
answers ``!echo hi`` over the bridge protocol, beside the bot's ``/`` commands."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from plugins.models import Plugin
from tests.broker.conftest import USER, message, plugin_install, receive, receive_until
from tests.plugins.legacy.trees import git_repository, older_plugin, plugins_yaml

pytestmark = pytest.mark.slow


@pytest.fixture
def older_echo(tmp_path: Path, transactional_db: None) -> Plugin:
    """The older bot's echo plugin in a git repository of its own, imported by the older file."""
    url = git_repository(older_plugin(tmp_path / "repos"))
    path = plugins_yaml(
        tmp_path / "plugins.yaml",
        f"""
        plugins:
          - name: echo
            package: echo-plugin
            url: ./nowhere
            enabled: false
          - name: echo
            package: echo-plugin
            url: {url}
            enabled: true
        """,
    )
    out = StringIO()
    call_command("importplugins", str(path), stdout=out, stderr=out)
    assert "activated: echo 0.1.0+g" in out.getvalue(), out.getvalue()
    plugin_install("ping", "sessionbot_builtin.ping:Ping", ["ping"])
    return Plugin.objects.get(name="echo")


async def test_the_older_echo_plugin_answers_its_word_over_the_bridge(bridge, older_echo, celery_worker) -> None:
    await bridge.send_json_to(message("!echo hi", mid="legacy-echo"))
    assert (await receive_until(bridge, "ack"))["status"] == "accepted"
    await bridge.send_json_to(message("/ping", mid="legacy-ping"))
    assert (await receive_until(bridge, "ack"))["status"] == "accepted"
    answers: dict[str, dict] = {}
    while len(answers) < 2:
        frame = await receive(bridge, timeout=60)
        if frame["type"] == "send":
            answers[frame["reply_to"]["id"]] = frame
    assert answers["legacy-echo"]["text"] == "hi"
    assert answers["legacy-echo"]["to"] == USER
    assert answers["legacy-ping"]["text"] == "pong"
