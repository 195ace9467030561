from axes.apps import AppConfig as AxesAppConfig
from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps
from django.utils.translation import gettext_lazy as _
from django_otp.plugins.otp_static.apps import DefaultConfig as OtpStaticConfig
from django_otp.plugins.otp_totp.apps import DefaultConfig as OtpTotpConfig


class AdminAuthConfig(AppConfig):
    default = True
    name = "adminauth"
    verbose_name = _("Admin login")

    def ready(self) -> None:
        from django.contrib import admin

        from adminauth import thirdparty
        from adminauth.permissions import auth_admins_replace

        # Every app's admin module is loaded by now (the admin app comes first).
        thirdparty.labels_apply()
        thirdparty.admins_replace(admin.site)
        auth_admins_replace(admin.site)


class SiteAdminConfig(admin_apps.AdminConfig):
    """``django.contrib.admin`` with our site as ``admin.site``: apps register on it as usual."""

    default = False
    default_site = "adminauth.site.AdminSite"


# The third-party apps under names an operator understands, in their language.
class TotpConfig(OtpTotpConfig):
    default = False
    verbose_name = _("Two-factor login: authenticator apps")


class StaticConfig(OtpStaticConfig):
    default = False
    verbose_name = _("Two-factor login: backup codes")


class AxesConfig(AxesAppConfig):
    default = False
    verbose_name = _("Login attempts")
