"""Plugin secrets: encrypted at rest, set from stdin or plugins.yaml, left out of dumps,
and a change to one restarts that plugin's hosts."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from plugins.execution import version_generation
from plugins.manifest import manifest_parse
from plugins.models import Plugin, PluginSecret, PluginVersion
from plugins.secrets import (
    SecretError,
    entry_env_store,
    plugin_secret_set,
    plugin_secret_unset,
    plugin_secrets_env,
    plugin_secrets_list,
)
from tests.conftest import ROOT, worker_env

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("plugin_secrets_key")]

VALUE = "sk-live-9f8e7d6c5b4a"


@pytest.fixture
def llm() -> Plugin:
    plugin = Plugin.objects.create(name="llm")
    PluginVersion.objects.create(plugin=plugin, version="1.0.0", entrypoint="llm:Llm")
    return plugin


def test_a_secret_is_stored_encrypted_and_given_back_for_the_host(llm) -> None:
    plugin_secret_set(plugin="llm", key="OPENAI_API_KEY", value=VALUE)
    row = PluginSecret.objects.get(plugin=llm, key="OPENAI_API_KEY")
    assert VALUE not in row.ciphertext
    assert plugin_secrets_env(plugin="llm") == (("OPENAI_API_KEY", VALUE),)


def test_setting_a_secret_again_replaces_it_and_unset_removes_it(llm) -> None:
    plugin_secret_set(plugin="llm", key="K", value="one")
    plugin_secret_set(plugin="llm", key="K", value="two")
    assert plugin_secrets_env(plugin="llm") == (("K", "two"),)
    assert plugin_secret_unset(plugin="llm", key="K") is True
    assert plugin_secret_unset(plugin="llm", key="K") is False
    assert plugin_secrets_env(plugin="llm") == ()


def test_secrets_belong_to_one_plugin(llm) -> None:
    Plugin.objects.create(name="other")
    plugin_secret_set(plugin="llm", key="K", value=VALUE)
    assert plugin_secrets_env(plugin="other") == ()


@pytest.mark.parametrize(("key", "value"), [("PYTHONPATH", "/tmp"), ("BAD-NAME", "x"), ("K", "a\x00b")])
def test_a_bad_name_or_value_is_refused_without_echoing_the_value(llm, key, value) -> None:
    with pytest.raises(SecretError) as caught:
        plugin_secret_set(plugin="llm", key=key, value=value)
    assert value not in str(caught.value)
    assert not PluginSecret.objects.exists()


def test_a_secret_of_an_unknown_plugin_is_refused() -> None:
    with pytest.raises(SecretError, match="No plugin is named nope"):
        plugin_secret_set(plugin="nope", key="K", value="v")


def test_a_value_stored_under_another_key_is_reported_by_name_not_value(llm, settings) -> None:
    plugin_secret_set(plugin="llm", key="K", value=VALUE)
    settings.PLUGIN_SECRETS_KEY = "another-key-of-at-least-32-characters!!"
    with pytest.raises(SecretError, match="The secret K of plugin llm cannot be decrypted") as caught:
        plugin_secrets_env(plugin="llm")
    assert VALUE not in str(caught.value)


def test_an_older_key_still_decrypts_after_a_key_rotation(llm, settings) -> None:
    old = settings.PLUGIN_SECRETS_KEY
    plugin_secret_set(plugin="llm", key="K", value=VALUE)
    settings.PLUGIN_SECRETS_KEY = f"a-new-key-of-at-least-32-characters-long,{old}"
    assert plugin_secrets_env(plugin="llm") == (("K", VALUE),)


def test_without_a_key_secrets_are_refused_and_plugins_without_secrets_are_unaffected(llm, settings) -> None:
    settings.PLUGIN_SECRETS_KEY = ""
    with pytest.raises(SecretError, match="need PLUGIN_SECRETS_KEY"):
        plugin_secret_set(plugin="llm", key="K", value=VALUE)
    assert plugin_secrets_env(plugin="llm") == ()


def _generation(plugin: Plugin) -> str:
    version = PluginVersion.objects.select_related("plugin").get(plugin=plugin)
    return version_generation(version=version, digest="d")


def test_setting_or_removing_a_secret_changes_the_plugins_host_generation(llm) -> None:
    Plugin.objects.create(name="other")
    before = _generation(llm)
    plugin_secret_set(plugin="llm", key="K", value="one")
    after_set = _generation(llm)
    plugin_secret_set(plugin="llm", key="K", value="two")
    after_rotate = _generation(llm)
    plugin_secret_unset(plugin="llm", key="K")
    after_unset = _generation(llm)
    assert len({before, after_set, after_rotate, after_unset}) == 4
    other = Plugin.objects.get(name="other")
    assert other.updated_at < Plugin.objects.get(name="llm").updated_at  # only that plugin restarts


def test_env_from_an_entry_is_stored_and_an_unchanged_value_restarts_nothing(llm) -> None:
    assert entry_env_store(plugin="llm", env={"A": "1", "B": "2"}) == ("A", "B")
    stamp = Plugin.objects.get(name="llm").updated_at
    assert entry_env_store(plugin="llm", env={"A": "1", "B": "2"}) == ()
    assert Plugin.objects.get(name="llm").updated_at == stamp
    assert entry_env_store(plugin="llm", env={"A": "1", "B": "3"}) == ("B",)
    assert Plugin.objects.get(name="llm").updated_at > stamp
    assert dict(plugin_secrets_env(plugin="llm")) == {"A": "1", "B": "3"}


# --- the command line -----------------------------------------------------------------


def _cli(*args: str, stdin: str = "") -> str:
    out = io.StringIO()
    call_command("plugins", "secret", *args, stdin=io.StringIO(stdin), stdout=out)
    return out.getvalue()


def test_plugins_secret_reads_the_value_from_stdin_and_lists_names_only(llm) -> None:
    assert "OPENAI_API_KEY set" in _cli("llm", "OPENAI_API_KEY", stdin=VALUE + "\n")
    assert plugin_secrets_env(plugin="llm") == (("OPENAI_API_KEY", VALUE),)  # echo's line break dropped
    listing = _cli("llm")
    assert "OPENAI_API_KEY" in listing
    assert VALUE not in listing
    assert "OPENAI_API_KEY removed" in _cli("llm", "OPENAI_API_KEY", "--unset")
    assert "has no secrets" in _cli("llm")


def test_plugins_secret_refuses_an_empty_value_and_an_unknown_secret(llm) -> None:
    with pytest.raises(CommandError, match="No value given"):
        _cli("llm", "K", stdin="")
    with pytest.raises(CommandError, match="has no secret K"):
        _cli("llm", "K", "--unset")
    with pytest.raises(CommandError, match="not a variable name"):
        _cli("llm", "9K", stdin="v")


def test_plugins_secret_warns_that_an_inline_plugin_gets_none(llm) -> None:
    version = PluginVersion.objects.get(plugin=llm)
    PluginVersion.objects.filter(pk=version.pk).update(isolation=PluginVersion.Isolation.INLINE)
    Plugin.objects.filter(pk=llm.pk).update(active_version=version)
    err = io.StringIO()
    call_command("plugins", "secret", "llm", "K", stdin=io.StringIO("v"), stdout=io.StringIO(), stderr=err)
    assert "llm runs inline: inline plugins get no secrets" in err.getvalue()


@pytest.mark.django_db(transaction=True)
def test_plugins_secret_takes_a_value_piped_into_manage_py(llm) -> None:
    result = subprocess.run(
        [sys.executable, "manage.py", "plugins", "secret", "llm", "TOKEN_X"],
        input=VALUE,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=worker_env(),
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert VALUE not in result.stdout + result.stderr
    assert plugin_secrets_env(plugin="llm") == (("TOKEN_X", VALUE),)


@pytest.mark.django_db(transaction=True)
def test_plugins_secret_on_a_terminal_does_not_echo_the_value(llm) -> None:
    import pty

    pid, fd = pty.fork()
    if pid == 0:  # the child: manage.py on a terminal, as an operator runs it
        env = worker_env()
        os.chdir(ROOT)
        os.execve(sys.executable, [sys.executable, "manage.py", "plugins", "secret", "llm", "TYPED"], env)
    seen = b""
    while b"TYPED:" not in seen:
        seen += os.read(fd, 1024)
    os.write(fd, VALUE.encode() + b"\n")
    while True:
        try:
            chunk = os.read(fd, 1024)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, seen
    assert VALUE.encode() not in seen
    assert b"TYPED set" in seen
    assert plugin_secrets_env(plugin="llm") == (("TYPED", VALUE),)


# --- exports -----------------------------------------------------------------------------


def _dump(*args: str) -> list[dict[str, object]]:
    out, err = io.StringIO(), io.StringIO()
    call_command("dumpdata", *args, stdout=out, stderr=err)
    return list(json.loads(out.getvalue()))


def test_dumpdata_leaves_secrets_out_unless_asked(llm) -> None:
    plugin_secret_set(plugin="llm", key="K", value=VALUE)
    models = {row["model"] for row in _dump("plugins")}
    assert "plugins.plugin" in models
    assert "plugins.pluginsecret" not in models
    assert "plugins.pluginsecret" not in {row["model"] for row in _dump()}
    assert "plugins.pluginsecret" in {row["model"] for row in _dump("plugins", "--secrets")}
    asked = _dump("plugins.PluginSecret")
    assert [row["model"] for row in asked] == ["plugins.pluginsecret"]
    assert VALUE not in json.dumps(asked)  # and even then, encrypted


# --- plugins.yaml's env: ------------------------------------------------------------------

ENTRY = """
plugins:
  - name: llm
    version: "1.0.0"
    entrypoint: {entrypoint}
    env:
      {env}
