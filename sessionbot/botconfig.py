"""The bot's behaviour, read from ``data/config.yaml`` into typed models.

Pure module: no Django import. A bad file raises :class:`ConfigError` whose message names
the file, the key and the reason in one line. The language codes a file may use are given
by the caller (settings pass Django's), so this module needs no Django to check them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, create_model, field_validator

SESSION_ID_RE = re.compile(r"^05[0-9a-f]{64}$")
# A plugin's name, in config.yaml and in data/plugins.yaml (plugins.manifest uses it too).
PLUGIN_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")

Policy = Literal["everyone", "listed", "admins"]


class ConfigError(Exception):
    """A configuration file or value is invalid; the message is one line for the operator."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RateLimit(_Model):
    messages: int = Field(10, ge=1, description="messages a user may send per window")
    window_seconds: float = Field(10.0, gt=0)


class PluginLimits(_Model):
    timeout_seconds: float = Field(10.0, gt=0, le=900)
    memory_mb: int = Field(256, ge=16, le=65536)
    cpu_seconds: float = Field(10.0, gt=0, le=3600)
    max_reply_chars: int = Field(20000, ge=1)


class Polling(_Model):
    active_interval_seconds: float = Field(1.0, gt=0)
    idle_interval_seconds: float = Field(5.0, gt=0)
    active_window_seconds: float = Field(60.0, ge=0)


class Recovery(_Model):
    """When an unfinished invocation counts as lost (its worker died) and is sent again."""

    sweep_interval_seconds: float = Field(15.0, gt=0, le=3600)
    queued_after_seconds: float = Field(60.0, gt=0)
    running_margin_seconds: float = Field(30.0, ge=0)
    max_attempts: int = Field(3, ge=1, le=100)


class Retention(_Model):
    """How long the content of messages, invocations and replies is kept.

    After ``content_days`` the text, arguments, attachments and files are erased; the
    metadata the metrics need (times, status, durations, plugin, bot) stays. ``null``
    keeps content for ever. The purge runs every ``interval_seconds`` in batches of at
    most ``batch_size`` rows.
    """

    content_days: int | None = Field(30, ge=1, le=36500)
    interval_seconds: float = Field(3600.0, ge=60, le=86400)
    batch_size: int = Field(500, ge=1, le=10000)


# A git host given by name alone (gitlab.example, or gitlab.example:8443) is reached over https.
_HOST = re.compile(r"^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]{1,5})?$")
_SCP_RULE = re.compile(r"^[A-Za-z0-9._~-]+@(?P<host>[A-Za-z0-9.-]+):(?P<path>[^\s]*)$")


def source_rule_parse(text: str, *, schemes: tuple[str, ...]) -> tuple[str, str, str]:
    """Read one ``plugin_sources`` entry as (scheme, host, path prefix); "" host: any host.

    ``https://`` allows every host over https, ``https://github.com/myorg`` the
    repositories under that path, ``gitlab.example`` means ``https://gitlab.example``, and
    ``git@gitlab.example:`` (git's scp form) means ``ssh://gitlab.example``. Raise
    ValueError naming the entry when it is none of these.
    """
    scp = _SCP_RULE.match(text)
    if scp:
        scheme, host, path = "ssh", scp["host"].lower(), "/" + scp["path"]
    elif "://" in text:
        scheme, _, rest = text.partition("://")
        host, slash, tail = rest.partition("/")
        scheme, host, path = scheme.lower(), host.lower(), slash + tail
        if "@" in host:
            raise ValueError(f"{text!r}: leave the user out of an allowed URL")
    elif _HOST.match(text.lower()):
        scheme, host, path = "https", text.lower(), ""
    else:
        raise ValueError(f"{text!r} is not a URL prefix (https://host/path) or a host name")
    if scheme not in schemes:
        raise ValueError(f"{text!r}: the scheme must be one of {', '.join(schemes)}")
    if host and not _HOST.match(host):
        raise ValueError(f"{text!r}: {host!r} is not a host name")
    if not host and path.strip("/"):
        raise ValueError(f"{text!r}: a path needs a host before it")
    return scheme, host, path.rstrip("/")


GIT_RULE_SCHEMES = ("https", "http", "ssh", "git")
ARCHIVE_RULE_SCHEMES = ("https", "http")
INDEX_RULE_SCHEMES = ("https", "http", "file")
DEFAULT_INDEX = "https://pypi.org/simple"


