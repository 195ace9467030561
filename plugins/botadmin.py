"""The plugins a bot offers, edited from the bot's page and from the plugin's, and what a
bot's page shows of its users and plugin runs (registered in ``bots.panels``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from django.contrib import admin
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from bots.models import Bot
from bots.panels import Rows
from plugins.health import FAULTS
from plugins.models import BotPlugin, BotUser, Invocation

WINDOW = timedelta(hours=24)


class BotOffersInline(admin.TabularInline):
    """On a bot's page: the plugins it offers (none listed: every enabled plugin)."""

    model = BotPlugin
    fk_name = "bot"
    extra = 0
    fields = ["plugin", "policy"]
    autocomplete_fields = ["plugin"]
    verbose_name = gettext_lazy("plugin it offers")
    verbose_name_plural = gettext_lazy("plugins it offers (none listed: every enabled plugin)")


class PluginOffersInline(admin.TabularInline):
    """On a plugin's page: the bots that name it among their plugins."""

    model = BotPlugin
    fk_name = "plugin"
    extra = 0
    fields = ["bot", "policy"]
    verbose_name = gettext_lazy("bot that offers it")
    verbose_name_plural = gettext_lazy("bots that offer it (a bot that lists none offers every enabled plugin)")


def _counts(recent: int, total: int) -> str:
    return _("%(recent)d in 24 h · %(total)d in all") % {"recent": recent, "total": total}


def plugin_rows(bot: Bot) -> Rows:
    """What the bot offers, how many users it knows, how many plugin runs it made and how many failed."""
    since = timezone.now() - WINDOW
    offers = list(BotPlugin.objects.filter(bot=bot).select_related("plugin").order_by("plugin__name"))
    if offers:
        offered = ", ".join(
            f"{offer.plugin.name} ({offer.get_policy_display()})" if offer.policy else offer.plugin.name
            for offer in offers
        )
    else:
        offered = _("every enabled plugin")
    runs = Invocation.objects.filter(bot=bot).aggregate(
        total=Count("pk"),
        recent=Count("pk", filter=Q(queued_at__gte=since)),
        failed=Count("pk", filter=Q(status__in=FAULTS)),
        failed_recent=Count("pk", filter=Q(status__in=FAULTS, queued_at__gte=since)),
    )
    return [
        (_("Plugins offered"), offered),
        (_("Users"), str(BotUser.objects.filter(bot=bot).count())),
        (_("Plugin runs"), _counts(runs["recent"], runs["total"])),
        (_("Plugin runs failed"), _counts(runs["failed_recent"], runs["failed"])),
    ]


def bots_column(bots: Sequence[Bot]) -> dict[int, str]:
    """The bots of one list page whose plugin runs failed in the last 24 hours: one query."""
    since = timezone.now() - WINDOW
    failed = dict(
        Invocation.objects.filter(bot__in=[bot.pk for bot in bots], status__in=FAULTS, queued_at__gte=since)
        .values_list("bot")
        .annotate(n=Count("pk"))
        .values_list("bot", "n")
    )
    return {pk: _("%(count)d plugin runs failed in 24 h") % {"count": count} for pk, count in failed.items()}
