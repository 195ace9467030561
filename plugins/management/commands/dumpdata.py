"""``manage.py dumpdata``, leaving secrets out unless asked for.

Django's own command, with one change: the models that hold secrets (plugin secrets and
bots' identities) are excluded unless ``--secrets`` is given or the model is named
(``dumpdata plugins.PluginSecret``). The values are sealed either way; a dump with them
loads only where the same ``PLUGIN_SECRETS_KEY`` is set.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.core.management.base import CommandParser
from django.core.management.commands import dumpdata
from django.db import DEFAULT_DB_ALIAS, DatabaseError

# By label: the plugins app does not import the bots app.
SECRETS = ("plugins.PluginSecret", "bots.BotKey")


class Command(dumpdata.Command):
    help = f"{dumpdata.Command.help} Plugin secrets and bot identities are left out unless --secrets is given."

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument(
            "--secrets",
            action="store_true",
            help="include plugin secrets and bot identities (sealed; they load only under the same PLUGIN_SECRETS_KEY)",
        )

    def handle(self, *app_labels: str, **options: Any) -> None:
        named = {label.lower() for label in app_labels}
        for label in SECRETS:
            if options.get("secrets") or label.lower() in named:
                continue
            options["exclude"] = [*(options.get("exclude") or []), label]
            try:
                model = apps.get_model(label)
                count = model._default_manager.using(options.get("database") or DEFAULT_DB_ALIAS).count()
            except (DatabaseError, LookupError):
                count = 0  # not migrated yet (or no such app): Django's own command says what is wrong
            if count:
                self.stderr.write(f"{label}: {count} left out (add --secrets to include them)")
        super().handle(*app_labels, **options)