class PluginSources(_Model):
    """Where plugins may be installed from (plugins.sources.policy applies it)."""

    git: tuple[str, ...] = ("https://",)
    archives: tuple[str, ...] = ("https://",)
    indexes: tuple[str, ...] = (DEFAULT_INDEX,)
    local: bool = True
    uploads: bool = True

    @field_validator("git")
    @classmethod
    def _git_rules(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for entry in value:
            source_rule_parse(entry, schemes=GIT_RULE_SCHEMES)
        return value

    @field_validator("archives")
    @classmethod
    def _archive_rules(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for entry in value:
            source_rule_parse(entry, schemes=ARCHIVE_RULE_SCHEMES)
        return value

    @field_validator("indexes")
    @classmethod
    def _index_rules(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for entry in value:
            if "://" not in entry:
                raise ValueError(f"{entry!r} is not an index URL such as {DEFAULT_INDEX}")
            source_rule_parse(entry, schemes=INDEX_RULE_SCHEMES)
        return value


class BotConfig(_Model):
    command_prefix: str = Field("/", min_length=1, max_length=3)
    # Before default_language, which is checked against it.
    languages: tuple[str, ...] = ("en", "es", "zh-hans")
    default_language: str = Field("en", validate_default=True)
    admins: tuple[str, ...] = ()
    default_policy: Policy = "everyone"
    default_handler: str | None = None
    rate_limit: RateLimit = RateLimit()
    plugin_limits: PluginLimits = PluginLimits()
    chunk_size: int = Field(2000, ge=50, le=10000)
    part_markers: bool = False
    max_attachments: int = Field(10, ge=0, le=100)
    polling: Polling = Polling()
    recovery: Recovery = Recovery()
    plugin_sources: PluginSources = PluginSources()
    retention: Retention = Retention()

    @field_validator("admins")
    @classmethod
    def _admins_are_session_ids(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for sid in value:
            if not SESSION_ID_RE.match(sid):
                raise ValueError(f"{sid!r} is not a Session ID (66 hex characters starting 05)")
        return value

    @field_validator("languages")
    @classmethod
    def _languages_are_known(cls, value: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        if not value:
            raise ValueError("list at least one language")
        known: Mapping[str, str] | None = (info.context or {}).get("languages")
        for code in value:
            # /lang compares the user's choice, lower-cased with "-", to these codes.
            written = code.strip().lower().replace("_", "-")
            if known is not None and written not in known:
                raise ValueError(f"{code!r} is not a language code (such as en, es, zh-hans)")
            canonical = known[written] if known is not None else written
            if code != canonical:
                raise ValueError(f"write {code!r} as {canonical!r}")
        duplicates = sorted({code for code in value if value.count(code) > 1})
        if duplicates:
            raise ValueError(f"{duplicates[0]!r} is listed twice")
        return value

    @field_validator("default_language")
    @classmethod
    def _default_language_is_listed(cls, value: str, info: ValidationInfo) -> str:
        languages = info.data.get("languages")
        if languages is not None and value not in languages:
            raise ValueError(f"{value!r} is not one of languages ({', '.join(languages)})")
        return value

    @field_validator("default_handler")
    @classmethod
    def _default_handler_is_a_plugin_name(cls, value: str | None) -> str | None:
        if value is not None and not PLUGIN_NAME_RE.match(value):
            raise ValueError(f"{value!r} is not a plugin name (lower-case letters, digits, - and _)")
        return value


# What a bot may set for itself over config.yaml (the rest is the deployment's).
BOT_SETTING_NAMES = (
    "command_prefix",
    "languages",
    "default_language",
    "default_handler",
    "rate_limit",
    "admins",
    "polling",
)


def _optional(name: str) -> Any:
    annotation: Any = BotConfig.model_fields[name].annotation
    return (annotation | None, None)


# Those fields of BotConfig, each optional: an unset one keeps config.yaml's value.
BotSettings: type[BaseModel] = create_model(
    "BotSettings",
    __config__=ConfigDict(extra="forbid", frozen=True),
    **{name: _optional(name) for name in BOT_SETTING_NAMES},
)


def bot_config_apply(
    *, base: BotConfig, overrides: Mapping[str, object], languages: Mapping[str, str] | None = None
) -> BotConfig:
    """``base`` with a bot's ``overrides`` on top, checked as config.yaml is.

    ConfigError names the key and the reason, as for the file.
    """
    try:
        given = BotSettings.model_validate(overrides).model_dump(exclude_none=True)
        merged = {**base.model_dump(), **{name: overrides[name] for name in given}}
        return BotConfig.model_validate(merged, context={"languages": languages})
    except ValidationError as exc:
        err = exc.errors()[0]
        reason = str(err["ctx"]["error"]) if err["type"] == "value_error" else err["msg"]
        raise ConfigError(f"{_location(err['loc'])}: {reason}") from None


def _location(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc) or "(top level)"


def config_load(*, path: Path, languages: Mapping[str, str] | None = None) -> BotConfig:
    """Read and validate ``path``; a missing file gives the defaults.

    ``languages`` maps every language code a file may name to the code to write for it
    (itself, or the code an alias such as ``zh-cn`` stands for); None checks the form only.
    """
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return BotConfig()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        data = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{path}:{where} is not valid YAML") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of keys")
    try:
        return BotConfig.model_validate(data, context={"languages": languages})
    except ValidationError as exc:
        err = exc.errors()[0]
        # A validator's own reason, without pydantic's "Value error, " before it.
        reason = str(err["ctx"]["error"]) if err["type"] == "value_error" else err["msg"]
        raise ConfigError(f"{path}: {_location(err['loc'])}: {reason}") from None
