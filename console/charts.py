"""Charts drawn on the server as SVG: series in, markup out, nothing loaded from anywhere.

Pure module (no Django). Every text is escaped; colours come from CSS classes
(``series-0``, ``series-1``...) so that the admin's light and dark themes both apply.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

WIDTH, HEIGHT = 320, 130
LEFT, BOTTOM, TOP = 52, 16, 16


@dataclass(frozen=True, slots=True)
class Series:
    name: str
    values: Sequence[float | None]  # None: nothing to show in that slot (a gap)


def number_text(value: float) -> str:
    """A chart's default value text: three significant digits, ``k`` past a thousand."""
    if not math.isfinite(value):
        return "∞"  # a latency above the histogram's last bound
    if value >= 1000:
        return f"{value / 1000:.3g}k"
    return f"{value:.3g}"


def _frame(
    title: str, body: list[str], *, top: float, text: Callable[[float], str], labels: Sequence[str], legend: list[str]
) -> str:
    plot_w, plot_h = WIDTH - LEFT - 2, HEIGHT - BOTTOM - TOP
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="{WIDTH}" height="{HEIGHT}" role="img" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
        f'<line class="axis" x1="{LEFT}" y1="{TOP + plot_h}" x2="{LEFT + plot_w}" y2="{TOP + plot_h}"/>',
        f'<text class="tick" x="{LEFT - 3}" y="{TOP + 8}" text-anchor="end">{escape(text(top))}</text>',
        f'<text class="tick" x="{LEFT - 3}" y="{TOP + plot_h}" text-anchor="end">0</text>',
    ]
    if labels:
        ends = [(0, "start", LEFT), (len(labels) - 1, "end", LEFT + plot_w)]
        for i, anchor, x in ends if len(labels) > 1 else ends[:1]:
            parts.append(
                f'<text class="tick" x="{x}" y="{HEIGHT - 3}" text-anchor="{anchor}">{escape(labels[i])}</text>'
            )
    parts += body
    for i, name in enumerate(legend):
        x = LEFT + 6 + i * 90
        parts.append(f'<rect class="series-{i}" x="{x}" y="3" width="8" height="8"/>')
        parts.append(f'<text class="legend" x="{x + 11}" y="11">{escape(name)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _top(series: Sequence[Series]) -> float:
    finite = [v for s in series for v in s.values if v is not None and math.isfinite(v)]
    return max(finite, default=0.0) or 1.0


def bar_chart(
    title: str, series: Sequence[Series], labels: Sequence[str], *, text: Callable[[float], str] = number_text
) -> str:
    """Bars side by side for each slot, one colour per series; a slot's label in its tooltip."""
    slots = max((len(s.values) for s in series), default=0)
    top = _top(series)
    plot_w, plot_h = WIDTH - LEFT - 2, HEIGHT - BOTTOM - TOP
    body: list[str] = []
    if slots:
        slot_w = plot_w / slots
        bar_w = max(slot_w * 0.8 / max(len(series), 1), 0.5)
        for i in range(slots):
            for k, s in enumerate(series):
                value = s.values[i] if i < len(s.values) else None
                if value is None:
                    continue
                h = plot_h * min(value, top) / top if math.isfinite(value) else plot_h
                x = LEFT + i * slot_w + slot_w * 0.1 + k * bar_w
                label = labels[i] if i < len(labels) else ""
                tip = f"{label} {s.name}: {text(value)}"
                body.append(
                    f'<rect class="series-{k}" x="{x:.1f}" y="{TOP + plot_h - h:.1f}" width="{bar_w:.1f}" '
                    f'height="{h:.1f}"><title>{escape(tip)}</title></rect>'
                )
    return _frame(title, body, top=top, text=text, labels=labels, legend=[s.name for s in series])


def line_chart(
    title: str, series: Sequence[Series], labels: Sequence[str], *, text: Callable[[float], str] = number_text
) -> str:
    """One line per series through the slots' middles, broken where a value is None."""
    slots = max((len(s.values) for s in series), default=0)
    top = _top(series)
    plot_w, plot_h = WIDTH - LEFT - 2, HEIGHT - BOTTOM - TOP
    body: list[str] = []
    for k, s in enumerate(series):
        runs: list[list[str]] = [[]]
        for i, value in enumerate(s.values):
            if value is None:
                runs.append([])
                continue
            shown = min(value, top) if math.isfinite(value) else top
            x = LEFT + (i + 0.5) * plot_w / slots
            y = TOP + plot_h - plot_h * shown / top
            runs[-1].append(f"{x:.1f},{y:.1f}")
            label = labels[i] if i < len(labels) else ""
            body.append(
                f'<circle class="series-{k}" cx="{x:.1f}" cy="{y:.1f}" r="1.6">'
                f"<title>{escape(f'{label} {s.name}: {text(value)}')}</title></circle>"
            )
        for run in runs:
            if len(run) > 1:
                body.insert(0, f'<polyline class="line series-{k}" points="{" ".join(run)}"/>')
    return _frame(title, body, top=top, text=text, labels=labels, legend=[s.name for s in series])
