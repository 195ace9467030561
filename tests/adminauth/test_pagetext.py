"""The untranslated-text detector the browser test relies on, as a table."""

from __future__ import annotations

import pytest

from tests.adminauth.pagetext import english_left

ENGLISH = "\n".join(
    [
        "STATUS",
        "Site administration",
        "Invocations",
        "Add invocation",
        "Bot users",
        "Error rate",
        "Session ID",
        "weather_example",
        "rollup now",
    ]
)


@pytest.mark.parametrize(
    ("language", "translated", "left"),
    [
        ("es", "Administración del sitio\nInvocaciones", []),
        ("es", "Administración del sitio\nInvocations", ["Invocations"]),
        ("es", "Añadir invocation", ["Añadir invocation"]),
        ("es", "Usuarios del bot\nTasa de error", []),  # "error" is Spanish too
        ("es", "ID de Session\nweather_example", []),  # names and identifiers stay
        ("es", "Bot users", ["Bot users"]),
        ("zh-hans", "站点管理\n调用", []),
        ("zh-hans", "站点管理\nInvocations", ["Invocations"]),
        ("zh-hans", "本地化文档s", ["本地化文档s"]),
        ("zh-hans", "Session ID 与 Bot", []),
        ("zh-hans", "错误率 Error rate", ["错误率 Error rate"]),
        ("zh-hans", "", []),
        ("zh-hans", "STATUS", ["STATUS"]),  # a column title in capitals is still English
        ("es", "manage.py rollup lo hace ahora", []),  # a command's name after manage.py
        ("es", "el rollup lo hace ahora", ["el rollup lo hace ahora"]),  # the same word in prose
        ("es", "manage.py rollup now", ["manage.py rollup now"]),  # only the next word is the command
    ],
)
def test_it_finds_the_english_left_in_a_translated_page(language: str, translated: str, left: list[str]) -> None:
    assert english_left(translated=translated, english=ENGLISH, language=language) == left


def test_it_lets_through_the_words_of_seeded_data() -> None:
    english = "Plugins\nhelper ping"
    assert english_left(translated="Plugins\nhelper ping", english=english, language="es") == ["helper ping"]
    found = english_left(translated="helper ping", english=english, language="es", data=frozenset({"helper", "ping"}))
    assert found == []


def test_a_word_the_english_page_does_not_show_is_not_counted() -> None:
    # Spanish prose that happens to look like English elsewhere is not this page's English.
    assert english_left(translated="Sesión iniciada como root", english="Welcome, admin", language="es") == []


@pytest.mark.parametrize(
    ("language", "translated"),
    [
        ("es", "Inicio /admin/login/ config.yaml command_prefix"),
        ("zh-hans", "按住 Control 键或 Mac 上的 Command 键来选择多项。"),
        ("es", "Workers de colas"),
        ("zh-hans", "加密保存 (manage.py bots export-key NAME 会打印它们)"),
        ("zh-hans", "例如单一登入或LDAP。"),
        ("zh-hans", "GET 数据:"),
    ],
)
def test_paths_identifiers_key_names_and_terms_are_not_english_left(language: str, translated: str) -> None:
    english = "Home admin login config yaml command prefix Control Command Mac Queue workers export key NAME LDAP GET"
    assert english_left(translated=translated, english=english, language=language) == []
