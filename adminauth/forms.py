"""The admin's login form: the password, then a two-factor code for enrolled admins."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.signals import user_login_failed
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from adminauth.twofactor import otp_enrolled, otp_verify


class LoginForm(AdminAuthenticationForm):
    otp_token = forms.CharField(
        label=_("Two-factor code"),
        required=False,
        max_length=32,
        strip=True,
        help_text=_("Only if you enrolled an authenticator app: its 6-digit code, or one of your backup codes."),
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "spellcheck": "false"}),
    )

    error_messages = {
        **AdminAuthenticationForm.error_messages,
        "otp_required": _("Enter the code from your authenticator app, or a backup code."),
        "otp_invalid": _("That two-factor code is not valid. Enter the current code."),
        "otp_not_enrolled": _(
            "Two-factor login is required for admins and this account has no device. "
            "An operator can enroll one with: manage.py otp_enroll %(username)s"
        ),
    }

    def confirm_login_allowed(self, user: Any) -> None:
        super().confirm_login_allowed(user)
        if not otp_enrolled(user=user):
            if settings.ADMIN_OTP_REQUIRED:
                params = {"username": user.get_username()}
                raise ValidationError(self.error_messages["otp_not_enrolled"], code="otp_not_enrolled", params=params)
            return
        token = self.cleaned_data.get("otp_token") or ""
        if not token:
            raise ValidationError(self.error_messages["otp_required"], code="otp_required")
        device = otp_verify(user=user, token=token)
        if device is None:
            # Counted as a failed login: guessing codes locks the account like guessing passwords.
            user_login_failed.send(sender=__name__, credentials={"username": user.get_username()}, request=self.request)
            raise ValidationError(self.error_messages["otp_invalid"], code="otp_invalid")
        user.otp_device = device  # django-otp marks the session verified at login
