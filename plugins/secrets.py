"""A plugin's secrets (API keys): encrypted at rest, handed to that plugin's hosts only.

Values are sealed (``sessionbot.sealing``: Fernet under a key derived from
``PLUGIN_SECRETS_KEY`` or ``data/secrets_key``, for the purpose "plugin secrets"): a copy of the
database alone, or an export of it, gives nothing away. Once stored, a value is read back
only to start that plugin's host (``plugin_secrets_env`` -> ``HostSpec.env``); the admin
and the command line show names and dates, never values, and nothing logs them.

Setting or removing a secret moves the plugin's ``updated_at``, which is part of the host
generation every worker compares before each invocation: the plugin's hosts restart with
the new values, on every machine.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from cryptography.fernet import InvalidToken, MultiFernet
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from plugins.envnames import env_name_problem, env_value_problem
from plugins.models import Plugin, PluginSecret
from sessionbot import sealing


class SecretError(Exception):
    """A secret cannot be stored or read; ``str(error)`` says why, never with the value."""


def _keys() -> MultiFernet:
    keys = str(getattr(settings, "PLUGIN_SECRETS_KEY", "") or "")
    if not keys:
        raise SecretError(
            _(
                "Plugin secrets need PLUGIN_SECRETS_KEY: set it, the same on every machine "
                "(REDIS_URL is set, so several machines share these secrets)."
            )
        )
    return sealing.cipher(keys, purpose=sealing.PLUGIN_SECRETS)


def secrets_problem() -> str:
    """Why no secret can be stored or read on this machine ("" when they can)."""
    try:
        _keys()
    except SecretError as exc:
        return str(exc)
    return ""


def secret_encrypt(value: str) -> str:
    return _keys().encrypt(value.encode()).decode("ascii")


def secret_decrypt(ciphertext: str, *, plugin: str, key: str) -> str:
    try:
        return _keys().decrypt(ciphertext.encode("ascii")).decode()
    except (InvalidToken, UnicodeError):
        raise SecretError(
            _(
                "The secret %(key)s of plugin %(plugin)s cannot be decrypted with this machine's "
                "PLUGIN_SECRETS_KEY (it was stored under another key): set it again."
            )
            % {"key": key, "plugin": plugin}
        ) from None


def _plugin(name: str) -> Plugin:
    try:
        return Plugin.objects.get(name=name)
    except Plugin.DoesNotExist:
        raise SecretError(_("No plugin is named %(name)s.") % {"name": name}) from None


def _renew_hosts(plugin: Plugin) -> None:
    # The host generation: every worker retires the plugin's hosts before its next invocation.
    Plugin.objects.filter(pk=plugin.pk).update(updated_at=timezone.now())


def secret_problem(*, key: str, value: str) -> str:
    """Why ``key`` cannot hold ``value`` ("" when it can); never quotes the value."""
    return env_name_problem(key) or env_value_problem(value)


def plugin_secret_set(*, plugin: str, key: str, value: str) -> PluginSecret:
    """Store (or replace) a secret of ``plugin``; its hosts restart with it."""
    problem = secret_problem(key=key, value=value)
    if problem:
        raise SecretError(problem)
    owner = _plugin(plugin)
    ciphertext = secret_encrypt(value)
    with transaction.atomic():
        secret, _created = PluginSecret.objects.update_or_create(
            plugin=owner, key=key, defaults={"ciphertext": ciphertext}
        )
        _renew_hosts(owner)
    return secret


def plugin_secret_unset(*, plugin: str, key: str) -> bool:
    """Remove a secret of ``plugin``; False if it had none of that name."""
    owner = _plugin(plugin)
    with transaction.atomic():
        deleted, _rows = PluginSecret.objects.filter(plugin=owner, key=key).delete()
        if deleted:
            _renew_hosts(owner)
    return bool(deleted)


def plugin_runs_inline(*, plugin: str) -> bool:
    """True when the plugin's active version runs inline: such code gets no secrets (they
    would be in the worker's own environment, every inline plugin's)."""
    owner = _plugin(plugin)
    version = owner.active_version
    return version is not None and version.isolation == version.Isolation.INLINE


def plugin_secrets_list(*, plugin: str) -> list[tuple[str, datetime]]:
    """The names of ``plugin``'s secrets and when each was set: never their values."""
    owner = _plugin(plugin)
    return list(PluginSecret.objects.filter(plugin=owner).order_by("key").values_list("key", "updated_at"))


def plugin_secrets_env(*, plugin: str) -> tuple[tuple[str, str], ...]:
    """``plugin``'s secrets, decrypted, for its host's environment (``HostSpec.env``).

    SecretError when one cannot be decrypted: the host does not start without it.
    """
    rows = PluginSecret.objects.filter(plugin__name=plugin).order_by("key").values_list("key", "ciphertext")
    return tuple((key, secret_decrypt(ciphertext, plugin=plugin, key=key)) for key, ciphertext in rows)


def plugin_check_env(*, plugin: str, env: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    """The variables ``plugin``'s host will have: its stored secrets, then ``env`` (an entry's
    ``env:``) on top. The code check gets them too, so code that reads an API key as it
    loads loads in the check as it will serve."""
    try:
        stored = dict(plugin_secrets_env(plugin=plugin))
    except SecretError:
        stored = {}  # not readable here: the serving host says so when it starts
    return tuple({**stored, **env}.items())


def entry_env_store(*, plugin: str, env: Mapping[str, str]) -> tuple[str, ...]:
    """Store a plugins.yaml entry's ``env:`` as ``plugin``'s secrets; return the names changed.

    A value equal to the one stored is left alone, so importing an unchanged file restarts
    nothing. A name the entry no longer lists keeps its secret (``plugins secret NAME KEY
    --unset`` removes it): the file is not the only place secrets come from.
    """
    if not env:
        return ()
    owner = _plugin(plugin)
    stored = dict(PluginSecret.objects.filter(plugin=owner, key__in=list(env)).values_list("key", "ciphertext"))
    changed = []
    for key, value in sorted(env.items()):
        problem = secret_problem(key=key, value=value)
        if problem:
            raise SecretError(problem)
        if key in stored:
            try:
                if secret_decrypt(stored[key], plugin=plugin, key=key) == value:
                    continue
            except SecretError:
                pass  # stored under another key: the file's value replaces it
        PluginSecret.objects.update_or_create(plugin=owner, key=key, defaults={"ciphertext": secret_encrypt(value)})
        changed.append(key)
    if changed:
        _renew_hosts(owner)
    return tuple(changed)


def plugin_secrets_rekey() -> int:
    """Encrypt every secret again under the first ``PLUGIN_SECRETS_KEY``; return how many.

    After a key rotation (the new key first, the old one after it), so the old key can be
    dropped. The values are unchanged, so no host restarts (``updated_at`` stays).
    """
    cipher = _keys()
    done = 0
    with transaction.atomic():
        for secret in PluginSecret.objects.select_for_update().select_related("plugin"):
            try:
                rotated = cipher.rotate(secret.ciphertext.encode("ascii")).decode("ascii")
            except InvalidToken:
                secret_decrypt(secret.ciphertext, plugin=secret.plugin.name, key=secret.key)  # raises, names it
                raise
            PluginSecret.objects.filter(pk=secret.pk).update(ciphertext=rotated)
            done += 1
    return done
