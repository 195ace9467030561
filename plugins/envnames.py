"""The names and values of a plugin's own environment variables (its secrets, ``env:``).

Pure module: no Django import. A name is written as an environment variable is
(``OPENAI_API_KEY``); names that steer the plugin host itself (its interpreter, its
loader, its folders) are refused, so a secret can never change how the host starts.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
# Set by the platform for every host (HOME, TMPDIR, PATH) or read by the interpreter and
# the dynamic loader before any plugin code runs.
RESERVED = frozenset({"PATH", "HOME", "TMPDIR", "PWD", "SHELL", "IFS"})
RESERVED_PREFIXES = ("PYTHON", "LD_", "BWRAP")
MAX_VALUE = 64 * 1024


def env_name_problem(name: str) -> str:
    """Why ``name`` cannot be a plugin's variable ("" when it can)."""
    if not ENV_NAME.fullmatch(name):
        return f"{name[:40]!r} is not a variable name: letters, digits and _, not starting with a digit"
    upper = name.upper()
    if upper in RESERVED or upper.startswith(RESERVED_PREFIXES):
        return f"{name} is set by the platform for every plugin host; choose another name"
    return ""


def env_value_problem(value: str) -> str:
    """Why ``value`` cannot be a variable's value ("" when it can). Never quotes the value."""
    if "\x00" in value:
        return "the value contains a NUL character, which no environment variable can hold"
    if len(value) > MAX_VALUE:
        return f"the value is longer than {MAX_VALUE} characters"
    return ""


def _scalar(name: str, value: object) -> str:
    if isinstance(value, bool):  # YAML's true/yes: written as the older bot's shell read it
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    raise ValueError(f"{name}: the value must be text or a number")


def env_entries(raw: object) -> dict[str, str]:
    """The variables of an ``env:`` field: a mapping, or the older bot's list of one-key maps.

    Raises ValueError naming the variable (never its value) for anything else.
    """
    if raw is None:
        return {}
    pairs: list[tuple[object, object]] = []
    if isinstance(raw, Mapping):
        pairs = list(raw.items())
    elif isinstance(raw, list | tuple):
        for item in raw:
            if not isinstance(item, Mapping) or len(item) != 1:
                raise ValueError("each item of the list must map one name to its value (- NAME: value)")
            pairs.extend(item.items())
    else:
        raise ValueError("must be a mapping of names to values, or a list of one-name maps")
    out: dict[str, str] = {}
    for name, value in pairs:
        name = str(name)
        problem = env_name_problem(name) or env_value_problem(_scalar(name, value))
        if problem:
            raise ValueError(problem)
        out[name] = _scalar(name, value)
    return out
