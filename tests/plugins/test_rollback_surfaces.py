"""One rollback: the admin, ``manage.py plugins rollback`` and ``/plugins rollback`` agree."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from plugins.lifecycle import LifecycleError, plugin_action
from plugins.models import Plugin, PluginVersion
from plugins.versions import version_activate

pytestmark = pytest.mark.django_db
REFUSAL = "app 1.0 needs geo>=2; activating 1.0 would break it"


@pytest.fixture
def geo_needed() -> Plugin:
    """geo 1.0 then 2.0 activated; app 1.0 active and needing geo>=2."""
    geo = Plugin.objects.create(name="geo")
    for number in ("1.0", "2.0"):
        version_activate(version=PluginVersion.objects.create(plugin=geo, version=number, entrypoint="geo:P"))
    app = Plugin.objects.create(name="app")
    needs = PluginVersion.objects.create(plugin=app, version="1.0", entrypoint="app:P", dependencies={"geo": ">=2"})
    version_activate(version=needs)
    return geo


def active(plugin: Plugin) -> str:
    plugin.refresh_from_db()
    assert plugin.active_version is not None
    return plugin.active_version.version


def admin_rollback(client, plugin: Plugin) -> str:
    url = reverse("admin:plugins_plugin_changelist")
    response = client.post(url, {"action": "rollback", "_selected_action": [plugin.pk]}, follow=True)
    return " ".join(str(m) for m in response.context["messages"])


def test_a_rollback_that_would_break_a_dependent_is_refused_everywhere(admin_client, geo_needed) -> None:
    assert REFUSAL in admin_rollback(admin_client, geo_needed)
    with pytest.raises(CommandError, match="needs geo>=2"):
        call_command("plugins", "rollback", "geo")
    with pytest.raises(LifecycleError, match="needs geo>=2"):
        plugin_action(action="rollback", name="geo")  # what /plugins rollback calls
    assert active(geo_needed) == "2.0"


def test_every_surface_rolls_back_the_same_way(admin_client, geo_needed) -> None:
    Plugin.objects.filter(name="app").update(active_version=None)  # nothing depends on geo now
    assert "geo 1.0 is active." in admin_rollback(admin_client, geo_needed)
    assert active(geo_needed) == "1.0"
    assert plugin_action(action="rollback", name="geo") == "geo 2.0 is active."
    assert active(geo_needed) == "2.0"
    call_command("plugins", "rollback", "geo")
    assert active(geo_needed) == "1.0"
