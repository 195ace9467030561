"""A Session ID as a QR code a phone can scan, beside the same text to copy."""

from __future__ import annotations

from functools import lru_cache

import segno
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

SCALE = 5  # pixels per module: about 200 px square for a Session ID


@lru_cache(maxsize=512)
def qr_png_data_uri(text: str) -> str:
    """``text`` as a QR code, a PNG in a ``data:`` URI (nothing fetched from anywhere)."""
    return str(segno.make(text, error="L").png_data_uri(scale=SCALE, border=4))


def session_id_qr_image(session_id: str) -> SafeString:
    """The QR image of ``session_id``."""
    return format_html(
        '<img class="session-id-qr" src="{}" alt="{}" style="image-rendering: pixelated">',
        qr_png_data_uri(session_id),
        _("QR code of the Session ID %(session_id)s") % {"session_id": session_id},
    )


def session_id_field(session_id: str) -> SafeString:
    """A read-only text field with ``session_id`` that selects itself, to copy."""
    return format_html(
        '<input type="text" readonly value="{}" size="70" onfocus="this.select()" aria-label="{}">',
        session_id,
        _("Session ID"),
    )


def session_id_qr_html(session_id: str) -> SafeString:
    """The QR image above the text field."""
    return format_html("{}<br>{}", session_id_qr_image(session_id), session_id_field(session_id))
