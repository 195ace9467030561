"""Plugin hosts on their version's own environment (real uv, real hosts, real bubblewrap
as root): two plugins needing two versions of one library answer side by side, and a
host imports nothing of the platform but the plugin runtime."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command

from plugins.environments.store import environment_path, environment_size
from plugins.execution import (
    plugin_data_dir,
    pool_close,
    pool_hosts,
    version_host_spec,
)
from plugins.models import Invocation, PluginVersion
from plugins.sandbox.host import Host
from plugins.sandbox.system import size_format
from plugins.snapshots import version_code
from tests.plugins.conftest import ask, install, user
from tests.plugins.envhelpers import environment_make, wheel_write

pytestmark = pytest.mark.django_db
MODULES = (
    "django",
    "psutil",
    "broker",
    "sessionbot",
    "plugins.execution",
    "plugins.models",
    "plugins.sandbox.output",
    "bridgeprotocol",
)

PLUGIN = """
import importlib
import hashlib
import json
import sys
import time

import libdemo
from plugins.api import Context, Plugin, Reply, command


class Demo(Plugin):
    @command("{name}")
    def ver(self, ctx: Context) -> Reply:
        return Reply(f"{name} libdemo " + libdemo.VERSION)

    @command("{name}wait")
    def wait(self, ctx: Context) -> Reply:
        time.sleep(0.5)
        return Reply(f"{name} libdemo " + libdemo.VERSION)

    @command("{name}probe")
    def probe(self, ctx: Context) -> Reply:
        found = {{}}
        for module in {modules!r}:
            try:
                importlib.import_module(module)
                found[module] = "imported"
            except ImportError as exc:
                found[module] = type(exc).__name__
        found["api"] = Plugin.__module__
        found["python"] = sys.executable
        found["libdemo"] = libdemo.__file__
        found["path"] = sys.path
        return Reply(json.dumps(found))
