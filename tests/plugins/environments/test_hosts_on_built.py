"""Plugin hosts on environments built here: the builder and the hosts agree on where an
environment is and what it holds (real uv, real hosts, bubblewrap as root)."""

from __future__ import annotations

from pathlib import Path

import pytest

from plugins.environments.build import environment_build, requirements_lock
from tests.plugins.conftest import ask, install, user
from tests.plugins.environments.conftest import LIBRARY

pytestmark = pytest.mark.django_db

PLUGIN = f"""
import {LIBRARY}
from plugins.api import Context, Plugin, Reply, command


class Lib(Plugin):
    @command("{{name}}")
    def version(self, ctx: Context) -> Reply:
        return Reply("{{name}} has " + {LIBRARY}.VERSION)
"""


def _plugin_on(root: Path, wheelhouse: Path, *, name: str, version: str) -> None:
    pins = requirements_lock(
        requirements=[f"{LIBRARY}=={version}"],
        project=None,
        index_url=None,
        find_links=[str(wheelhouse)],
        progress=lambda *_: None,
    )
    env = environment_build(pins=pins, project=None, index_url=None, find_links=[str(wheelhouse)], progress=print)
    (root / name).mkdir()
    (root / name / "__init__.py").write_text(PLUGIN.replace("{name}", name))
    install(name, f"{name}:Lib", [name], pins=pins, environment=env.digest)


def test_two_plugins_answer_each_from_the_environment_built_for_it(
    data_dir: Path, wheelhouse: Path, plugin_roots: Path
) -> None:
    user()
    _plugin_on(plugin_roots, wheelhouse, name="libone", version="1.0")
    _plugin_on(plugin_roots, wheelhouse, name="libtwo", version="2.0")

    assert ask("/libone")[0] == "libone has 1.0"
    assert ask("/libtwo")[0] == "libtwo has 2.0"
