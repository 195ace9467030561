"""The admin pages of django-otp and axes in the operator's language.

Their own catalogs have no Chinese, django-otp's labels are not marked for translation at
all, and their admins hard-code English titles and ``__str__`` texts. The project's catalog
translates them instead: ``labels_apply`` gives their models and fields our names (marked
here, so ``make messages`` collects them), and ``admins_replace`` registers their admins
again with translated titles. Called once from ``AdminAuthConfig.ready``.
"""

from __future__ import annotations

from typing import Any

from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.apps import apps
from django.contrib import admin
from django.urls import reverse
from django.utils.formats import date_format
from django.utils.functional import Promise
from django.utils.html import format_html
from django.utils.translation import gettext, gettext_noop
from django.utils.translation import gettext_lazy as _
from django_otp.plugins.otp_static.admin import StaticDeviceAdmin as OtpStaticDeviceAdmin
from django_otp.plugins.otp_totp.admin import TOTPDeviceAdmin as OtpTOTPDeviceAdmin

Label = str | Promise

# Models: (verbose_name, verbose_name_plural).
MODELS: dict[str, tuple[Label, Label]] = {
    "otp_totp.TOTPDevice": (_("authenticator app"), _("authenticator apps")),
    "otp_static.StaticDevice": (_("backup code list"), _("backup code lists")),
    "otp_static.StaticToken": (_("backup code"), _("backup codes")),
    "axes.AccessAttempt": (_("failed login attempt"), _("failed login attempts")),
    "axes.AccessLog": (_("login"), _("logins")),
    "axes.AccessFailureLog": (_("failed login"), _("failed logins")),
    "axes.AccessAttemptExpiration": (_("attempt expiry"), _("attempt expiries")),
}

# django-otp's fields: name -> (label, help text). The help texts keep django-otp's English
# as their message id: migrations compare a help text with the one they recorded.
_DEVICE: dict[str, tuple[Label, Label]] = {
    "user": (_("user"), _("The user that this device belongs to.")),
    "name": (_("name"), _("The human-readable name of this device.")),
    "confirmed": (_("confirmed"), _("Is this device ready for use?")),
    "created_at": (_("created at"), _("The date and time when this device was initially created in the system.")),
    "last_used_at": (_("last used at"), _("The most recent date and time this device was used.")),
    "throttling_failure_timestamp": (
        _("last failed code at"),
        _("A timestamp of the last failed verification attempt. Null if last attempt succeeded."),
    ),
    "throttling_failure_count": (_("failed codes in a row"), _("Number of successive failed attempts.")),
}
FIELDS: dict[str, dict[str, tuple[Label, Label]]] = {
    "otp_totp.TOTPDevice": {
        **_DEVICE,
        "key": (_("key"), _("A hex-encoded secret key of up to 40 bytes.")),
        "step": (_("time step"), _("The time step in seconds.")),
        "t0": (_("start time"), _("The Unix time at which to begin counting steps.")),
        "digits": (_("digits"), _("The number of digits to expect in a token.")),
        "tolerance": (_("tolerance"), _("The number of time steps in the past or future to allow.")),
        "drift": (_("drift"), _("The number of time steps the prover is known to deviate from our clock.")),
        "last_t": (
            _("last step used"),
            _("The t value of the latest verified token. The next token must be at a higher time step."),
        ),
    },
    "otp_static.StaticDevice": dict(_DEVICE),
    "otp_static.StaticToken": {"device": (_("backup code list"), ""), "token": (_("code"), "")},
}

# Fieldset titles the admins hard-code in English.
TITLES: dict[str, Label] = {
    "Identity": _("Identity"),
    "Timestamps": _("Times"),
    "Configuration": _("Configuration"),
    "State": _("State"),
    "Throttling": _("Throttling"),
}

