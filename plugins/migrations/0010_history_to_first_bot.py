"""Give the users, invocations and grants of an install from before bots to its first bot."""

from typing import Any

from django.db import migrations

from bots.adoption import history_bot_id


def history_assign(apps: Any, schema_editor: Any) -> None:
    users = apps.get_model("plugins", "BotUser").objects.filter(bot__isnull=True)
    invocations = apps.get_model("plugins", "Invocation").objects.filter(bot__isnull=True)
    bot_id = history_bot_id(apps, has_history=users.exists() or invocations.exists())
    if bot_id is not None:
        users.update(bot_id=bot_id)
        invocations.update(bot_id=bot_id)


class Migration(migrations.Migration):
    dependencies = [
        ("bots", "0001_initial"),
        ("plugins", "0009_bots_added"),
    ]

    operations = [migrations.RunPython(history_assign, migrations.RunPython.noop)]
