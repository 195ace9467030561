"""Command arguments are parsed from the text by the handler's types (pure, no Django)."""

from __future__ import annotations

import pytest

from plugins.api import Context
from plugins.arguments import ArgumentError, argspec_read, arguments_parse, usage_format


def weather(ctx: Context, city: str) -> None: ...
def forecast(ctx: Context, days: int, city: str) -> None: ...
def scale(ctx: Context, factor: float, loud: bool = False) -> None: ...
def repeat(ctx: Context, times: int = 1, word: str = "ok") -> None: ...
def quoted(ctx: Context, first: str, second: int) -> None: ...


@pytest.mark.parametrize(
    ("handler", "text", "values"),
    [
        (weather, "Paris", ["Paris"]),
        (weather, "New York", ["New York"]),
        (weather, "  two  spaces kept  ", ["  two  spaces kept  "]),
        (weather, 'He said "hi"\nthen left', ['He said "hi"\nthen left']),
        (forecast, "3 Buenos Aires", [3, "Buenos Aires"]),
        (forecast, "3   Lima", [3, "Lima"]),
        (scale, "1.5", [1.5, False]),
        (scale, "2 yes", [2.0, True]),
        (scale, "2 off", [2.0, False]),
        (repeat, "", [1, "ok"]),
        (repeat, "3", [3, "ok"]),
        (repeat, "3 hi there", [3, "hi there"]),
        (quoted, '"New York" 7', ["New York", 7]),
    ],
)
def test_it_converts_the_text_to_the_declared_types(handler, text, values) -> None:
    assert arguments_parse(text=text, specs=argspec_read(handler)) == values


@pytest.mark.parametrize(
    ("handler", "text", "problem"),
    [
        (weather, "", "city is missing"),
        (forecast, "soon Paris", "days must be a whole number"),
        (forecast, "3", "city is missing"),
        (scale, "big", "factor must be a number"),
        (scale, "1 maybe", "loud must be yes or no"),
        (scale, "1 yes extra", "too many arguments"),
        (quoted, '"unclosed 7', "No closing quotation"),
    ],
)
def test_it_says_which_argument_does_not_fit(handler, text, problem) -> None:
    with pytest.raises(ArgumentError, match=problem):
        arguments_parse(text=text, specs=argspec_read(handler))


@pytest.mark.parametrize(
    ("handler", "usage"),
    [
        (weather, "/weather <city…>"),
        (forecast, "/weather <days:int> <city…>"),
        (scale, "/weather <factor:float> [loud:bool]"),
        (repeat, "/weather [times:int] [word…]"),
    ],
)
def test_the_usage_line_names_every_argument(handler, usage) -> None:
    assert usage_format(prefix="/", command="weather", specs=argspec_read(handler)) == usage


def test_a_long_text_reaches_the_rest_argument_unchanged() -> None:
    text = "  line one\n\tline two  " * 5000
    assert arguments_parse(text=text, specs=argspec_read(weather)) == [text]