"""


def test_env_in_an_entry_is_read_but_never_dumped_or_shown() -> None:
    text = ENTRY.format(entrypoint="llm:Llm", env=f"- OPENAI_API_KEY: {VALUE}\n      - URL: http://llm")
    entry = manifest_parse(text=text, file="plugins.yaml").plugins[0]
    assert entry.env == {"OPENAI_API_KEY": VALUE, "URL": "http://llm"}
    assert "env" not in entry.model_dump(mode="json")  # the version's manifest and checksum
    assert VALUE not in repr(entry)


def test_a_bad_env_in_an_entry_names_the_entry_and_field() -> None:
    from plugins.manifest import ManifestError

    with pytest.raises(ManifestError, match=r"entry 1 \(llm\): env: PYTHONPATH is set by the platform"):
        manifest_parse(text=ENTRY.format(entrypoint="llm:Llm", env="PYTHONPATH: /x"), file="plugins.yaml")


LLM_CODE = """
import os

from plugins.api import Context, Plugin, Reply, command

KEY = os.environ["LLM_KEY"]  # read as the module loads, as many older plugins do


class Llm(Plugin):
    @command("ask", summary="Asks the model")
    def ask(self, ctx: Context) -> Reply:
        return Reply("ok")
"""


@pytest.mark.django_db(transaction=True)
def test_importplugins_stores_env_as_secrets_and_the_code_check_sees_them(tmp_path: Path, settings) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (root / "llmplug.py").write_text(textwrap.dedent(LLM_CODE))
    settings.PLUGIN_ROOTS = [root]
    path = tmp_path / "plugins.yaml"
    path.write_text(ENTRY.format(entrypoint="llmplug:Llm", env=f"LLM_KEY: {VALUE}"))
    out = io.StringIO()
    call_command("importplugins", str(path), stdout=out, stderr=out)
    assert "created: llm 1.0.0" in out.getvalue(), out.getvalue()
    assert VALUE not in out.getvalue()
    assert plugin_secrets_env(plugin="llm") == (("LLM_KEY", VALUE),)
    version = PluginVersion.objects.get(plugin__name="llm")
    assert VALUE not in json.dumps(version.manifest)
    assert [name for name, _ in plugin_secrets_list(plugin="llm")] == ["LLM_KEY"]
    # Only the value changes: the entry is unchanged, its secret is not.
    path.write_text(ENTRY.format(entrypoint="llmplug:Llm", env="LLM_KEY: rotated"))
    call_command("importplugins", str(path), stdout=io.StringIO(), stderr=io.StringIO())
    assert plugin_secrets_env(plugin="llm") == (("LLM_KEY", "rotated"),)


def test_rekey_moves_every_secret_to_the_new_key_without_restarting_hosts(llm, settings) -> None:
    old = settings.PLUGIN_SECRETS_KEY
    plugin_secret_set(plugin="llm", key="K", value=VALUE)
    stamp = Plugin.objects.get(name="llm").updated_at
    new = "a-new-key-of-at-least-32-characters-long"
    settings.PLUGIN_SECRETS_KEY = f"{new},{old}"
    out = io.StringIO()
    call_command("plugins", "rekey", stdout=out)
    assert "1 secret encrypted again." in out.getvalue()
    settings.PLUGIN_SECRETS_KEY = new  # the old key dropped
    assert plugin_secrets_env(plugin="llm") == (("K", VALUE),)
    assert Plugin.objects.get(name="llm").updated_at == stamp


@pytest.mark.django_db(transaction=True)
def test_an_install_loads_code_that_reads_its_stored_secret_as_it_loads(tmp_path: Path) -> None:
    folder = tmp_path / "llm-src"
    (folder / "llmsrc").mkdir(parents=True)
    without_key = "\n".join(line for line in LLM_CODE.splitlines() if "LLM_KEY" not in line)
    (folder / "llmsrc" / "__init__.py").write_text(textwrap.dedent(without_key))
    (folder / "sessionbot-plugin.yaml").write_text("name: llm\nversion: '1.0.0'\nentrypoint: llmsrc:Llm\n")
    call_command("plugins", "install", str(folder), stdout=io.StringIO())
    plugin_secret_set(plugin="llm", key="LLM_KEY", value=VALUE)
    # The next version refuses to load without its key, as a client built at import would.
    (folder / "llmsrc" / "__init__.py").write_text(textwrap.dedent(LLM_CODE))
    (folder / "sessionbot-plugin.yaml").write_text("name: llm\nversion: '1.1.0'\nentrypoint: llmsrc:Llm\n")
    out = io.StringIO()
    call_command("plugins", "install", str(folder), stdout=out)
    assert "llm 1.1.0" in out.getvalue()
    assert VALUE not in out.getvalue()
    serving = Plugin.objects.get(name="llm").active_version
    assert serving is not None
    assert serving.version == "1.1.0"
