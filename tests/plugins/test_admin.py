"""The admin: every page opens for a superuser, and every action does what it says."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib import admin
from django.urls import reverse

from broker.models import BridgeStatus, InboundMessage, OutboundMessage
from plugins.models import (
    BotGroup,
    BotUser,
    InstallJob,
    Invocation,
    PermissionGrant,
    Plugin,
    PluginCommand,
    PluginSecret,
    PluginVersion,
    QueueWorker,
)
from plugins.secrets import plugin_secret_set
from plugins.versions import version_activate
from tests.thebot import the_bot

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("plugin_secrets_key")]

USER = "05" + "ab" * 32


@pytest.fixture
def objects() -> dict[str, object]:
    """One of every model, linked as they are in a running bot."""
    user = BotUser.objects.create(bot=the_bot(), session_id=USER, display_name="Ada")
    group = BotGroup.objects.create(name="friends")
    group.members.add(user)
    plugin = Plugin.objects.create(name="weather", last_error="boom", health_status="ok")
    v1 = PluginVersion.objects.create(plugin=plugin, version="1.0.0", entrypoint="weather:W")
    v2 = PluginVersion.objects.create(plugin=plugin, version="2.0.0", entrypoint="weather:W")
    version_activate(version=v1)
    command = PluginCommand.objects.create(
        version=v1,
        name="weather",
        summary="Weather",
        help="/weather CITY: the sky.",
        args=[{"name": "city", "type": "str", "required": True, "rest": True}],
        docs={"es": {"summary": "Tiempo", "help": "El tiempo"}},
    )
    grant = PermissionGrant.objects.create(plugin=plugin, user=user)
    invocation = Invocation.objects.create(
        bot=the_bot(), key="k1", user=user, plugin_version=v1, command="weather", conversation=USER
    )
    inbound = InboundMessage.objects.create(
        bot=the_bot(),
        message_id="h" * 43,
        sender=USER,
        conversation=USER,
        conversation_type="private",
        timestamp=1,
        text="/weather",
    )
    outbound = OutboundMessage.objects.create(bot=the_bot(), ref="r1", to=USER, text="Sunny", invocation=invocation)
    bridge = BridgeStatus.objects.create(bot_id=USER, client="test", status={"polling": True})
    worker = QueueWorker.objects.create(queue="llm", worker="gpu-box/12")
    secret = plugin_secret_set(plugin="weather", key="WEATHER_API_KEY", value="wk-123")
    return {
        "secret": secret,
        "user": user,
        "group": group,
        "plugin": plugin,
        "v1": v1,
        "v2": v2,
        "command": command,
        "grant": grant,
        "invocation": invocation,
        "inbound": inbound,
        "outbound": outbound,
        "bridge": bridge,
        "worker": worker,
    }


def _url(model: Any, page: str, *args: object) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{page}", args=args)


def test_every_model_of_the_project_is_in_the_admin() -> None:
    registered = {m for m in admin.site._registry if m._meta.app_label in {"plugins", "broker"}}
    expected = {BotUser, BotGroup, Plugin, PluginVersion, PluginCommand, PluginSecret, PermissionGrant, Invocation}
    expected |= {QueueWorker}
    expected |= {InstallJob}
    assert registered == expected | {InboundMessage, OutboundMessage, BridgeStatus}


def test_every_changelist_and_change_form_opens(admin_client, objects) -> None:
    for obj in objects.values():
        model = type(obj)
        assert admin_client.get(_url(model, "changelist")).status_code == 200, model
        assert admin_client.get(_url(model, "changelist"), {"q": "a"}).status_code == 200, model
        assert admin_client.get(_url(model, "change", obj.pk)).status_code == 200, model


@pytest.mark.parametrize("model", [BotUser, BotGroup, Plugin, PluginSecret, PermissionGrant])
def test_add_forms_open_for_what_an_operator_creates(admin_client, model) -> None:
    assert admin_client.get(_url(model, "add")).status_code == 200


@pytest.mark.parametrize(
    "model", [Invocation, InboundMessage, OutboundMessage, BridgeStatus, PluginVersion, PluginCommand]
)
def test_records_written_by_the_bot_cannot_be_added_by_hand(admin_client, model) -> None:
    assert admin_client.get(_url(model, "add")).status_code == 403


def test_telemetry_and_messages_are_read_only(admin_client, objects) -> None:
    for key in ("invocation", "inbound", "outbound", "bridge", "worker"):
        obj = objects[key]
        page = admin_client.get(_url(type(obj), "change", obj.pk)).content.decode()
        assert 'name="_save"' not in page
        assert admin_client.post(_url(type(obj), "delete", obj.pk), {"post": "yes"}).status_code == 403
    assert InboundMessage.objects.count() == 1


def test_the_plugin_page_shows_versions_and_health(admin_client, objects) -> None:
    page = admin_client.get(_url(Plugin, "change", objects["plugin"].pk)).content.decode()
    assert "2.0.0" in page
    assert "boom" in page  # last_error


def test_commands_show_the_bots_usage_line_and_cannot_be_edited(admin_client, objects) -> None:
    command = objects["command"]
    version_page = admin_client.get(_url(PluginVersion, "change", objects["v1"].pk)).content.decode()
    assert "/weather &lt;city…&gt;" in version_page
    assert "es" in version_page  # its translations
    page = admin_client.get(_url(PluginCommand, "change", command.pk)).content.decode()
    assert "/weather &lt;city…&gt;" in page
    assert 'name="_save"' not in page
    assert admin_client.post(_url(PluginCommand, "change", command.pk), {"name": "x"}).status_code == 403
    assert admin_client.post(_url(PluginCommand, "delete", command.pk), {"post": "yes"}).status_code == 403


def _action(client, model: type, action: str, objs) -> str:
    response = client.post(
        _url(model, "changelist"), {"action": action, "_selected_action": [o.pk for o in objs]}, follow=True
    )
    assert response.status_code == 200
    return " ".join(str(m) for m in response.context["messages"])


def test_block_and_unblock_users(admin_client, objects) -> None:
    user = objects["user"]
    assert "1 user blocked." in _action(admin_client, BotUser, "block", [user])
    user.refresh_from_db()
    assert user.blocked is True
    assert "1 user unblocked." in _action(admin_client, BotUser, "unblock", [user])
    user.refresh_from_db()
    assert user.blocked is False


def test_disable_and_enable_plugins(admin_client, objects) -> None:
    plugin = objects["plugin"]
    assert "1 plugin disabled." in _action(admin_client, Plugin, "disable", [plugin])
    plugin.refresh_from_db()
    assert plugin.enabled is False
    assert "1 plugin enabled." in _action(admin_client, Plugin, "enable", [plugin])
    plugin.refresh_from_db()
    assert plugin.enabled is True


def test_activate_a_version_and_roll_back(admin_client, objects) -> None:
    plugin, v1, v2 = objects["plugin"], objects["v1"], objects["v2"]
    assert "weather 2.0.0 is now active." in _action(admin_client, PluginVersion, "activate", [v2])
    plugin.refresh_from_db()
    assert plugin.active_version == v2
    assert "weather 1.0.0 is active." in _action(admin_client, Plugin, "rollback", [plugin])
    plugin.refresh_from_db()
    assert plugin.active_version == v1


def test_activating_a_version_with_an_unmet_dependency_shows_why(admin_client, objects) -> None:
    v2 = objects["v2"]
    v2.dependencies = {"geocode": ">=1"}
    v2.save()
    message = _action(admin_client, PluginVersion, "activate", [v2])
    assert "Not activated: weather 2.0.0 depends on plugin 'geocode', which is not installed" in message
    objects["plugin"].refresh_from_db()
    assert objects["plugin"].active_version == objects["v1"]


def test_choosing_the_active_version_in_the_plugin_form_goes_through_the_checks(admin_client, objects) -> None:
    plugin, v2 = objects["plugin"], objects["v2"]
    v2.requirements = ["nonexistent-dist-xyz>=1"]
    v2.save()
    form = {
        "name": "weather",
        "enabled": "on",
        "active_version": v2.pk,
        "default_policy": "everyone",
        "config": "{}",
        "versions-TOTAL_FORMS": "2",
        "versions-INITIAL_FORMS": "2",
        "versions-0-id": objects["v1"].pk,
        "versions-0-plugin": plugin.pk,
        "versions-1-id": v2.pk,
        "versions-1-plugin": plugin.pk,
        "docs-TOTAL_FORMS": "0",
        "docs-INITIAL_FORMS": "0",
        "grants-TOTAL_FORMS": "0",
        "grants-INITIAL_FORMS": "0",
    }
    response = admin_client.post(_url(Plugin, "change", plugin.pk), form)
    assert response.status_code == 200
    assert "nonexistent-dist-xyz is not installed" in response.content.decode()
    plugin.refresh_from_db()
    assert plugin.active_version == objects["v1"]
    v2.requirements = []
    v2.save()
    response = admin_client.post(_url(Plugin, "change", plugin.pk), form)
    assert response.status_code == 302
    plugin.refresh_from_db()
    assert plugin.active_version == v2


def test_an_operator_puts_a_version_on_a_queue_and_sees_who_serves_it(admin_client, objects) -> None:
    form = admin_client.get(_url(PluginVersion, "change", objects["v1"].pk)).content.decode()
    assert 'name="queue"' in form
    page = admin_client.get(_url(QueueWorker, "changelist")).content.decode()
    assert "gpu-box/12" in page
