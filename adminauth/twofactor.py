"""Two-factor login for admins: a TOTP authenticator app, and single-use backup codes.

An admin with a confirmed device must give a code at login; which device checks it follows
from the code's shape (six digits: the app; otherwise a backup code), so a wrong code
counts against one device only (django-otp throttles each device after failures).
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

TOTP_NAME = "authenticator"
BACKUP_NAME = "backup codes"
BACKUP_CODES = 10


def otp_enrolled(*, user: AbstractBaseUser) -> bool:
    """True when ``user`` has a confirmed device, and so must give a code at login."""
    return (
        TOTPDevice.objects.filter(user=user, confirmed=True).exists()
        or StaticDevice.objects.filter(user=user, confirmed=True, token_set__isnull=False).exists()
    )


def otp_verify(*, user: AbstractBaseUser, token: str) -> Device | None:
    """Return the confirmed device of ``user`` that accepts ``token``, else None."""
    token = "".join(token.split()).lower()
    model: type[TOTPDevice] | type[StaticDevice] = TOTPDevice if token.isdigit() else StaticDevice
    with transaction.atomic():
        # Locked: two logins racing with one code cannot both use it.
        for device in model.objects.select_for_update().filter(user=user, confirmed=True).order_by("pk"):
            if device.verify_token(token):
                return device
    return None


def totp_enroll(*, user: AbstractBaseUser) -> TOTPDevice:
    """A new, unconfirmed TOTP device for ``user`` (any earlier unconfirmed one is dropped)."""
    TOTPDevice.objects.filter(user=user, confirmed=False).delete()
    return TOTPDevice.objects.create(user=user, name=TOTP_NAME, confirmed=False)


def totp_confirm(*, device: TOTPDevice, token: str | None) -> bool:
    """Confirm ``device`` when ``token`` is its current code (None: confirm without a check).

    The confirmed device replaces the admin's earlier ones: a new phone retires the old.
    """
    if token is not None and not device.verify_token("".join(token.split())):
        return False
    with transaction.atomic():
        TOTPDevice.objects.filter(user_id=device.user_id).exclude(pk=device.pk).delete()
        device.confirmed = True
        device.save(update_fields=["confirmed"])
    return True


def backup_codes_issue(*, user: AbstractBaseUser, count: int = BACKUP_CODES) -> list[str]:
    """Replace the backup codes of ``user`` with ``count`` new single-use ones; return them."""
    with transaction.atomic():
        device, _ = StaticDevice.objects.get_or_create(user=user, name=BACKUP_NAME, defaults={"confirmed": True})
        device.token_set.all().delete()
        codes = [StaticToken.random_token() for _ in range(count)]
        StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in codes)
    return codes
