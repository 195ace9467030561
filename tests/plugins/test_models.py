"""Model validation and database constraints that keep the data an operator sees consistent."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import translation

from broker.models import InboundMessage
from plugins.models import (
    BotGroup,
    BotUser,
    PermissionGrant,
    Plugin,
    PluginCommand,
    PluginVersion,
)
from tests.thebot import the_bot

pytestmark = pytest.mark.django_db

GOOD_ID = "05" + "0123456789abcdef" * 4


@pytest.mark.parametrize(
    "session_id",
    [GOOD_ID, "05" + "f" * 64, "05" + "0" * 64],
)
def test_a_session_id_of_05_and_64_lowercase_hex_is_accepted(session_id) -> None:
    BotUser(bot=the_bot(), session_id=session_id).full_clean()


@pytest.mark.parametrize(
    "session_id",
    [
        "",
        "05",
        "05" + "a" * 63,  # one short
        "05" + "a" * 65,  # one long
        "15" + "a" * 64,  # blinded community ID
        "03" + "a" * 64,  # group ID
        "05" + "A" * 64,  # upper case
        "05" + "g" * 64,  # not hex
        "05" + "a" * 63 + "\n",
        " " + GOOD_ID[1:],
    ],
)
def test_anything_else_is_not_a_session_id(session_id) -> None:
    with pytest.raises(ValidationError) as caught:
        BotUser(bot=the_bot(), session_id=session_id).full_clean()
    assert "session_id" in caught.value.message_dict


def test_a_session_id_is_unique() -> None:
    BotUser.objects.create(bot=the_bot(), session_id=GOOD_ID)
    with pytest.raises(IntegrityError):
        BotUser.objects.create(bot=the_bot(), session_id=GOOD_ID)


@pytest.mark.parametrize(
    ("version", "problem"),
    [
        ("1.0.0", ""),
        ("2.0rc1", ""),
        ("1!2.0", ""),
        ("v-one", "is not a PEP 440 version"),
        ("v1", r"write 1\."),
        ("1.0.0-RC1", r"write 1\.0\.0rc1\."),
    ],
)
def test_plugin_versions_are_pep_440_in_normal_form(version, problem) -> None:
    plugin = Plugin.objects.create(name="p")
    candidate = PluginVersion(plugin=plugin, version=version, entrypoint="p:P")
    if not problem:
        candidate.full_clean()
    else:
        with pytest.raises(ValidationError, match=problem):
            candidate.full_clean()


@pytest.mark.parametrize(
    ("language", "field", "value", "message"),
    [
        ("es", "version", "v-one", "v-one no es una versión PEP 440"),
        ("zh-hans", "version", "v1", "写作 1"),
        ("es", "dependencies", {"base": "=>1"}, "no es una restricción de versión"),
        ("es", "requirements", ["requests >>= 2"], "no es un requisito PEP 508"),
    ],
)
def test_version_errors_speak_the_admin_users_language(language, field, value, message) -> None:
    plugin = Plugin.objects.create(name="p")
    fields = {"version": "1.0", field: value}
    with translation.override(language), pytest.raises(ValidationError, match=message):
        PluginVersion(plugin=plugin, entrypoint="p:P", **fields).full_clean()


def test_a_version_equal_by_pep_440_to_an_installed_one_is_refused() -> None:
    plugin = Plugin.objects.create(name="p")
    PluginVersion.objects.create(plugin=plugin, version="1.0.0", entrypoint="p:P")
    with pytest.raises(ValidationError, match=r"1 is the installed version 1\.0\.0"):
        PluginVersion(plugin=plugin, version="1", entrypoint="p:P").full_clean()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("dependencies", {"base": "=>1"}, "is not a version constraint"),
        ("dependencies", ["base"], "mapping of plugin name"),
        ("requirements", ["requests >>= 2"], "is not a PEP 508 requirement"),
        ("requirements", "requests", "list of PEP 508 strings"),
    ],
)
def test_dependencies_and_requirements_are_validated(field, value, message) -> None:
    plugin = Plugin.objects.create(name="p")
    with pytest.raises(ValidationError, match=message):
        PluginVersion(plugin=plugin, version="1.0", entrypoint="p:P", **{field: value}).full_clean()


def test_a_plugin_has_each_version_once() -> None:
    plugin = Plugin.objects.create(name="p")
    PluginVersion.objects.create(plugin=plugin, version="1.0", entrypoint="p:P")
    with pytest.raises(IntegrityError):
        PluginVersion.objects.create(plugin=plugin, version="1.0", entrypoint="p:P")


def test_a_version_has_each_command_once() -> None:
    version = PluginVersion.objects.create(plugin=Plugin.objects.create(name="p"), version="1", entrypoint="p:P")
    PluginCommand.objects.create(version=version, name="go")
    with pytest.raises(IntegrityError):
        PluginCommand.objects.create(version=version, name="go")


def test_a_command_name_is_lowercase() -> None:
    version = PluginVersion.objects.create(plugin=Plugin.objects.create(name="p"), version="1", entrypoint="p:P")
    with pytest.raises(ValidationError, match="A command name is lowercase"):
        PluginCommand(version=version, name="Go Now").full_clean()


@pytest.mark.parametrize(
    ("languages", "expected"),
    [
        (("es", "en", "en"), ("Tiempo", "El tiempo")),
        (("zh-hans", "en", "en"), ("天气", "/weather CITY")),  # no help in Chinese: English
        (("fr", "es", "en"), ("Tiempo", "El tiempo")),  # the bot's default language next
        (("fr", "en", "en"), ("Weather", "/weather CITY")),
    ],
)
def test_a_command_is_shown_in_the_first_language_that_has_it(languages, expected) -> None:
    command = PluginCommand(
        name="weather",
        summary="Weather",
        help="/weather CITY",
        docs={"es": {"summary": "Tiempo", "help": "El tiempo"}, "zh-hans": {"summary": "天气"}},
    )
    assert command.localized(*languages) == expected


def test_only_one_plugin_is_the_default_handler() -> None:
    Plugin.objects.create(name="a", default_handler=True)
    with pytest.raises(ValidationError, match="default handler"):
        Plugin(name="b", default_handler=True).full_clean()
    with pytest.raises(IntegrityError):
        Plugin.objects.create(name="b", default_handler=True)


@pytest.mark.parametrize(
    ("to_user", "to_group", "ok"),
    [(True, False, True), (False, True, True), (True, True, False), (False, False, False)],
)
def test_a_grant_names_either_a_user_or_a_group(to_user, to_group, ok) -> None:
    grant = PermissionGrant(
        plugin=Plugin.objects.create(name="p"),
        user=BotUser.objects.create(bot=the_bot(), session_id=GOOD_ID) if to_user else None,
        group=BotGroup.objects.create(name="friends") if to_group else None,
    )
    if ok:
        grant.full_clean()
        grant.save()
        return
    with pytest.raises(ValidationError, match="A grant names either a user or a group"):
        grant.full_clean()
    with pytest.raises(IntegrityError), transaction.atomic():
        grant.save()


def test_an_inbound_message_is_stored_once_per_session_hash() -> None:
    fields = {"sender": GOOD_ID, "conversation": GOOD_ID, "conversation_type": "private", "timestamp": 1}
    InboundMessage.objects.create(bot=the_bot(), message_id="h" * 43, **fields)
    with pytest.raises(IntegrityError):
        InboundMessage.objects.create(bot=the_bot(), message_id="h" * 43, **fields)
