"""Runtime test helpers: fixture plugins on the plugin roots, installing and asking plugins."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from broker.models import OutboundMessage
from plugins.commands import commands_derive
from plugins.execution import pool_close
from plugins.loader import plugin_class_load
from plugins.models import BotUser, Invocation, Plugin, PluginCommand, PluginVersion
from plugins.sandbox.runner import plugin_describe
from plugins.services import command_resolve, invocation_create, invocation_execute
from tests.conftest import wait_for
from tests.thebot import the_bot

FIXTURES = Path(__file__).resolve().parent / "fixture_plugins"
BUILTIN = Path(settings.BASE_DIR) / "plugins" / "builtin"
USER = "05" + "ab" * 32
ADMIN = "05" + "cd" * 32
_keys = itertools.count()


@pytest.fixture
def plugin_roots(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """Fixture plugins and a fresh folder (returned) on the plugin roots, here and in workers."""
    roots = [tmp_path / "code", FIXTURES, BUILTIN]
    roots[0].mkdir()
    monkeypatch.setattr(settings, "PLUGIN_ROOTS", roots)
    monkeypatch.setenv("PLUGIN_ROOTS", ",".join(map(str, roots)))
    yield roots[0]
    pool_close()


def install(name: str, entrypoint: str, commands: list[str], *, version: str = "1.0.0", **fields: Any) -> PluginVersion:
    """Install (and activate) a plugin version with ``commands``, as importplugins would."""
    plugin, _ = Plugin.objects.get_or_create(name=name)
    pv = PluginVersion.objects.create(plugin=plugin, version=version, entrypoint=entrypoint, **fields)
    for command in commands:
        PluginCommand.objects.create(version=pv, name=command)
    Plugin.objects.filter(pk=plugin.pk).update(active_version=pv)
    return pv


def derive(version: PluginVersion) -> PluginVersion:
    """Write ``version``'s command rows from its code, as an import or a reload would.

    The code is described in this process (the import does it in a plugin host), which
    is quicker for tests that run many commands of the same plugins.
    """
    cls = plugin_class_load(entrypoint=version.entrypoint, roots=list(settings.PLUGIN_ROOTS))
    commands_derive(version=version, described=plugin_describe(instance=cls()))
    return version


def user(session_id: str = USER, **fields: Any) -> BotUser:
    return BotUser.objects.get_or_create(bot=the_bot(), session_id=session_id, defaults=fields)[0]


def enqueue(text: str, *, sender: str = USER, language: str = "en") -> Invocation:
    """Record the invocation a message ``/cmd args`` makes (the worker, if any, runs it)."""
    name, _, arguments = text.removeprefix("/").partition(" ")
    resolved = command_resolve(name=name)
    assert resolved is not None, f"no active plugin answers /{name}"
    return invocation_create(
        key=f"k{next(_keys)}-{text[:20]}",
        user=user(sender),
        version=resolved.version,
        command=name,
        arguments=arguments,
        conversation=sender,
        conversation_type="private",
        language=language,
    )


def replies(inv: Invocation) -> str:
    return "".join(OutboundMessage.objects.filter(invocation=inv).order_by("part").values_list("text", flat=True))


def ask(text: str, **kwargs: Any) -> tuple[str, Invocation]:
    """Run ``text`` in this process (no worker) and return the reply and the invocation."""
    inv = enqueue(text, **kwargs)
    invocation_execute(invocation_id=inv.pk)
    inv.refresh_from_db()
    return replies(inv), inv


def ask_worker(text: str, **kwargs: Any) -> tuple[str, Invocation]:
    """Have the real Celery worker run ``text``; wait for it to finish."""
    inv = enqueue(text, **kwargs)
    assert wait_for(lambda: Invocation.objects.get(pk=inv.pk).status in Invocation.FINISHED, timeout=60)
    inv.refresh_from_db()
    return replies(inv), inv


def ran(inv: Invocation) -> str:
    """The version an invocation recorded as the one that ran."""
    assert inv.plugin_version is not None
    return inv.plugin_version.version


@pytest.fixture
def plugin_secrets_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """A PLUGIN_SECRETS_KEY here and in workers, where the run gives none (scaled out)."""
    if not settings.PLUGIN_SECRETS_KEY:
        key = "tests-only-plugin-secrets-key-not-for-production"
        monkeypatch.setattr(settings, "PLUGIN_SECRETS_KEY", key)
        monkeypatch.setenv("PLUGIN_SECRETS_KEY", key)
