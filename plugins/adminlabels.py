"""Labels for the codes the bot stores and the admin shows: ``reload-failed`` reads
"reload failed", "falló la recarga" or "重新加载失败" in the operator's language.

The code lists double as the model fields' ``choices``, so the admin's columns, filters and
detail pages show the label; a code missing here (a newer bridge's) is shown as it is.
"""

from __future__ import annotations

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

LOAD_STATES: list[tuple[str, str | Promise]] = [
    ("unknown", _("not loaded yet")),
    ("loaded", _("loaded")),
    ("reload-failed", _("reload failed")),
    ("error", _("unavailable")),
]

HEALTH_STATUSES: list[tuple[str, str | Promise]] = [
    ("", _("no check declared")),
    ("ok", _("healthy")),
    ("failing", _("check failing")),
]

CONVERSATION_TYPES: list[tuple[str, str | Promise]] = [
    ("private", _("private chat")),
    ("group", _("group chat")),
]

# What the bridge reports as its network in its status frame.
NETWORKS: list[tuple[str, str | Promise]] = [
    ("Session", _("Session network")),
    ("local test network", _("local test network")),
]


def code_label(codes: list[tuple[str, str | Promise]], code: object) -> str:
    """The label of ``code`` among ``codes``; an unknown code as it is, none as ``-``."""
    if code is None:
        return "-"
    for known, label in codes:
        if known == code:
            return str(label)
    return str(code)
