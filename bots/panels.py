"""What other apps show on a bot's admin page, without the bots app knowing them.

``bots`` may import neither ``broker`` nor ``plugins``, yet a bot's page is where an
operator looks for its bridge, its messages and its plugins. Those apps register here,
from their admin modules:

- a panel: a title and a function from a bot to ``(label, value)`` rows, shown on the
  bot's change page, and optionally a column function from the bots of one changelist
  page to a short text per bot (one query per page, never one per bot);
- an inline, appended to the bot page's inlines.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from django.utils.functional import Promise

from bots.models import Bot

Rows = list[tuple[str, str]]


@dataclass(frozen=True, slots=True)
class Panel:
    key: str  # registering the same key again replaces the panel
    title: str | Promise
    rows: Callable[[Bot], Rows]
    column: Callable[[Sequence[Bot]], dict[int, str]] | None = None
    order: int = 100  # panels show in this order, then in the order they were registered


_panels: dict[str, Panel] = {}
_inlines: dict[str, type[Any]] = {}


def panel_register(
    *,
    key: str,
    title: str | Promise,
    rows: Callable[[Bot], Rows],
    column: Callable[[Sequence[Bot]], dict[int, str]] | None = None,
    order: int = 100,
) -> None:
    """Show ``rows(bot)`` under ``title`` on every bot's page, and ``column(bots)`` in the list."""
    _panels[key] = Panel(key=key, title=title, rows=rows, column=column, order=order)


def _ordered() -> list[Panel]:
    return sorted(_panels.values(), key=lambda panel: panel.order)


def inline_register(inline: type[Any]) -> None:
    """Add the admin inline ``inline`` (its model has a ``bot`` key) to every bot's page."""
    _inlines[f"{inline.__module__}.{inline.__qualname__}"] = inline


def bot_panels(bot: Bot) -> list[tuple[str, Rows]]:
    """Every registered panel of ``bot``, as titles with their rows."""
    return [(str(panel.title), panel.rows(bot)) for panel in _ordered()]


def bots_column(bots: Sequence[Bot]) -> dict[int, list[str]]:
    """Each bot's short texts for the list, one per panel that has a column."""
    found: dict[int, list[str]] = {bot.pk: [] for bot in bots}
    for panel in _ordered():
        if panel.column is None or not bots:
            continue
        texts = panel.column(bots)
        for pk, parts in found.items():
            if texts.get(pk):
                parts.append(texts[pk])
    return found


def bot_inlines() -> list[type[Any]]:
    """The inlines other apps added to the bot page."""
    return list(_inlines.values())