"""


PTH = "import os, pathlib; pathlib.Path(os.environ['HOME'], 'pth-uid').write_text(str(os.getuid()))\n"


@pytest.fixture(scope="module")
def environments(tmp_path_factory) -> Iterator[dict[str, Path]]:
    """Two environments: libdemo 1.0 in one, libdemo 2.0 in the other (local wheels)."""
    tmp = tmp_path_factory.mktemp("envs")
    for version in ("1.0", "2.0"):
        files = {"libdemo/__init__.py": f"VERSION = {version!r}\n"}
        wheel_write(tmp / "wheels", name="libdemo", version=version, files=files)
    # A distribution whose .pth file runs code whenever site-packages is read: it records
    # the uid it ran as in the host's HOME (the plugin's own folder).
    wheel_write(tmp / "wheels", name="pthprobe", version="1.0", files={"pthprobe.pth": PTH})
    made = {}
    for version, requirements in (
        ("1.0", ["libdemo==1.0"]),
        ("2.0", ["libdemo==2.0"]),
        ("pth", ["libdemo==1.0", "pthprobe"]),
    ):
        folder = environment_path(demo_env(version))
        shutil.rmtree(folder, ignore_errors=True)
        environment_make(folder, wheels=tmp / "wheels", requirements=requirements, cache=tmp / "cache")
        made[version] = folder
    yield made
    for folder in made.values():
        shutil.rmtree(folder, ignore_errors=True)


def demo_env(version: str) -> str:
    """The digest the test names the libdemo ``version`` environment by."""
    return hashlib.sha256(f"test-hostenv-libdemo-{version}".encode()).hexdigest()


def demo(root: Path, name: str, version: str) -> PluginVersion:
    """A plugin ``name`` (package ``name``) whose version runs on the libdemo ``version`` env."""
    (root / name).mkdir()
    (root / name / "__init__.py").write_text(PLUGIN.format(name=name, modules=MODULES))
    commands = [name, f"{name}probe", f"{name}wait"]
    return install(name, f"{name}:Demo", commands, environment=demo_env(version))


@pytest.fixture
def demos(plugin_roots, environments) -> tuple[PluginVersion, PluginVersion]:
    user()
    return demo(plugin_roots, "demoone", "1.0"), demo(plugin_roots, "demotwo", "2.0")


def test_two_plugins_on_two_versions_of_one_library_answer_side_by_side(demos) -> None:
    assert ask("/demoone")[0] == "demoone libdemo 1.0"
    assert ask("/demotwo")[0] == "demotwo libdemo 2.0"
    hosts = pool_hosts()
    assert len(hosts) == 2
    assert all(host.proc.poll() is None for host in hosts)  # both running at once
    assert sorted(host.spec.python for host in hosts) == [
        str(environment_path(demo_env(v)) / "bin" / "python") for v in ("1.0", "2.0")
    ]
    assert ask("/demoone")[0] == "demoone libdemo 1.0"  # served by the same host again
    assert {host.pid for host in pool_hosts()} == {host.pid for host in hosts}


def _start(version: PluginVersion, *, confined: bool) -> Host:
    spec = version_host_spec(version=version, code=version_code(version=version).snapshot)
    if not confined:  # the path of a worker that is not root: no bubblewrap, its own user
        spec = replace(spec, sandbox=None, cgroups=False)
    return Host(spec)


@pytest.mark.parametrize("confined", [True, False], ids=["bwrap", "unconfined"])
def test_hosts_on_different_environments_answer_at_the_same_time(demos, confined) -> None:
    if confined and (shutil.which(settings.PLUGIN_BWRAP) is None or not _root()):
        pytest.skip("confined hosts need root and bubblewrap")
    hosts = [_start(version, confined=confined) for version in demos]
    answers: dict[str, str] = {}

    def run(host: Host) -> None:
        outcome = host.request(
            {"op": "run", "command": f"{host.spec.plugin}wait", "arguments": "", "ctx": _ctx(host.spec.plugin)},
            on_call=lambda m, a: None,
        )
        assert outcome.reply is not None, outcome.error
        answers[host.spec.plugin] = outcome.reply.text

    try:
        threads = [threading.Thread(target=run, args=(host,)) for host in hosts]
        start = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert time.monotonic() - start < 0.95  # each takes 0.5 s: they ran at the same time
        assert answers == {"demoone": "demoone libdemo 1.0", "demotwo": "demotwo libdemo 2.0"}
        assert all(host.proc.poll() is None for host in hosts)
    finally:
        for host in hosts:
            host.close()


def _root() -> bool:
    return os.geteuid() == 0


def _ctx(command: str) -> dict:
    return {
        "user_id": "05" + "ab" * 32,
        "conversation": "05" + "ab" * 32,
        "conversation_type": "private",
        "language": "en",
        "command": command,
        "config": {},
        "is_admin": False,
        "groups": [],
        "attachments": [],
    }


def test_a_host_on_its_environment_imports_only_the_plugin_runtime(demos) -> None:
    found = json.loads(ask("/demooneprobe")[0])
    # Refused by the host, and not to be found anyway.
    for module in ("django", "broker", "sessionbot"):
        assert found[module] in ("ModuleNotFoundError", "ImportError"), module
    # The bot's own packages are not in the environment; the rest of the project is not
    # in the runtime (these import fine from the project root, Django or not).
    for module in ("psutil", "plugins.execution", "plugins.models", "plugins.sandbox.output", "bridgeprotocol"):
        assert found[module] == "ModuleNotFoundError", module
    assert found["api"] == "plugins.api"
    env = environment_path(demo_env("1.0"))
    assert found["python"] == str(env / "bin" / "python")
    assert found["libdemo"].startswith(str(env))
    runtime = Path(settings.DATA_DIR) / "plugin-runtime"
    assert any(entry.startswith(str(runtime)) for entry in found["path"])
    assert str(settings.BASE_DIR) not in found["path"]


def test_a_version_whose_environment_is_not_on_this_machine_is_unavailable(plugin_roots) -> None:
    user()
    (plugin_roots / "demogone").mkdir()
    (plugin_roots / "demogone" / "__init__.py").write_text(PLUGIN.format(name="demogone", modules=MODULES))
    install("demogone", "demogone:Demo", ["demogone"], environment="test-hostenv-missing")
    reply, inv = ask("/demogone")
    assert reply == "Sorry, /demogone is unavailable right now. Please try again later."
    assert inv.status == Invocation.Status.FAILED
    assert "environment test-hostenv-missing is not on this machine" in inv.error
    pool_close()


def test_the_list_shows_each_versions_environment_size(demos) -> None:
    install("good", "fx_good:Good", ["good"])
    install("gone", "fx_good:Good", ["gonecmd"], environment="test-hostenv-missing")
    out = StringIO()
    call_command("plugins", "list", stdout=out)
    rows = {line.split()[0]: line.split() for line in out.getvalue().splitlines()}
    assert rows["plugin"][5] == "env"
    size = environment_size(demo_env("1.0"))
    assert size is not None
    assert size > 10_000  # an interpreter's links, pip's metadata, libdemo
    assert rows["demoone"][5] == size_format(size)
    assert rows["good"][5] == "-"  # the bot's own interpreter
    assert rows["gone"][5] == "missing"


@pytest.mark.parametrize(
    ("size", "text"),
    [
        (0, "0B"),
        (1023, "1023B"),
        (1024, "1K"),
        (512 * 1024, "512K"),
        (48 * 1024**2 + 200 * 1024, "48.2M"),
        (3 * 1024**3, "3.0G"),
    ],
)
def test_sizes_read_as_du_writes_them(size, text) -> None:
    assert size_format(size) == text


def test_an_environments_pth_files_run_only_once_the_host_is_the_plugins_uid(plugin_roots, environments) -> None:
    if shutil.which(settings.PLUGIN_BWRAP) is None or not _root():
        pytest.skip("a confined host needs root and bubblewrap")
    user()
    version = demo(plugin_roots, "demopth", "pth")
    marker = plugin_data_dir(name="demopth") / "pth-uid"
    marker.unlink(missing_ok=True)
    assert ask("/demopth")[0] == "demopth libdemo 1.0"
    # Run at the start of the interpreter, it would have been root (in the sandbox, before
    # the host drops to the plugin's uid), with every capability.
    assert marker.read_text() == str(settings.PLUGIN_UID_BASE + version.plugin.pk)
