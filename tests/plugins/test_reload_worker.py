"""Hot reload against a real Celery worker: the next invocation runs the new code,
submodules included; a failed reload keeps the previous code serving."""

from __future__ import annotations

from pathlib import Path

import pytest

from plugins.lifecycle import LifecycleError, plugin_reload
from plugins.models import Plugin, PluginVersion
from tests.conftest import wait_for
from tests.plugins.conftest import ask_worker, install

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

PLUGIN = """
from plugins.api import Context, Plugin, Reply, command
from hotpkg.words import WORD


class Hot(Plugin):
    @command("hot", summary="Says a word")
    def hot(self, ctx: Context) -> Reply:
        return Reply(WORD)
"""


def write(root: Path, word: str, *, broken: bool = False) -> None:
    pkg = root / "hotpkg"
    pkg.mkdir(exist_ok=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "plugin.py").write_text(PLUGIN + ("\ndef broken(:\n" if broken else ""))
    (pkg / "words.py").write_text(f"WORD = {word!r}\n")


@pytest.fixture(params=[PluginVersion.Isolation.HOST, PluginVersion.Isolation.INLINE])
def hot(request, plugin_roots, transactional_db) -> Path:
    write(plugin_roots, "one")
    install("hot", "hotpkg.plugin:Hot", ["hot"], isolation=request.param)
    return plugin_roots


def test_a_reload_runs_the_new_code_of_a_submodule_and_a_failed_one_keeps_the_old(hot, celery_worker) -> None:
    assert ask_worker("/hot")[0] == "one"
    write(hot, "two")
    assert ask_worker("/hot")[0] == "one"  # no reload yet: the running code stays
    plugin_reload(plugin=Plugin.objects.get(name="hot"))
    assert ask_worker("/hot")[0] == "two"

    write(hot, "three", broken=True)
    with pytest.raises(LifecycleError, match="the previous code keeps serving"):
        plugin_reload(plugin=Plugin.objects.get(name="hot"))
    assert "SyntaxError" in Plugin.objects.get(name="hot").last_error
    assert ask_worker("/hot")[0] == "two"


@pytest.fixture
def debug_worker(monkeypatch):
    monkeypatch.setenv("DEBUG", "true")


def test_with_debug_an_edit_on_disk_is_live_without_any_command(debug_worker, hot, celery_worker) -> None:
    assert ask_worker("/hot")[0] == "one"
    write(hot, "edited")
    # The worker's watcher reloads; wait for the generation to move, then ask.
    before = Plugin.objects.get(name="hot").updated_at
    assert wait_for(lambda: Plugin.objects.get(name="hot").updated_at != before, timeout=30)
    assert ask_worker("/hot")[0] == "edited"


DATA_PLUGIN = """
from pathlib import Path

from plugins.api import Context, Plugin, Reply, command


class Reads(Plugin):
    @command("reads", summary="Says what its data file says")
    def reads(self, ctx: Context) -> Reply:
        return Reply((Path(__file__).parent / "word.txt").read_text().strip())
"""


def test_with_debug_an_edit_of_a_data_file_is_live_too(
    debug_worker, plugin_roots, transactional_db, celery_worker
) -> None:
    pkg = plugin_roots / "datapkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text(DATA_PLUGIN)
    (pkg / "word.txt").write_text("first\n")
    install("reads", "datapkg:Reads", ["reads"])
    assert ask_worker("/reads")[0] == "first"
    (pkg / "word.txt").write_text("second\n")  # not a Python file: the watcher reloads for it too
    # The watcher may still be settling the install's own writes: wait for the edit's reload.
    assert wait_for(lambda: ask_worker("/reads")[0] == "second", timeout=45)
