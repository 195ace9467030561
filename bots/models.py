"""The bots a deployment hosts: one Session identity each, its key sealed apart from it."""

from __future__ import annotations

from django.conf import settings as django_settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from sessionbot.botconfig import ConfigError, bot_config_apply
from sessionbot.validators import validate_session_id


def validate_bot_settings(value: object) -> None:
    """Accept overrides of config.yaml that config.yaml itself would accept."""
    if not isinstance(value, dict):
        raise ValidationError(_("Bot settings are a mapping of config.yaml keys."), code="invalid_bot_settings")
    try:
        bot_config_apply(base=django_settings.BOT_CONFIG, overrides=value)
    except ConfigError as exc:
        raise ValidationError(str(exc), code="invalid_bot_settings") from None


class Bot(models.Model):
    name = models.SlugField(_("name"), max_length=64)
    session_id = models.CharField(_("Session ID"), max_length=66, validators=[validate_session_id])
    display_name = models.CharField(_("display name"), max_length=64, blank=True)
    enabled = models.BooleanField(_("enabled"), default=True)
    settings = models.JSONField(
        _("settings"),
        default=dict,
        blank=True,
        validators=[validate_bot_settings],
        help_text=_("Overrides of config.yaml for this bot, such as command_prefix or languages."),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    # A removed bot keeps its history (messages, users, invocations) but not its identity:
    # its name and Session ID are free for a new bot.
    removed_at = models.DateTimeField(_("removed"), null=True, blank=True, editable=False)

    class Meta:
        ordering = ["name"]
        verbose_name = _("bot")
        verbose_name_plural = _("bots")
        constraints = [
            models.UniqueConstraint(
                fields=["name"],
                condition=Q(removed_at__isnull=True),
                name="unique_name_of_a_live_bot",
                violation_error_message=_("A bot with this name already exists."),
            ),
            models.UniqueConstraint(
                fields=["session_id"],
                condition=Q(removed_at__isnull=True),
                name="unique_session_id_of_a_live_bot",
                violation_error_message=_("A bot with this Session ID already exists."),
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.removed_at is not None and self.enabled:
            raise ValidationError(_("A removed bot cannot be enabled."), code="bot_removed")


class BotKey(models.Model):
    """A bot's identity (its 13-word mnemonic), sealed; a row of its own so that dumps
    leave it out (``dumpdata --secrets`` includes it) and no bot query loads it."""

    bot = models.OneToOneField(Bot, on_delete=models.CASCADE, primary_key=True, related_name="key")
    key_sealed = models.TextField(_("sealed identity"))

    class Meta:
        verbose_name = _("bot key")
        verbose_name_plural = _("bot keys")

    def __str__(self) -> str:
        return str(_("key of %(bot)s") % {"bot": self.bot_id})
