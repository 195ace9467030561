"""Field validators shared by the apps (a Session ID is one thing everywhere)."""

from __future__ import annotations

from django.core.validators import RegexValidator
from django.utils.translation import gettext_lazy as _

validate_session_id = RegexValidator(
    regex=r"^05[0-9a-f]{64}\Z",
    message=_("A Session ID is 66 lowercase hex characters starting with 05."),
    code="invalid_session_id",
)
