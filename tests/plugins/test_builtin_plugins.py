# ruff: noqa: RUF001 - full-width punctuation is correct in Chinese text
"""The built-in plugins, each in its own plugin host, answer what a chat user expects."""

from __future__ import annotations

import pytest

from bots.models import Bot
from plugins.models import BotGroup, BotUser, BuildState, Invocation, Plugin, PluginCommand, PluginVersion
from tests.plugins.conftest import ADMIN, USER, ask, derive, install, ran, user

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def builtins(plugin_roots) -> None:
    for name, entrypoint, commands in [
        ("ping", "sessionbot_builtin.ping:Ping", ["ping"]),
        ("echo", "sessionbot_builtin.echo:Echo", ["echo"]),
        ("help", "sessionbot_builtin.help:Help", ["help"]),
        ("whoami", "sessionbot_builtin.whoami:WhoAmI", ["whoami"]),
        ("lang", "sessionbot_builtin.lang:Lang", ["lang"]),
        ("plugins", "sessionbot_builtin.admin:PluginsAdmin", ["plugins"]),
    ]:
        derive(install(name, entrypoint, commands))
    Plugin.objects.filter(name="plugins").update(default_policy="admins")
    user(ADMIN, is_admin=True)


def test_ping_answers_pong() -> None:
    assert ask("/ping")[0] == "pong"


def test_echo_answers_its_argument_unchanged_however_long() -> None:
    text = "  spaced   out\n\tand long " * 400
    reply, inv = ask("/echo " + text)
    assert (reply, inv.status) == (text, Invocation.Status.OK)


def test_echo_without_text_gets_the_usage_line() -> None:
    reply, inv = ask("/echo")
    assert reply == "Usage: /echo <text…>"
    assert inv.status == Invocation.Status.ERROR


def test_help_lists_the_commands_this_user_may_run_with_their_summaries() -> None:
    reply, _ = ask("/help")
    assert reply.splitlines() == [
        "Commands you can use:",
        "/echo — Repeat your text",
        "/help — List the commands you may use, or explain one",
        "/lang — Show or choose the language the bot answers you in",
        "/ping — Check that the bot answers",
        "/whoami — Show your Session ID, language, role and groups",
        "Send /help COMMAND for details.",
    ]  # /plugins is for admins only


def test_help_lists_summaries_in_the_users_language_from_the_plugins_catalog() -> None:
    reply, _ = ask("/help", language="es")
    assert reply.startswith("Comandos que puedes usar:")
    assert "/ping — Comprueba que el bot responde" in reply
    assert "/echo — Repite tu texto" in reply


def test_help_for_one_command_shows_the_summary_the_docstring_and_the_usage_line() -> None:
    assert ask("/help /echo")[0] == (
        "Repeat your text\n\n"
        "/echo TEXT answers TEXT exactly as written, however long: spaces, new lines and all.\n\n"
        "Usage: /echo <text…>"
    )
    assert ask("/help echo", language="zh-hans")[0] == (
        "重复你的文字\n\n/echo 文本：原样回复文本，无论多长，空格和换行都保留。\n\n用法：/echo <text…>"
    )


def test_help_and_the_error_of_a_bare_command_show_the_same_usage_line() -> None:
    usage = ask("/echo")[0]
    assert usage == "Usage: /echo <text…>"
    assert ask("/help echo")[0].endswith("\n\n" + usage)


def test_a_reload_rederives_the_rows_that_someone_changed_in_the_database() -> None:
    PluginCommand.objects.filter(name="echo").update(summary="Something else", args=[])
    ask("/plugins reload echo", sender=ADMIN)
    echo = PluginCommand.objects.get(name="echo")
    assert echo.summary == "Repeat your text"
    assert echo.args == [{"name": "text", "type": "str", "required": True, "rest": True}]


def test_whoami_tells_session_id_language_role_and_groups() -> None:
    BotGroup.objects.create(name="staff").members.add(user(USER))
    BotGroup.objects.create(name="admins").members.add(user(USER))
    BotGroup.objects.create(name="others").members.add(user("05" + "ee" * 32))
    expected = f"Session ID: {USER}\nLanguage: en\nRole: user (not an admin)\nGroups: admins, staff"
    assert ask("/whoami")[0] == expected


