"""What a web process does once at start instead of during its first request.

Django builds its URL resolver (importing every URL module and admin view), compiles each
template and loads each language's catalogs on first use: a few hundred milliseconds that
the first request after a start would otherwise pay, the admin's front page (the dashboard)
above all. None of it touches the database. Then the objects made so far (modules, classes,
compiled templates) are frozen out of the garbage collector's reach: otherwise the first
full collection, during an early request, walks them all (80 ms on the dashboard's first
load).
"""

from __future__ import annotations

import gc
import logging

from django.conf import settings
from django.contrib import admin
from django.template import Template as EngineTemplate
from django.template.base import Node
from django.template.library import InclusionNode
from django.template.loader import get_template
from django.template.loader_tags import ExtendsNode, IncludeNode
from django.urls import reverse
from django.utils.translation import trans_real

log = logging.getLogger(__name__)


def _named(node: Node) -> list[str]:
    """The template names ``node`` extends or includes, when they are written out in full."""
    if isinstance(node, ExtendsNode | IncludeNode):
        written = getattr(node.parent_name if isinstance(node, ExtendsNode) else node.template, "var", None)
        return [written] if isinstance(written, str) else []
    if isinstance(node, InclusionNode) and isinstance(node.filename, str):
        return [node.filename]
    return []


def templates_compile(name: str) -> list[str]:
    """Compile ``name`` and every template it extends or includes (into the cached loader)."""
    seen: list[str] = []
    todo = [name]
    while todo:
        one = todo.pop()
        if one in seen:
            continue
        seen.append(one)
        compiled: EngineTemplate = get_template(one).template  # type: ignore[attr-defined]
        for kind in (ExtendsNode, IncludeNode, InclusionNode):
            for node in compiled.nodelist.get_nodes_by_type(kind):
                todo += _named(node)
    return seen


def web_warm() -> None:
    """Resolve the URLs, compile the admin's front page, load every catalog and freeze what
    the start made; a failure is logged and left for the first request to meet."""
    try:
        reverse("admin:index")
        templates_compile(admin.site.index_template or "admin/index.html")
        for code, _name in settings.LANGUAGES:
            trans_real.translation(code)
    except Exception:
        log.warning("web process warm-up failed", exc_info=True)
    gc.collect()
    gc.freeze()
