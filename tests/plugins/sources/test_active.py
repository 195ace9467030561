"""source_policy: the running bot's plugin_sources, from settings.BOT_CONFIG."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings

from plugins.sources.active import source_cache, source_policy
from plugins.sources.policy import SourcePolicy, source_refusal
from plugins.sources.spec import Source
from sessionbot.botconfig import PluginSources


def test_the_bot_runs_with_the_configured_policy(monkeypatch) -> None:
    assert source_policy() == SourcePolicy()
    config = settings.BOT_CONFIG.model_copy(update={"plugin_sources": PluginSources(git=("gitlab.example",))})
    monkeypatch.setattr(settings, "BOT_CONFIG", config)
    assert source_policy().git == ("gitlab.example",)
    refusal = source_refusal(Source("git", "https://github.com/o/r"), source_policy())
    assert str(refusal) == "plugin_sources.git does not list https://github.com/o/r (it allows: gitlab.example)"


def test_git_clones_are_kept_in_the_data_folder() -> None:
    assert source_cache() == Path(settings.DATA_DIR) / "git-cache"
