"""``{% console_dashboard %}``: the dashboard on the admin's index page."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.safestring import SafeString

from bots.qr import session_id_field, session_id_qr_image
from console.dashboard import SPANS, dashboard_collect

register = template.Library()


@register.inclusion_tag("console/dashboard.html", takes_context=True)
def console_dashboard(context: dict[str, Any]) -> dict[str, Any]:
    request = context["request"]
    # Error texts and every bot's figures: for those who may read the invocations.
    if not request.user.has_perm("plugins.view_invocation"):
        return {"allowed": False}
    span = request.GET.get("range", "day")
    return {"allowed": True, "d": dashboard_collect(span=span), "spans": list(SPANS)}


@register.filter
def session_id_qr(session_id: str) -> SafeString:
    return session_id_qr_image(session_id)


@register.filter
def session_id_text(session_id: str) -> SafeString:
    return session_id_field(session_id)
