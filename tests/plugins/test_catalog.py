"""A plugin's catalog of translations: what it accepts, and one clear line for what it refuses."""

from __future__ import annotations

import pytest

from plugins.catalog import CatalogError, catalog_parse

COMMANDS = ("weather", "forecast")


def test_it_reads_summaries_and_help_by_command_and_language() -> None:
    raw = {
        "es": {"weather": {"summary": "El tiempo", "help": " /weather CIUDAD "}},
        "zh-hans": {"weather": {"summary": "天气"}, "forecast": {"help": "预报"}},
    }
    assert catalog_parse(raw=raw, commands=COMMANDS, file="p.docs.json") == {
        "weather": {"es": {"summary": "El tiempo", "help": "/weather CIUDAD"}, "zh-hans": {"summary": "天气"}},
        "forecast": {"zh-hans": {"help": "预报"}},
    }


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ([], "p.docs.json: the top level must map language codes to commands"),
        ({"Spanish": {}}, "p.docs.json: 'Spanish' is not a language code such as es or zh-hans"),
        ({"es": ["weather"]}, "p.docs.json: es: must map command names to their texts"),
        ({"es": {"rain": {"summary": "Lluvia"}}}, "p.docs.json: es.rain: the plugin has no command 'rain'"),
        ({"es": {"weather": {"title": "Tiempo"}}}, "p.docs.json: es.weather: give summary, help or both"),
        ({"es": {"weather": {}}}, "p.docs.json: es.weather: give summary, help or both"),
        ({"es": {"weather": {"summary": 3}}}, "p.docs.json: es.weather: summary and help are text"),
    ],
)
def test_a_malformed_catalog_is_refused_naming_the_file_and_the_place(raw: object, message: str) -> None:
    with pytest.raises(CatalogError) as caught:
        catalog_parse(raw=raw, commands=COMMANDS, file="p.docs.json")
    assert str(caught.value) == message
