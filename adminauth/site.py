"""The admin site: only verified admins when they have a device (or when it is required)."""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from adminauth.forms import LoginForm
from adminauth.twofactor import otp_enrolled


class AdminSite(admin.AdminSite):
    login_form = LoginForm
    login_template = "adminauth/login.html"
    site_header = "sessionbot"
    site_title = _("sessionbot admin")
    site_url = None  # the project serves no site besides the admin: no "View site" link

    def has_permission(self, request: HttpRequest) -> bool:
        if not super().has_permission(request):
            return False
        user = request.user
        if user.is_verified():  # type: ignore[union-attr]
            return True
        # A session opened with the password alone ends when its admin enrolls a device.
        return not settings.ADMIN_OTP_REQUIRED and not otp_enrolled(user=user)  # type: ignore[arg-type]