# Axes marks these for translation but ships no Spanish or Chinese: listed so that our
# catalog, which Django consults first, has them.
AXES_MESSAGES = (
    gettext_noop("Form Data"),
    gettext_noop("Meta Data"),
    gettext_noop("Locked Out"),
    gettext_noop("Attempt Remaining"),
    gettext_noop("Not set"),
    gettext_noop("Clean up expired attempts"),
    gettext_noop("Access lock out"),
    gettext_noop("Access Attempt"),
    gettext_noop("User Agent"),
    gettext_noop("IP Address"),
    gettext_noop("Username"),
    gettext_noop("HTTP Accept"),
    gettext_noop("Path"),
    gettext_noop("Attempt Time"),
    gettext_noop("GET Data"),
    gettext_noop("POST Data"),
    gettext_noop("Failed Logins"),
    gettext_noop("Logout Time"),
    gettext_noop("Yes"),
    gettext_noop("No"),
)

# Django's own admin messages that its Chinese catalog lacks.
DJANGO_MESSAGES = (
    gettext_noop("Model name"),
    gettext_noop("Add link"),
    gettext_noop("Change or view list link"),
    gettext_noop("After you’ve created a user, you’ll be able to edit more user options."),  # noqa: RUF001
)


def labels_apply() -> None:
    for key, (singular, plural) in MODELS.items():
        meta = apps.get_model(key)._meta
        meta.verbose_name, meta.verbose_name_plural = singular, plural
    for key, fields in FIELDS.items():
        model = apps.get_model(key)
        for name, (label, help_text) in fields.items():
            field = model._meta.get_field(name)
            field.verbose_name, field.help_text = label, help_text
    AccessAttempt.__str__ = _attempt_text
    AccessLog.__str__ = _log_text
    AccessFailureLog.__str__ = _failure_text


def _when(moment: Any) -> str:
    return date_format(moment, "DATETIME_FORMAT") if moment else "-"


def _attempt_text(self: AccessAttempt) -> str:
    return gettext("Failed attempts of %(user)s at %(when)s") % {
        "user": self.username,
        "when": _when(self.attempt_time),
    }


def _log_text(self: AccessLog) -> str:
    return gettext("Login of %(user)s at %(when)s") % {"user": self.username, "when": _when(self.attempt_time)}


def _failure_text(self: AccessFailureLog) -> str:
    values = {"user": self.username, "when": _when(self.attempt_time), "ip": self.ip_address}
    return gettext("Failed login of %(user)s at %(when)s from %(ip)s") % values


def _titled(fieldsets: Any) -> list[Any]:
    return [(TITLES.get(title, title) if title else title, options) for title, options in fieldsets]


_SEARCH_HELP = _("Search by user name or e-mail address")


class TOTPDeviceAdmin(OtpTOTPDeviceAdmin):
    search_help_text = _SEARCH_HELP

    def get_fieldsets(self, request: Any, obj: Any = None) -> Any:
        return _titled(super().get_fieldsets(request, obj))

    @admin.display(description=_("QR code"))
    def qrcode_link(self, device: Any) -> str:
        href = reverse("admin:otp_totp_totpdevice_config", kwargs={"pk": device.pk})
        return format_html('<a href="{}">{}</a>', href, _("show the QR code"))


class StaticDeviceAdmin(OtpStaticDeviceAdmin):
    search_help_text = _SEARCH_HELP

    def get_fieldsets(self, request: Any, obj: Any = None) -> Any:
        return _titled(super().get_fieldsets(request, obj))


def admins_replace(site: admin.AdminSite) -> None:
    attempts = site.get_model_admin(AccessAttempt)
    # Axes' column of the attempts left before a lock has no title of its own.
    admin.display(description=_("status"))(type(attempts).status)  # type: ignore[attr-defined]
    replacing: dict[str, type[admin.ModelAdmin[Any]]] = {
        "otp_totp.TOTPDevice": TOTPDeviceAdmin,
        "otp_static.StaticDevice": StaticDeviceAdmin,
    }
    for key, admin_class in replacing.items():
        model = apps.get_model(key)
        if site.is_registered(model):
            site.unregister(model)
        site.register(model, admin_class)
