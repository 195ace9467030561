"""Server-drawn SVG charts: series in, markup out."""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET

import pytest

from console.charts import HEIGHT, Series, bar_chart, line_chart
from sessionbot.durations import duration_text

NS = "{http://www.w3.org/2000/svg}"


def _bars(svg: str) -> list[float]:
    return [
        float(rect.get("height", 0))
        for rect in ET.fromstring(svg).iter(f"{NS}rect")
        if rect.find(f"{NS}title") is not None
    ]


@pytest.mark.parametrize(
    ("series", "bars"),
    [
        ([], 0),
        ([Series("in", [])], 0),
        ([Series("in", [0, 0, 0])], 3),
        ([Series("in", [1, 2, 3]), Series("out", [3, 2, 1])], 6),
        ([Series("in", [1, None, 3])], 2),  # None: nothing drawn in that slot
    ],
)
def test_a_bar_chart_draws_one_bar_per_value_and_parses_as_svg(series, bars) -> None:
    svg = bar_chart("Messages", series, ["a", "b", "c"])
    assert len(_bars(svg)) == bars


def test_the_tallest_bar_fills_the_plot_and_the_others_scale_to_it() -> None:
    heights = _bars(bar_chart("t", [Series("in", [10, 5, 0])], ["a", "b", "c"]))
    assert heights[0] > 0
    assert heights[1] == pytest.approx(heights[0] / 2, abs=0.1)
    assert heights[2] == 0
    assert max(heights) <= HEIGHT


def test_all_zero_and_infinite_values_draw_without_dividing_by_zero() -> None:
    ET.fromstring(bar_chart("t", [Series("in", [0, 0])], ["a", "b"]))
    svg = line_chart("t", [Series("p95", [0.2, math.inf, None, 0.4])], ["a", "b", "c", "d"], text=duration_text)
    ET.fromstring(svg)
    assert "p95: ∞" in svg  # the tooltip says it is above every bucket


@pytest.mark.parametrize(
    ("values", "top"),
    [([0.0048, 0.002], "4.8 ms"), ([0.5714279996], "571 ms"), ([75.0, 3.0], "1 min 15 s")],
)
def test_a_latency_chart_reads_its_scale_as_a_duration(values: list[float], top: str) -> None:
    svg = line_chart("t", [Series("p50", values)], ["a"] * len(values), text=duration_text)
    ticks = [t.text for t in ET.fromstring(svg).iter(f"{NS}text") if t.get("class") == "tick"]
    assert ticks[:2] == [top, "0"]


def test_the_default_scale_keeps_three_digits() -> None:
    svg = bar_chart("t", [Series("in", [1234, 5])], ["a", "b"])
    ticks = [t.text for t in ET.fromstring(svg).iter(f"{NS}text") if t.get("class") == "tick"]
    assert ticks[:2] == ["1.23k", "0"]


def test_a_line_breaks_where_a_value_is_missing() -> None:
    svg = line_chart("t", [Series("p50", [1, 2, None, 3, 4])], list("abcde"))
    lines = ET.fromstring(svg).findall(f"{NS}polyline")
    assert [len(line.get("points", "").split()) for line in lines] == [2, 2]


@pytest.mark.parametrize("chart", [bar_chart, line_chart])
def test_titles_names_and_labels_are_escaped(chart) -> None:
    svg = chart('<script>alert("t")</script>', [Series("<b>&", [1.0])], ["</text><script>"])
    assert "<script>" not in svg
    assert "<b>" not in svg
    root = ET.fromstring(svg)
    title = root.find(f"{NS}title")
    assert title is not None
    assert title.text == '<script>alert("t")</script>'
    assert not re.search(r"https?://(?!www\.w3\.org/2000/svg)", svg)
