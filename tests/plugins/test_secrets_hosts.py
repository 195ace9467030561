"""Plugin secrets in real plugin hosts: only that plugin's host has them, never another
plugin's and never the worker's environment; a new value restarts its hosts; no log
shows one."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from plugins.execution import pool_hosts
from plugins.models import PluginVersion
from plugins.secrets import plugin_secret_set, plugin_secret_unset
from tests.plugins.conftest import ask, ask_worker, install

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("plugin_secrets_key")]

VALUE = "sk-host-0a1b2c3d4e5f"


@pytest.fixture
def two_plugins(plugin_roots) -> None:
    install("enva", "fx_env:EnvA", ["enva"])
    install("envb", "fx_env:EnvB", ["envb"])
    plugin_secret_set(plugin="enva", key="OPENAI_API_KEY", value=VALUE)


def _shown(reply: str) -> tuple[str, str]:
    variable, host = reply.split(" ")
    return variable.split("=", 1)[1], host


def test_only_the_plugins_own_host_gets_its_secret(two_plugins) -> None:
    assert _shown(ask("/enva OPENAI_API_KEY")[0])[0] == VALUE
    assert _shown(ask("/envb OPENAI_API_KEY")[0])[0] == "<unset>"
    assert "OPENAI_API_KEY" not in os.environ  # this process ran both hosts
    assert VALUE not in os.environ.values()


def test_a_secret_whose_name_looks_secret_still_arrives(two_plugins) -> None:
    # The worker's own variables are filtered by name (KEY, TOKEN...); the plugin's are given on purpose.
    plugin_secret_set(plugin="enva", key="SERVICE_TOKEN", value="t0k3n-value")
    assert _shown(ask("/enva SERVICE_TOKEN")[0])[0] == "t0k3n-value"


def test_a_new_value_restarts_the_plugins_hosts_and_leaves_the_others(two_plugins) -> None:
    first, host_a = _shown(ask("/enva OPENAI_API_KEY")[0])
    host_b = _shown(ask("/envb X")[0])[1]
    assert _shown(ask("/enva OPENAI_API_KEY")[0])[1] == host_a  # a warm host serves again
    plugin_secret_set(plugin="enva", key="OPENAI_API_KEY", value="sk-rotated")
    value, new_host = _shown(ask("/enva OPENAI_API_KEY")[0])
    assert (value, first) == ("sk-rotated", VALUE)
    assert new_host != host_a
    assert _shown(ask("/envb X")[0])[1] == host_b  # another plugin's host kept serving
    plugin_secret_unset(plugin="enva", key="OPENAI_API_KEY")
    assert _shown(ask("/enva OPENAI_API_KEY")[0])[0] == "<unset>"


def test_no_log_of_a_host_start_or_a_request_shows_the_value(two_plugins, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    assert _shown(ask("/enva OPENAI_API_KEY")[0])[0] == VALUE
    assert caplog.records  # the host's start was logged at all
    assert VALUE not in caplog.text
    hosts = [h for h in pool_hosts() if h.spec.plugin == "enva"]
    assert hosts
    assert dict(hosts[0].spec.env) == {"OPENAI_API_KEY": VALUE}
    assert VALUE not in repr(hosts[0].spec)


def test_an_inline_plugin_gets_no_secrets(plugin_roots) -> None:
    install("enva", "fx_env:EnvA", ["enva"], isolation=PluginVersion.Isolation.INLINE)
    plugin_secret_set(plugin="enva", key="OPENAI_API_KEY", value=VALUE)
    assert _shown(ask("/enva OPENAI_API_KEY")[0])[0] == "<unset>"
    assert "OPENAI_API_KEY" not in os.environ


def test_a_secret_that_cannot_be_decrypted_keeps_the_host_from_starting(two_plugins, settings) -> None:
    settings.PLUGIN_SECRETS_KEY = "another-key-of-at-least-32-characters!!"
    reply, inv = ask("/enva OPENAI_API_KEY")
    assert VALUE not in reply
    assert "cannot be decrypted" in inv.error
    assert _shown(ask("/envb X")[0])[0] == "<unset>"  # a plugin without secrets is unaffected


def _environ(pid: int) -> bytes:
    return Path(f"/proc/{pid}/environ").read_bytes()


def test_in_a_real_worker_only_that_plugins_host_has_the_secret(two_plugins, celery_worker) -> None:
    value = _shown(ask_worker("/enva OPENAI_API_KEY")[0])[0]
    assert value == VALUE
    assert _shown(ask_worker("/envb OPENAI_API_KEY")[0])[0] == "<unset>"
    assert VALUE.encode() not in _environ(celery_worker.pid)
    assert b"OPENAI_API_KEY" not in _environ(celery_worker.pid)
