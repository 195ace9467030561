"""data/config.yaml: languages, the default language and the default handler must exist.

Table tests of the pure loader, given Django's language codes as settings give them.
"""

from __future__ import annotations

import pytest
from django.conf.locale import LANG_INFO

from sessionbot.botconfig import BotConfig, ConfigError, config_load
from tests.conftest import ROOT

DJANGO_LANGUAGES = {code: info.get("fallback", [code])[0] for code, info in LANG_INFO.items()}


def _load(tmp_path, text: str) -> BotConfig:
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    return config_load(path=path, languages=DJANGO_LANGUAGES)


@pytest.mark.parametrize(
    ("text", "field", "reason"),
    [
        ("languages: [en, xx]", "languages", "'xx' is not a language code (such as en, es, zh-hans)"),
        ("languages: [en, english]", "languages", "'english' is not a language code (such as en, es, zh-hans)"),
        ("languages: [en, zh_Hans]", "languages", "write 'zh_Hans' as 'zh-hans'"),
        ("languages: [en, ES]", "languages", "write 'ES' as 'es'"),
        ("languages: [en, zh-cn]", "languages", "write 'zh-cn' as 'zh-hans'"),
        ("languages: [en, zh-tw]", "languages", "write 'zh-tw' as 'zh-hant'"),
        ("languages: []", "languages", "list at least one language"),
        ("languages: [en, es, en]", "languages", "'en' is listed twice"),
        ("default_language: fr", "default_language", "'fr' is not one of languages (en, es, zh-hans)"),
        ("languages: [es]", "default_language", "'en' is not one of languages (es)"),
        ("languages: [es, fr]\ndefault_language: de", "default_language", "'de' is not one of languages (es, fr)"),
        (
            "default_handler: 'Echo Bot'",
            "default_handler",
            "'Echo Bot' is not a plugin name (lower-case letters, digits, - and _)",
        ),
        ("default_handler: ''", "default_handler", "'' is not a plugin name (lower-case letters, digits, - and _)"),
        (
            "default_handler: echo/x",
            "default_handler",
            "'echo/x' is not a plugin name (lower-case letters, digits, - and _)",
        ),
        ("admins: [x]", "admins", "'x' is not a Session ID (66 hex characters starting 05)"),
    ],
)
def test_a_bad_value_names_the_file_the_field_and_the_reason(tmp_path, text, field, reason) -> None:
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, text)
    assert str(caught.value) == f"{tmp_path / 'config.yaml'}: {field}: {reason}"


@pytest.mark.parametrize(
    ("text", "languages", "default_language", "default_handler"),
    [
        ("", ("en", "es", "zh-hans"), "en", None),
        ("languages: [es, fr, zh-hant]\ndefault_language: fr", ("es", "fr", "zh-hant"), "fr", None),
        ("languages: [en, en-gb]\ndefault_language: en-gb", ("en", "en-gb"), "en-gb", None),
        ("default_handler: weather_example", ("en", "es", "zh-hans"), "en", "weather_example"),
        ("default_handler: my-plugin2", ("en", "es", "zh-hans"), "en", "my-plugin2"),
    ],
)
def test_values_that_exist_are_taken(tmp_path, text, languages, default_language, default_handler) -> None:
    config = _load(tmp_path, text)
    assert (config.languages, config.default_language, config.default_handler) == (
        languages,
        default_language,
        default_handler,
    )


def test_the_shipped_config_is_valid() -> None:
    assert config_load(path=ROOT / "data" / "config.yaml", languages=DJANGO_LANGUAGES) == BotConfig()


@pytest.mark.parametrize(
    ("text", "content_days", "batch_size"),
    [
        ("", 30, 500),  # the documented default: 30 days
        ("retention: {content_days: 7}", 7, 500),
        ("retention: {content_days: null, batch_size: 50}", None, 50),
    ],
)
def test_retention_has_a_default_and_may_keep_content_for_ever(tmp_path, text, content_days, batch_size) -> None:
    retention = _load(tmp_path, text).retention
    assert (retention.content_days, retention.batch_size) == (content_days, batch_size)


@pytest.mark.parametrize(
    ("text", "field", "reason"),
    [
        ("retention: {content_days: 0}", "retention.content_days", "Input should be greater than or equal to 1"),
        ("retention: {batch_size: 0}", "retention.batch_size", "Input should be greater than or equal to 1"),
        (
            "retention: {interval_seconds: 1}",
            "retention.interval_seconds",
            "Input should be greater than or equal to 60",
        ),
        ("retention: {days: 3}", "retention.days", "Extra inputs are not permitted"),
    ],
)
def test_a_bad_retention_names_its_field(tmp_path, text, field, reason) -> None:
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, text)
    assert str(caught.value) == f"{tmp_path / 'config.yaml'}: {field}: {reason}"
