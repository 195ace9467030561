"""Offline forecasts (a real plugin would call a weather service here)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

DATA = Path(__file__).with_name("forecasts.json")


@dataclass(frozen=True, slots=True)
class Forecast:
    name: str
    sky: str
    celsius: int
    next: tuple[int, ...]


def forecast_find(city: str) -> Forecast | None:
    """The forecast for ``city`` (any case), or None when the city is unknown."""
    raw = json.loads(DATA.read_text(encoding="utf-8")).get(city.strip().lower())
    if raw is None:
        return None
    return Forecast(raw["name"], raw["sky"], raw["celsius"], tuple(raw["next"]))


def cities_count() -> int:
    return len(json.loads(DATA.read_text(encoding="utf-8")))
