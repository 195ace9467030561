"""The weather plugin: two commands, a config value, storage and a health check."""

from __future__ import annotations

from plugins.api import Context, Plugin, PluginError, Reply, command
from weather_example.data import cities_count, forecast_find

SKY = {
    "es": {"sunny": "soleado", "overcast": "nublado", "rainy": "lluvioso", "windy": "ventoso"},
}


def _degrees(celsius: int, units: str) -> str:
    return f"{round(celsius * 9 / 5 + 32)} °F" if units == "imperial" else f"{celsius} °C"


class Weather(Plugin):
    """Weather for a city, from offline data."""

    @command("weather", summary="Today's weather for a city")
    def weather(self, ctx: Context, city: str = "") -> Reply:
        """/weather CITY: today's sky and temperature. Without a city, the last one you asked."""
        city = city.strip() or ctx.storage.get(f"last:{ctx.user_id}", "")
        if not city:
            raise PluginError("Which city? For example: /weather Paris")
        found = forecast_find(city)
        if found is None:
            raise PluginError(f"I have no weather for {city}.")
        ctx.storage.set(f"last:{ctx.user_id}", found.name)
        sky = SKY.get(ctx.language, {}).get(found.sky, found.sky)
        return Reply(f"{found.name}: {sky}, {_degrees(found.celsius, ctx.config.get('units', 'metric'))}")

    @command("forecast", summary="The next days' temperatures")
    def forecast(self, ctx: Context, days: int, city: str) -> Reply:
        """/forecast DAYS CITY: temperatures for the next 1 to 3 days."""
        if not 1 <= days <= 3:
            raise PluginError("I can forecast 1 to 3 days.")
        found = forecast_find(city)
        if found is None:
            raise PluginError(f"I have no weather for {city}.")
        units = ctx.config.get("units", "metric")
        return Reply(f"{found.name}: " + ", ".join(_degrees(c, units) for c in found.next[:days]))

    def health_check(self) -> str:
        return f"{cities_count()} cities"
