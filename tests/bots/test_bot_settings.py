"""A bot's settings override config.yaml's and are checked as config.yaml is."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from bots.models import Bot
from sessionbot.botconfig import BotConfig, ConfigError, bot_config_apply
from tests.bots.conftest import SESSION_ID


def test_an_override_replaces_the_files_value_and_keeps_the_rest() -> None:
    config = bot_config_apply(base=BotConfig(chunk_size=500), overrides={"command_prefix": "!"})
    assert (config.command_prefix, config.chunk_size) == ("!", 500)


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"chunk_size": 100}, "chunk_size"),  # the deployment's, not a bot's
        ({"command_prefix": ""}, "command_prefix"),
        ({"admins": ["05zz"]}, "admins"),
        ({"default_language": "fr"}, "default_language"),
        ({"rate_limit": {"messages": 0}}, "rate_limit.messages"),
    ],
)
def test_a_bad_override_is_named(overrides: dict[str, object], named: str) -> None:
    with pytest.raises(ConfigError, match=f"^{named}: "):
        bot_config_apply(base=BotConfig(), overrides=overrides)


@pytest.mark.django_db
def test_the_model_refuses_settings_config_yaml_would_refuse() -> None:
    bot = Bot(name="help", session_id=SESSION_ID, settings={"languages": ["xx"]})
    with pytest.raises(ValidationError, match="languages"):
        bot.full_clean()
    Bot(name="help", session_id=SESSION_ID, settings={"languages": ["es"], "default_language": "es"}).full_clean()
