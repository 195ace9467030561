"""The start-up error when builds would resolve from an index that plugin_sources refuses."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from plugins.checks import index_check


def _indexes(settings, *indexes: str) -> None:
    sources = settings.BOT_CONFIG.plugin_sources.model_copy(update={"indexes": indexes})
    settings.BOT_CONFIG = settings.BOT_CONFIG.model_copy(update={"plugin_sources": sources})


def test_an_index_the_policy_does_not_list_stops_the_start(settings) -> None:
    settings.PLUGIN_INDEX_URL = "https://pypi.org/simple"
    _indexes(settings, "https://pypi.lan")
    [error] = index_check()
    assert error.id == "plugins.E001"
    assert "plugin_sources.indexes does not list https://pypi.org/simple" in error.msg
    with pytest.raises(SystemCheckError, match=r"plugins\.E001"):
        call_command("check")


@pytest.mark.parametrize(
    ("index", "allowed"),
    [("https://pypi.lan/simple", ("https://pypi.lan",)), ("", ()), ("https://pypi.org/simple", ())],
    ids=["listed", "no-index", "nothing-listed"],
)
def test_the_check_speaks_only_of_a_refused_index(settings, index: str, allowed: tuple[str, ...]) -> None:
    settings.PLUGIN_INDEX_URL = index
    _indexes(settings, *allowed)
    assert bool(index_check()) == (index == "https://pypi.org/simple")
