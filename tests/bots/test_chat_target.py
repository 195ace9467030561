"""``manage.py chat`` talks to a bot named by its Session ID or by its name."""

from __future__ import annotations

import pytest
from django.core.management import CommandError

from bots.models import Bot
from broker.management.commands.chat import Command

pytestmark = pytest.mark.django_db

FAMILY = "05" + "fa" * 32


def test_a_bots_name_stands_for_its_session_id() -> None:
    Bot.objects.create(name="family", session_id=FAMILY)
    assert Command()._bot_id("family") == FAMILY
    assert Command()._bot_id(FAMILY) == FAMILY


def test_a_name_no_bot_has_is_refused() -> None:
    with pytest.raises(CommandError, match="nor a bot's name"):
        Command()._bot_id("ghost")
