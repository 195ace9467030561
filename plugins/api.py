"""The public plugin API: the one surface plugin authors import.

A plugin is a subclass of :class:`Plugin` whose methods marked with :func:`command` answer
chat commands::

    from plugins.api import Context, Plugin, Reply, command

    class Weather(Plugin):
        @command("weather", summary="Weather for a city")
        def weather(self, ctx: Context, city: str) -> Reply:
            return Reply(f"Sunny in {city}")

This module knows nothing of Django, the broker or the database.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

__all__ = ["Attachment", "Context", "Plugin", "PluginError", "Reply", "command"]


class PluginError(Exception):
    """Raise to answer the user with ``str(error)``; the invocation is recorded as an error."""


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file sent or received: ``data`` holds the bytes (at most 10,000,000)."""

    name: str
    content_type: str
    data: bytes


@dataclass(frozen=True, slots=True)
class Reply:
    """What a command answers: text, and optionally files. Long text is split by the broker."""

    text: str = ""
    attachments: tuple[Attachment, ...] = ()


@dataclass(frozen=True, slots=True)
class Context:
    """Who asked and where: passed to every command as its first argument."""

    user_id: str
    conversation: str
    conversation_type: str
    language: str
    config: dict[str, Any] = field(default_factory=dict)
    is_admin: bool = False
    attachments: tuple[Attachment, ...] = ()
    logger: logging.Logger = field(default_factory=lambda: logging.getLogger("plugins.user"))


F = TypeVar("F", bound=Callable[..., Any])


def command(name: str, *, summary: str = "") -> Callable[[F], F]:
    """Mark a method of a :class:`Plugin` as the handler of chat command ``name``."""

    def mark(func: F) -> F:
        func.__sessionbot_command__ = (name, summary)  # type: ignore[attr-defined]
        return func

    return mark


class Plugin:
    """Base class of plugins. Subclasses define commands with :func:`command`."""

    def commands(self) -> dict[str, Callable[..., Any]]:
        """Return the command handlers of this plugin by command name."""
        found: dict[str, Callable[..., Any]] = {}
        for attr in dir(type(self)):
            member = getattr(self, attr, None)
            meta = getattr(member, "__sessionbot_command__", None)
            if meta is not None and callable(member):
                found[meta[0]] = member
        return found
