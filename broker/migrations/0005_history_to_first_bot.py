"""Give the messages of an install from before bots to its first bot."""

from typing import Any

from django.db import migrations

from bots.adoption import history_bot_id


def history_assign(apps: Any, schema_editor: Any) -> None:
    inbound = apps.get_model("broker", "InboundMessage").objects.filter(bot__isnull=True)
    outbound = apps.get_model("broker", "OutboundMessage").objects.filter(bot__isnull=True)
    bot_id = history_bot_id(apps, has_history=inbound.exists() or outbound.exists())
    if bot_id is not None:
        inbound.update(bot_id=bot_id)
        outbound.update(bot_id=bot_id)


class Migration(migrations.Migration):
    dependencies = [
        ("bots", "0001_initial"),
        ("plugins", "0010_history_to_first_bot"),
        ("broker", "0004_bots_added"),
    ]

    operations = [migrations.RunPython(history_assign, migrations.RunPython.noop)]
