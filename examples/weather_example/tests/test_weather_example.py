"""The example plugin's own tests: three lines each, with the plugin_runner fixture."""

import pytest

from plugins.testing import PluginRunner


def test_weather_for_a_city(plugin_runner: PluginRunner) -> None:
    assert plugin_runner("weather", "/weather Paris").text == "Paris: sunny, 21 °C"


def test_city_names_may_have_spaces_and_any_case(plugin_runner: PluginRunner) -> None:
    assert plugin_runner("weather", "/weather new york").text == "New York: rainy, 12 °C"


def test_the_reply_follows_the_users_language(plugin_runner: PluginRunner) -> None:
    assert plugin_runner("weather", "/weather Lima", language="es").text == "Lima: nublado, 18 °C"


def test_the_config_chooses_the_units(plugin_runner: PluginRunner) -> None:
    assert plugin_runner("weather", "/weather Paris", config={"units": "imperial"}).text == "Paris: sunny, 70 °F"


def test_an_unknown_city_is_told_to_the_user(plugin_runner: PluginRunner) -> None:
    assert plugin_runner("weather", "/weather Atlantis").text == "I have no weather for Atlantis."


def test_without_a_city_it_remembers_the_last_one(plugin_runner: PluginRunner) -> None:
    plugin_runner("weather", "/weather Beijing")
    assert plugin_runner("weather", "/weather").text == "Beijing: windy, 9 °C"


@pytest.mark.parametrize(
    ("text", "reply"),
    [
        ("/forecast 2 Paris", "Paris: 19 °C, 17 °C"),
        ("/forecast 9 Paris", "I can forecast 1 to 3 days."),
        ("/forecast soon Paris", "Usage: /forecast <days:int> <city…>"),
    ],
)
def test_forecast(plugin_runner: PluginRunner, text: str, reply: str) -> None:
    assert plugin_runner("weather", text).text == reply


def test_it_runs_the_same_in_an_isolated_plugin_host(plugin_runner: PluginRunner) -> None:
    assert plugin_runner("weather", "/weather Paris", isolated=True).text == "Paris: sunny, 21 °C"


def test_every_command_has_help_and_is_translated(plugin_runner: PluginRunner) -> None:
    commands = plugin_runner.describe("weather")
    assert commands["forecast"]["usage"] == "/forecast <days:int> <city…>"
    for command in commands.values():
        assert command["summary"]
        assert command["help"]
        assert set(command["docs"]) == {"es", "zh-hans"}
