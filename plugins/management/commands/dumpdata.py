"""``manage.py dumpdata``, leaving plugin secrets out unless asked for.

Django's own command, with one change: ``plugins.PluginSecret`` is excluded unless
``--secrets`` is given or the model is named (``dumpdata plugins.PluginSecret``). The
values are encrypted either way; a dump with them loads only where the same
``PLUGIN_SECRETS_KEY`` is set.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser
from django.core.management.commands import dumpdata
from django.db import DEFAULT_DB_ALIAS, DatabaseError

from plugins.models import PluginSecret

SECRETS = "plugins.PluginSecret"


class Command(dumpdata.Command):
    help = f"{dumpdata.Command.help} Plugin secrets are left out unless --secrets is given."

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument(
            "--secrets",
            action="store_true",
            help="include plugin secrets (encrypted; they load only under the same PLUGIN_SECRETS_KEY)",
        )

    def handle(self, *app_labels: str, **options: Any) -> None:
        named = any(label.lower() == SECRETS.lower() for label in app_labels)
        if not options.get("secrets") and not named:
            options["exclude"] = [*(options.get("exclude") or []), SECRETS]
            try:
                count = PluginSecret.objects.using(options.get("database") or DEFAULT_DB_ALIAS).count()
            except DatabaseError:
                count = 0  # not migrated yet: Django's own command says what is wrong
            if count:
                self.stderr.write(f"{SECRETS}: {count} left out (add --secrets to include them)")
        super().handle(*app_labels, **options)