def test_whoami_tells_an_admin_that_they_are_one() -> None:
    assert ask("/whoami", sender=ADMIN, language="es")[0] == (
        f"ID de Session: {ADMIN}\nIdioma: es\nRol: administrador\nGrupos: ninguno"
    )


def test_lang_sets_the_users_language() -> None:
    reply, _ = ask("/lang es")
    assert reply == "Tu idioma ahora es el español."
    assert BotUser.objects.get(session_id=USER).language == "es"


def test_lang_refuses_a_language_the_bot_does_not_speak() -> None:
    reply, inv = ask("/lang klingon")
    assert reply == "Unknown language klingon. Choose one of: en, es, zh-hans."
    assert inv.status == Invocation.Status.ERROR


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("en", "echo 2.0.0 did not build or load, so it cannot serve: no wheel"),
        ("es", "echo 2.0.0 no se construyó o no se cargó, así que no puede dar servicio: no wheel"),
        ("zh-hans", "echo 2.0.0 未能构建或加载，因此无法提供服务：no wheel"),
    ],
)
def test_an_admin_reads_why_a_version_cannot_be_activated_in_their_language(language, expected) -> None:
    echo = Plugin.objects.get(name="echo")
    PluginVersion.objects.create(
        plugin=echo, version="2.0.0", entrypoint="m:C", build_state=BuildState.FAILED, build_error="no wheel"
    )
    reply, inv = ask("/plugins activate echo 2.0.0", sender=ADMIN, language=language)
    assert (reply, inv.status) == (expected, Invocation.Status.ERROR)
    assert ran(ask("/echo hi")[1]) == "1.0.0"


def test_plugins_lists_version_and_health_for_admins() -> None:
    reply, _ = ask("/plugins", sender=ADMIN)
    assert "echo 1.0.0 (enabled, unknown) health: -; errors in the last hour: 0%" in reply


def test_plugins_refuses_users_who_are_not_admins() -> None:
    Plugin.objects.filter(name="plugins").update(default_policy="everyone")
    reply, _inv = ask("/plugins disable echo")
    assert reply == "Only the bot's admins may do that."
    assert Plugin.objects.get(name="echo").enabled


def test_an_admin_disables_and_enables_a_plugin_from_the_chat() -> None:
    assert ask("/plugins disable echo", sender=ADMIN)[0] == "echo disabled."
    assert not Plugin.objects.get(name="echo").enabled
    assert ask("/plugins enable echo", sender=ADMIN)[0] == "echo enabled."
    assert ask("/echo back")[0] == "back"


def test_a_new_version_changes_the_reply_and_an_admin_rolls_it_back_from_the_chat() -> None:
    derive(install("greeter", "fx_greeter_v1:Greeter", ["greet"], version="1.0.0"))
    derive(install("greeter", "fx_greeter_v2:Greeter", ["greet"], version="2.0.0"))
    reply, inv = ask("/greet Ana")
    assert (reply, ran(inv)) == ("Bonjour, Ana!", "2.0.0")
    assert ask("/plugins rollback greeter", sender=ADMIN)[0] == "greeter 1.0.0 is active."
    reply, inv = ask("/greet Ana")
    assert (reply, ran(inv)) == ("Hello, Ana!", "1.0.0")
    assert ask("/plugins activate greeter 2.0.0", sender=ADMIN)[0] == "greeter 2.0.0 is active."
    assert ask("/greet Ana")[0] == "Bonjour, Ana!"


def test_with_several_bots_only_admins_listed_in_the_config_manage_plugins_from_a_chat(settings) -> None:
    # Plugins serve every bot: an admin of one bot may not switch them off for the others.
    Bot.objects.create(name="family", session_id="05" + "fa" * 32)
    assert ask("/plugins disable echo", sender=ADMIN)[0].startswith("Plugins serve every bot of this deployment")
    assert Plugin.objects.get(name="echo").enabled
    settings.BOT_CONFIG = settings.BOT_CONFIG.model_copy(update={"admins": (ADMIN,)})
    assert ask("/plugins disable echo", sender=ADMIN)[0] == "echo disabled."
