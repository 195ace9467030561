"""Health checks, error rates and ``manage.py plugins``, as the operator sees them."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from plugins.health import health_checks_run
from plugins.models import Invocation, Plugin
from plugins.services import command_resolve
from tests.plugins.conftest import ADMIN, ask, install, user

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def installed(plugin_roots) -> None:
    install("good", "fx_good:Good", ["good"])
    install("raises", "fx_raises:Raises", ["boom", "refuse"])
    install("plugins", "sessionbot_builtin.admin:PluginsAdmin", ["plugins"])
    user(ADMIN, is_admin=True)


def cli(*args: str) -> str:
    out = StringIO()
    call_command("plugins", *args, stdout=out)
    return out.getvalue()


def test_declared_health_checks_run_and_show_in_the_chat() -> None:
    assert health_checks_run() == 3
    assert health_checks_run() == 0  # not due again until the interval passes
    good, raises = Plugin.objects.get(name="good"), Plugin.objects.get(name="raises")
    assert (good.health_status, good.health_detail) == ("ok", "all good")
    assert (raises.health_status, raises.health_detail) == ("failing", "RuntimeError: the upstream service is down")
    reply = ask("/plugins", sender=ADMIN)[0]
    assert "good 1.0.0 (enabled, unknown) health: ok: all good" in reply
    assert "raises 1.0.0 (enabled, unknown) health: failing: RuntimeError: the upstream service is down" in reply


def test_the_error_rate_counts_failures_but_not_refusals() -> None:
    ask("/boom")
    ask("/refuse")
    assert Invocation.objects.filter(command="boom").get().status == Invocation.Status.FAILED
    listing = cli("list")
    assert "raises           1.0.0      yes      loaded   50%" in listing
    assert "last error: ZeroDivisionError: division by zero" in listing
    assert Plugin.objects.get(name="raises").last_success_at is not None


def test_the_cli_reloads_disables_and_enables() -> None:
    assert cli("reload", "good").strip() == "good reloaded."
    assert cli("disable", "good").strip() == "good disabled."
    assert command_resolve(name="good") is None
    assert cli("enable", "good").strip() == "good enabled."
    assert ask("/good")[0] == "ok"


def test_the_cli_names_a_plugin_that_does_not_exist() -> None:
    with pytest.raises(CommandError, match=r"There is no plugin named nope\."):
        cli("reload", "nope")


def test_activation_with_an_unmet_dependency_is_refused_naming_it() -> None:
    install("needy", "fx_good:Good", ["needy"], version="1.0.0")
    install("needy", "fx_good:Good", ["needy"], version="2.0.0", dependencies={"weather": ">=2"})
    first = Plugin.objects.get(name="needy").versions.get(version="1.0.0")
    Plugin.objects.filter(name="needy").update(active_version=first)
    with pytest.raises(CommandError, match="weather"):
        cli("activate", "needy", "2.0.0")
    assert Plugin.objects.get(name="needy").active_version == first


@pytest.mark.parametrize(
    ("declared", "status", "detail"),
    [
        ({"method": "probe"}, "ok", "probe fine"),
        ({"command": "status"}, "ok", "status fine (eu)"),  # run as an admin, with the plugin's config
        ({"command": "outage"}, "failing", "upstream down"),
        ({"method": "nope"}, "failing", "the plugin has no method 'nope' for its health check"),
        ({}, "failing", "RuntimeError: the default check ran instead of the declared one"),
    ],
)
@pytest.mark.parametrize("isolation", ["host", "inline"])
def test_the_health_check_declared_in_the_manifest_runs(declared, status, detail, isolation) -> None:
    manifest = {"health_check": {**declared, "interval_seconds": 60}} if declared else {}
    install("checked", "fx_health:Checked", ["status", "outage"], manifest=manifest, isolation=isolation)
    Plugin.objects.filter(name="checked").update(config={"region": "eu"})
    health_checks_run()
    checked = Plugin.objects.get(name="checked")
    assert (checked.health_status, checked.health_detail) == (status, detail)
    assert f"checked 1.0.0 (enabled, unknown) health: {status}: {detail}" in ask("/plugins", sender=ADMIN)[0]
