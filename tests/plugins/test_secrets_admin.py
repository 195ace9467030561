"""The admin takes a plugin's secret and never shows it back: set, replace, remove."""

from __future__ import annotations

import pytest

from plugins.models import Plugin, PluginSecret
from plugins.secrets import plugin_secret_set, plugin_secrets_env
from tests.plugins.test_admin import _url

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("plugin_secrets_key")]

VALUE = "sk-admin-5e6f7a8b9c"


@pytest.fixture
def llm() -> Plugin:
    return Plugin.objects.create(name="llm")


def test_a_secret_entered_in_the_admin_is_stored_encrypted(admin_client, llm) -> None:
    page = admin_client.get(_url(PluginSecret, "add")).content.decode()
    assert 'type="password"' in page
    response = admin_client.post(_url(PluginSecret, "add"), {"plugin": llm.pk, "key": "OPENAI_API_KEY", "value": VALUE})
    assert response.status_code == 302
    assert plugin_secrets_env(plugin="llm") == (("OPENAI_API_KEY", VALUE),)
    assert VALUE not in PluginSecret.objects.get().ciphertext


def test_the_change_form_says_when_it_was_set_and_never_shows_it(admin_client, llm) -> None:
    secret = plugin_secret_set(plugin="llm", key="OPENAI_API_KEY", value=VALUE)
    for page in (
        admin_client.get(_url(PluginSecret, "change", secret.pk)).content.decode(),
        admin_client.get(_url(PluginSecret, "changelist")).content.decode(),
        admin_client.get(_url(Plugin, "change", llm.pk)).content.decode(),
    ):
        assert "OPENAI_API_KEY" in page
        assert VALUE not in page
        assert secret.ciphertext not in page
    assert "set, updated at" in admin_client.get(_url(PluginSecret, "change", secret.pk)).content.decode()


def test_a_new_value_replaces_the_secret_and_an_empty_one_keeps_it(admin_client, llm) -> None:
    secret = plugin_secret_set(plugin="llm", key="OPENAI_API_KEY", value=VALUE)
    assert admin_client.post(_url(PluginSecret, "change", secret.pk), {"value": ""}).status_code == 302
    assert plugin_secrets_env(plugin="llm") == (("OPENAI_API_KEY", VALUE),)
    assert admin_client.post(_url(PluginSecret, "change", secret.pk), {"value": "sk-new"}).status_code == 302
    assert plugin_secrets_env(plugin="llm") == (("OPENAI_API_KEY", "sk-new"),)


def test_a_secret_is_removed_in_the_admin(admin_client, llm) -> None:
    secret = plugin_secret_set(plugin="llm", key="OPENAI_API_KEY", value=VALUE)
    stamp = Plugin.objects.get(pk=llm.pk).updated_at
    assert admin_client.post(_url(PluginSecret, "delete", secret.pk), {"post": "yes"}).status_code == 302
    assert plugin_secrets_env(plugin="llm") == ()
    assert Plugin.objects.get(pk=llm.pk).updated_at > stamp  # its hosts restart without it


@pytest.mark.parametrize(
    ("key", "value", "error"),
    [
        ("PYTHONPATH", "x", "is set by the platform"),
        ("API-KEY", "x", "is not a variable name"),
        ("OPENAI_API_KEY", "", "Enter the value."),
    ],
)
def test_a_bad_secret_is_refused_with_the_reason(admin_client, llm, key, value, error) -> None:
    response = admin_client.post(_url(PluginSecret, "add"), {"plugin": llm.pk, "key": key, "value": value})
    assert response.status_code == 200
    assert error in response.content.decode()
    assert not PluginSecret.objects.exists()


def test_a_refused_form_does_not_render_the_value_back(admin_client, llm) -> None:
    response = admin_client.post(_url(PluginSecret, "add"), {"plugin": llm.pk, "key": "BAD-NAME", "value": VALUE})
    assert response.status_code == 200
    assert VALUE not in response.content.decode()


def test_without_a_key_the_form_says_so(admin_client, llm, settings) -> None:
    settings.PLUGIN_SECRETS_KEY = ""
    response = admin_client.post(_url(PluginSecret, "add"), {"plugin": llm.pk, "key": "K", "value": VALUE})
    assert response.status_code == 200
    assert "PLUGIN_SECRETS_KEY" in response.content.decode()
