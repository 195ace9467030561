from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class AdminAuthConfig(AppConfig):
    default = True
    name = "adminauth"
    verbose_name = "Admin login"


class SiteAdminConfig(admin_apps.AdminConfig):
    """``django.contrib.admin`` with our site as ``admin.site``: apps register on it as usual."""

    default = False
    default_site = "adminauth.site.AdminSite"
