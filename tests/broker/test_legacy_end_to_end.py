"""An older bot's plugin, installed from its own git repository with the distribution its
setup.py requires, answers ``!echo hi`` over the bridge protocol, beside the bot's ``/``
commands: installed by the older plugins.yaml, or by ``plugins install`` of its URL."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from plugins.models import Plugin
from tests.broker.conftest import USER, message, plugin_install, receive, receive_until
from tests.plugins.legacy.trees import ECHO, git_repository, older_plugin, plugins_yaml, wheel_write

pytestmark = pytest.mark.slow


# The older bot's echo plugin, answering through a library its setup.py requires.
ECHO_WITH_A_LIBRARY = ECHO.replace(
    "from interfaces import", "from legacy_words import same\nfrom interfaces import"
).replace(
    "await self.__observable.notify(msg, to, attachments)", "await self.__observable.notify(same(msg), to, attachments)"
)


@pytest.fixture
def older_echo_repository(tmp_path: Path, transactional_db: None, settings) -> str:
    """The older bot's echo plugin in a git repository of its own (no sessionbot-plugin.yaml),
    with a setup.py that requires a small local distribution found in a folder of wheels."""
    house = tmp_path / "wheels"
    wheel_write(
        house, name="legacy-words", version="1.0", files={"legacy_words.py": "def same(text):\n    return text\n"}
    )
    settings.PLUGIN_FIND_LINKS = [str(house)]
    tree = older_plugin(tmp_path / "repos", module=ECHO_WITH_A_LIBRARY, requires=("legacy-words==1.0",))
    return git_repository(tree)


def _installed_with_its_library() -> Plugin:
    plugin_install("ping", "sessionbot_builtin.ping:Ping", ["ping"])
    plugin = Plugin.objects.get(name="echo")
    assert plugin.active_version is not None
    assert plugin.active_version.api == "legacy"
    assert "legacy-words==1.0" in plugin.active_version.pins
    assert plugin.active_version.environment
    return plugin


@pytest.fixture
def older_echo(tmp_path: Path, older_echo_repository: str) -> Plugin:
    """The older bot's echo plugin, imported by the older file."""
    url = older_echo_repository
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
    return _installed_with_its_library()


@pytest.fixture
def older_echo_installed(older_echo_repository: str) -> Plugin:
    """The older bot's echo plugin, installed as an operator does: ``plugins install URL``."""
    out = StringIO()
    call_command("plugins", "install", older_echo_repository, stdout=out)
    assert "older bot's plugin" in out.getvalue(), out.getvalue()
    assert "activate: echo 0.1.0+g" in out.getvalue(), out.getvalue()
    return _installed_with_its_library()


async def _echo_and_ping(bridge) -> None:
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


async def test_the_older_echo_plugin_answers_its_word_over_the_bridge(bridge, older_echo, celery_worker) -> None:
    await _echo_and_ping(bridge)


async def test_the_older_echo_plugin_installed_from_its_url_answers_over_the_bridge(
    bridge, older_echo_installed, celery_worker
) -> None:
    await _echo_and_ping(bridge)
