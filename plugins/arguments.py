"""Typed command arguments: read from a handler's signature, parsed from the message text.

Pure module (no Django): the plugin host imports it.

The rules a plugin author relies on:

- Every parameter after ``ctx`` is one argument; its annotation (``str``, ``int``, ``float``
  or ``bool``) converts it. A missing annotation means ``str``.
- Arguments are separated by whitespace; ``"quoted words"`` make one argument.
- The **last** parameter, when it is a ``str``, takes the rest of the text unchanged:
  spaces, new lines and quotes included. ``def weather(self, ctx, city: str)`` gets
  ``"New York"`` from ``/weather New York``.
- A parameter with a default value is optional.
"""

from __future__ import annotations

import contextlib
import inspect
import io
import shlex
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, get_type_hints

TYPES: dict[str, type] = {"str": str, "int": int, "float": float, "bool": bool}
_TRUE = {"1", "true", "yes", "y", "on"}
_FALSE = {"0", "false", "no", "n", "off"}


class ArgumentError(Exception):
    """The text does not fit the command's arguments; ``str(error)`` says which one."""


@dataclass(frozen=True, slots=True)
class ArgSpec:
    """One argument of a command, as its handler's signature declares it.

    The one description of an argument: the plugin host reads it from the code, the
    database keeps it as :meth:`as_dict` in ``PluginCommand.args``, and
    :func:`usage_format` shows it the same way wherever a usage line appears.
    """

    name: str
    type: str
    required: bool
    rest: bool = False
    default: Any = None

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.type, "required": self.required, "rest": self.rest}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> ArgSpec:
        """The spec :meth:`as_dict` wrote (the default value is not kept)."""
        kind = str(raw.get("type", "str"))
        return cls(
            str(raw.get("name", "")), kind if kind in TYPES else "str", bool(raw.get("required")), bool(raw.get("rest"))
        )


_specs: weakref.WeakKeyDictionary[Callable[..., Any], tuple[ArgSpec, ...]] = weakref.WeakKeyDictionary()


def argspec_read(func: Callable[..., Any]) -> tuple[ArgSpec, ...]:
    """Return the argument spec of a bound handler ``func(ctx, ...)`` (read once per function)."""
    function = getattr(func, "__func__", func)
    try:
        return _specs[function]
    except (KeyError, TypeError):
        pass
    specs = _argspec_read(func)
    with contextlib.suppress(TypeError):  # not weakly referable: read again next time
        _specs[function] = specs
    return specs


def _argspec_read(func: Callable[..., Any]) -> tuple[ArgSpec, ...]:
    try:
        hints = get_type_hints(func)
    except Exception:  # noqa: BLE001 - unresolvable annotations fall back to str
        hints = {}
    params = list(inspect.signature(func).parameters.values())[1:]  # skip ctx
    specs: list[ArgSpec] = []
    for index, param in enumerate(params):
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        hint = hints.get(param.name, str)
        type_name = next((name for name, tp in TYPES.items() if tp is hint), "str")
        required = param.default is inspect.Parameter.empty
        rest = index == len(params) - 1 and type_name == "str"
        default = None if required else param.default
        specs.append(ArgSpec(param.name, type_name, required, rest, default))
    return tuple(specs)


def usage_format(*, prefix: str, command: str, specs: tuple[ArgSpec, ...]) -> str:
    """``/weather <city> [days]``: the line shown when the arguments do not parse."""
    parts = [f"{prefix}{command}"]
    for spec in specs:
        label = f"{spec.name}…" if spec.rest else spec.name
        if spec.type != "str":
            label = f"{label}:{spec.type}"
        parts.append(f"<{label}>" if spec.required else f"[{label}]")
    return " ".join(parts)


def _convert(spec: ArgSpec, raw: str) -> Any:
    if spec.type == "int":
        try:
            return int(raw)
        except ValueError:
            raise ArgumentError(f"{spec.name} must be a whole number, not {raw!r}") from None
    if spec.type == "float":
        try:
            return float(raw)
        except ValueError:
            raise ArgumentError(f"{spec.name} must be a number, not {raw!r}") from None
    if spec.type == "bool":
        if raw.lower() in _TRUE:
            return True
        if raw.lower() in _FALSE:
            return False
        raise ArgumentError(f"{spec.name} must be yes or no, not {raw!r}")
    return raw


def _next_token(text: str) -> tuple[str, str]:
    """Split one whitespace-separated (or quoted) token off ``text``; return it and the rest."""
    stripped = text.lstrip()
    if not stripped:
        return "", ""
    stream = io.StringIO(stripped)
    lexer = shlex.shlex(stream, posix=True)
    lexer.whitespace_split = True
    lexer.commenters = ""
    try:
        token = lexer.get_token() or ""
    except ValueError as exc:
        raise ArgumentError(str(exc)) from None
    # shlex has consumed the token and the one whitespace character that ended it.
    rest = stream.read()
    return token, rest


def arguments_parse(*, text: str, specs: tuple[ArgSpec, ...]) -> list[Any]:
    """Convert ``text`` into positional values for ``specs``; raise ArgumentError if it cannot."""
    values: list[Any] = []
    remaining = text
    for spec in specs:
        if spec.rest:
            # The whole text when it is the only argument; else what follows the separator.
            raw = remaining.lstrip() if values else remaining
            if raw == "":
                if spec.required:
                    raise ArgumentError(f"{spec.name} is missing")
                raw = spec.default
            values.append(raw)
            return values
        token, remaining = _next_token(remaining)
        if token == "" and not remaining:
            if spec.required:
                raise ArgumentError(f"{spec.name} is missing")
            values.append(spec.default)
            continue
        values.append(_convert(spec, token))
    if remaining.strip():
        raise ArgumentError(f"too many arguments: {remaining.strip()!r}")
    return values
