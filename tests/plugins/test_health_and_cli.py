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
    row = next(line for line in listing.splitlines() if line.startswith("raises "))
    assert row.split()[:5] == ["raises", "1.0.0", "yes", "loaded", "50%"]
    assert "last error: ZeroDivisionError: division by zero" in listing
    assert Plugin.objects.get(name="raises").last_success_at is not None


def test_the_cli_reloads_disables_and_enables() -> None:
    assert cli("reload", "good").strip() == "good reloaded."
    assert cli("disable", "good").strip() == "good disabled."
    assert command_resolve(name="good") is None
    assert cli("enable", "good").strip() == "good enabled."
    assert ask("/good")[0] == "ok"


def test_the_list_keeps_its_columns_aligned_on_a_long_state() -> None:
    Plugin.objects.filter(name="good").update(load_state="reload-failed", last_error="SyntaxError: bad")
    lines = [line for line in cli("list").splitlines() if not line.lstrip().startswith("last error")]
    assert [line.split()[0] for line in lines] == ["plugin", "good", "plugins", "raises"]
    assert [line.split()[-1] for line in lines] == ["health", "-", "-", "-"]
    assert len({line.rindex(" ") for line in lines}) == 1  # the last column starts at one place


def test_a_successful_reload_clears_the_failed_reloads_error_everywhere() -> None:
    Plugin.objects.filter(name="good").update(load_state="reload-failed", last_error="SyntaxError: bad edit")
    assert "last error: SyntaxError: bad edit" in cli("list")
    cli("reload", "good")
    good = Plugin.objects.get(name="good")
    assert (good.load_state, good.last_error, good.last_error_at) == ("loaded", "", None)
    assert "last error" not in cli("list")
    assert "good 1.0.0 (enabled, loaded)" in ask("/plugins", sender=ADMIN)[0]


def test_a_reload_keeps_an_invocations_last_error() -> None:
    ask("/boom")
    cli("reload", "raises")
    assert "ZeroDivisionError" in Plugin.objects.get(name="raises").last_error


def test_the_cli_activates_a_version_by_pep_440_equality() -> None:
    install("good", "fx_good:Good", [], version="2.0.0")
    assert cli("activate", "good", "1").strip() == "good 1.0.0 is active."
    active = Plugin.objects.get(name="good").active_version
    assert active is not None
    assert active.version == "1.0.0"


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
