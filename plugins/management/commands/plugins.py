"""``manage.py plugins``: list, reload, enable, disable, activate, roll back, health, watch, secrets,
install, and which plugins each bot offers."""

from __future__ import annotations

import getpass
import sys
from argparse import ArgumentParser
from typing import IO, Any

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from plugins import lifecycle
from plugins.execution import hosts_start_here
from plugins.health import health_checks_run
from plugins.install import plugin_install, plugin_uninstall, plugin_upgrade
from plugins.installplan import InstallError
from plugins.models import Policy
from plugins.offers import OfferError, bot_plugins_list, bot_plugins_offer, bot_plugins_withdraw
from plugins.sandbox.system import size_format
from plugins.secrets import (
    SecretError,
    plugin_runs_inline,
    plugin_secret_set,
    plugin_secret_unset,
    plugin_secrets_list,
    plugin_secrets_rekey,
)
from plugins.tasks import health_checks_run_task
from plugins.watcher import watch_forever


class Command(BaseCommand):
    help = (
        "Operate plugins: list them, reload their code, enable, disable, activate or roll back versions, "
        "set their secrets."
    )
    stealth_options = ("stdin",)  # where a secret's value is read from (tests pass their own)

    def add_arguments(self, parser: ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("list", help="plugins with version, state, health and error rate")
        for action in ("reload", "enable", "disable", "rollback"):
            sub.add_parser(action, help=f"{action} a plugin").add_argument("name")
        activate = sub.add_parser("activate", help="make an installed version the active one")
        activate.add_argument("name")
        activate.add_argument("version")
        sub.add_parser("health", help="run every plugin's health check now")
        sub.add_parser("watch", help="reload plugins whenever their files change (Ctrl-C stops)")
        install = sub.add_parser("install", help="install a plugin from a folder, git repository, package or archive")
        install.add_argument("source")
        install.add_argument("--ref", default="", help="git tag, branch or commit")
        install.add_argument("--no-activate", action="store_true", help="install, but leave the serving version active")
        sub.add_parser("upgrade", help="fetch a plugin's source again and install what it is now").add_argument("name")
        uninstall = sub.add_parser("uninstall", help="remove a plugin and its versions (its data stays)")
        uninstall.add_argument("name")
        uninstall.add_argument("--purge", action="store_true", help="remove its data folder too")
        secret = sub.add_parser(
            "secret",
            help="set a plugin's secret from stdin (NAME KEY), remove it (--unset), or list its names (NAME)",
        )
        secret.add_argument("name", help="the plugin")
        secret.add_argument(
            "key", nargs="?", default="", help="the variable, such as OPENAI_API_KEY (none: list the names)"
        )
        secret.add_argument("--unset", action="store_true", help="remove the secret")
        sub.add_parser("rekey", help="encrypt every plugin secret again under the first PLUGIN_SECRETS_KEY")
        offer = sub.add_parser("offer", help="let a bot offer plugins (a bot that names none offers every one)")
        offer.add_argument("bot", help="the bot's name")
        offer.add_argument("plugins", nargs="+", metavar="plugin")
        offer.add_argument(
            "--policy",
            choices=[*Policy.values, "default"],
            help="who may use them with this bot (default: the plugin's own policy; unset: keep what it was)",
        )
        withdraw = sub.add_parser("withdraw", help="stop a bot offering plugins")
        withdraw.add_argument("bot", help="the bot's name")
        withdraw.add_argument("plugins", nargs="+", metavar="plugin")
        sub.add_parser("offers", help="the plugins a bot offers, with its policies").add_argument("bot")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "list":
            self._list()
        elif action == "health" and not hosts_start_here():
            # Checks run plugin code: a process that may not start plugin hosts asks a worker.
            health_checks_run_task.delay(True)
            self.stdout.write(_("The health checks were handed to a worker; list the plugins to see them."))
        elif action == "health":
            ran = health_checks_run(force=True)
            self.stdout.write(
                ngettext("%(count)d health check ran.", "%(count)d health checks ran.", ran) % {"count": ran}
            )
            self._list()
        elif action == "watch":
            watch_forever()
        elif action == "rekey":
            try:
                count = plugin_secrets_rekey()
            except SecretError as exc:
                raise CommandError(str(exc)) from None
            again = ngettext("%(count)d secret encrypted again.", "%(count)d secrets encrypted again.", count)
            self.stdout.write(self.style.SUCCESS(again % {"count": count}))
        elif action == "secret":
            try:
                self._secret(options["name"], options["key"], unset=options["unset"], stdin=options.get("stdin"))
            except SecretError as exc:
                raise CommandError(str(exc)) from None
        elif action in ("install", "upgrade", "uninstall"):
            self._install(action, options)
        elif action in ("offer", "withdraw", "offers"):
            try:
                self._offers(action, options)
            except OfferError as exc:
                raise CommandError(str(exc)) from None
        else:
            try:
                name, version = options["name"], options.get("version") or ""
                message = lifecycle.plugin_action(action=action, name=name, version=version)
            except lifecycle.LifecycleError as exc:
                raise CommandError(str(exc)) from None
            self.stdout.write(self.style.SUCCESS(message))

    def _progress(self, step: str, line: str) -> None:
        self.stdout.write(f"{step}: {line}")

    def _install(self, action: str, options: dict[str, Any]) -> None:
        try:
            if action == "install":
                version = plugin_install(
                    source=options["source"],
                    ref=options["ref"],
                    activate=not options["no_activate"],
                    progress=self._progress,
                )
            elif action == "upgrade":
                version = plugin_upgrade(name=options["name"], progress=self._progress)
            else:
                self.stdout.write(self.style.SUCCESS(plugin_uninstall(name=options["name"], purge=options["purge"])))
                return
        except InstallError as exc:
            failed = _("%(action)s failed at step %(step)s: %(error)s")
            raise CommandError(failed % {"action": action, "step": exc.step, "error": exc.message}) from None
        self.stdout.write(self.style.SUCCESS(f"{version} ({version.source_kind} {version.resolved[:12]})"))

    def _offers(self, action: str, options: dict[str, Any]) -> None:
        bot = options["bot"]
        if action == "offer":
            policy = options["policy"]
            bot_plugins_offer(bot=bot, plugins=options["plugins"], policy="" if policy == "default" else policy)
        elif action == "withdraw" and not bot_plugins_withdraw(bot=bot, plugins=options["plugins"]):
            self.stdout.write(_("The bot %(bot)s did not name these plugins.") % {"bot": bot})
        offered = bot_plugins_list(bot=bot)
        if offered is None:
            self.stdout.write(
                _("The bot %(bot)s offers every enabled plugin, each with its own policy.") % {"bot": bot}
            )
            return
        self.stdout.write(_("The bot %(bot)s offers these plugins only:") % {"bot": bot})
        width = max(len(row.plugin) for row in offered)
        for row in offered:
            policy = row.policy or _("%(policy)s (the plugin's)") % {"policy": row.default_policy}
            state = "" if row.enabled else "  " + _("(plugin disabled)")
            self.stdout.write(f"  {row.plugin:<{width}}  {policy}{state}")

    def _list(self) -> None:
        rows = lifecycle.plugins_overview(environments=True)
        # Each column as wide as its widest cell, so a long state (reload-failed) keeps them aligned.
        table = [("plugin", "version", "enabled", "state", "errors/h", "env", "health")]
        table += [
            (
                row["name"],
                row["version"] or "-",
                "yes" if row["enabled"] else "no",
                row["load_state"],
                f"{row['error_rate']:.0%}",
                _environment_cell(row),
                row["health"],
            )
            for row in rows
        ]
        widths = [max(len(cells[i]) for cells in table) for i in range(6)]
        errors = [""] + [row["last_error"] for row in rows]
        for cells, error in zip(table, errors, strict=True):
            self.stdout.write(
                " ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=False)) + " " + cells[6]
            )
            if error:
                self.stdout.write(f"{'':<{widths[0]}} last error: {error}")

    def _secret(self, name: str, key: str, *, unset: bool, stdin: IO[str] | None) -> None:
        if not key:
            if unset:
                raise CommandError(_("Name the secret to remove: plugins secret NAME KEY --unset"))
            rows = plugin_secrets_list(plugin=name)
            if not rows:
                self.stdout.write(_("Plugin %(plugin)s has no secrets.") % {"plugin": name})
            for secret, updated_at in rows:
                when = f"{updated_at:%Y-%m-%d %H:%M:%S %Z}"
                self.stdout.write(_("%(key)s  set %(when)s") % {"key": secret, "when": when})
            return
        if unset:
            if not plugin_secret_unset(plugin=name, key=key):
                raise CommandError(_("Plugin %(plugin)s has no secret %(key)s.") % {"plugin": name, "key": key})
            self.stdout.write(self.style.SUCCESS(_("%(key)s removed; the plugin's hosts restart.") % {"key": key}))
            return
        value = secret_read(stream=stdin or sys.stdin, prompt=f"{key}: ")
        if not value:
            raise CommandError(_("No value given on stdin; nothing changed."))
        plugin_secret_set(plugin=name, key=key, value=value)
        self.stdout.write(self.style.SUCCESS(_("%(key)s set; the plugin's hosts restart.") % {"key": key}))
        if plugin_runs_inline(plugin=name):
            self.stderr.write(
                _("%(plugin)s runs inline: inline plugins get no secrets; give it isolation: host.") % {"plugin": name}
            )


def secret_read(*, stream: IO[str], prompt: str) -> str:
    """The value: typed without echo on a terminal, else everything piped in, without the
    line break that ``echo`` or a file ends it with."""
    if stream.isatty():
        return getpass.getpass(prompt)
    value = stream.read()
    return value.removesuffix("\n").removesuffix("\r")


def _environment_cell(row: dict[str, Any]) -> str:
    """The size of the version's own environment; ``-``: it runs on the bot's interpreter."""
    if not row["environment"]:
        return "-"
    size = row["environment_size"]
    return "missing" if size is None else size_format(size)
