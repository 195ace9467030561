"""The plugins.yaml format: typed models and a parser that reports errors in one line.

Pure module: no Django import. Every problem with a file, whether broken YAML, a missing
field or a bad value, is raised as :class:`ManifestError`, which names the file, the entry
(index and name), the field and the reason, never as a traceback.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    ValidationError,
    field_validator,
    model_serializer,
    model_validator,
)

from plugins.constraints import VersionError, constraint_parse, requirement_parse, version_parse
from plugins.envnames import env_entries
from sessionbot.botconfig import PLUGIN_NAME_RE

SLUG = PLUGIN_NAME_RE.pattern
COMMAND_NAME = r"^[a-z0-9][a-z0-9_-]{0,63}$"
LANGUAGE = re.compile(r"^[a-z]{2,3}(-[a-z0-9]{2,8})*$")
# Dotted Python module path, a colon, and an attribute name.
ENTRYPOINT = r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*:[A-Za-z_][A-Za-z0-9_]*$"

Policy = Literal["everyone", "listed", "admins"]


class ManifestError(Exception):
    """An invalid plugins file; ``str()`` is one line: file, entry, field and reason.

    ``index`` is the entry's position in the list (from 0); the line counts from 1.
    """

    def __init__(self, *, file: str, reason: str, index: int | None = None, name: str = "", field: str = "") -> None:
        self.file, self.index, self.name, self.field, self.reason = file, index, name, field, reason
        super().__init__(self.line())

    def line(self) -> str:
        parts = [self.file]
        if self.index is not None:
            # Entries count from 1, as a reader of the file counts them.
            parts.append(f"entry {self.index + 1}" + (f" ({self.name})" if self.name else ""))
        if self.field:
            parts.append(self.field)
        return ": ".join([*parts, self.reason])


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_languages(value: Mapping[str, Any]) -> None:
    for lang in value:
        if not LANGUAGE.match(lang):
            raise ValueError(f"{lang!r} is not a language code such as en, es or zh-hans")


QUEUE_NAME = r"^$|^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"


class CommandFilters(_Model):
    """Route a command only to messages that match every filter given."""

    conversation_type: Literal["private", "group"] | None = None
    has_attachments: bool | None = None
    languages: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()

    @field_validator("languages")
    @classmethod
    def _languages(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        _check_languages(dict.fromkeys(value))
        return value


class CommandSpec(_Model):
    """What the operator decides about one command: who may run it and on which messages.

    The command itself (name, arguments, summary, help) is declared by the plugin's code;
    ``name`` here only picks which of its commands these settings are for.
    """

    name: str = Field(pattern=COMMAND_NAME)
    filters: CommandFilters = CommandFilters()
    policy: Policy | None = None
    # Declared by the code now: still read, so that older files load, then ignored with a
    # notice (see manifest_notices). Left out of the entry's dump and checksum.
    summary: Any = Field(None, exclude=True)
    args: Any = Field(None, exclude=True)
    docs: Any = Field(None, exclude=True)


class Limits(_Model):
    """Per-plugin limits; unset values fall back to config.yaml's plugin_limits."""

    timeout_seconds: float | None = Field(None, gt=0, le=900)
    memory_mb: int | None = Field(None, ge=16, le=65536)
    cpu_seconds: float | None = Field(None, gt=0, le=3600)


class HealthCheck(_Model):
    """Run one command (as an admin) or call one method of the plugin now and then."""

    command: str | None = Field(None, pattern=COMMAND_NAME)
    method: str | None = Field(None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    interval_seconds: float = Field(300.0, ge=10, le=86400)

    @model_validator(mode="after")
    def _one_target(self) -> HealthCheck:
        if (self.command is None) == (self.method is None):
            raise ValueError("give exactly one of command or method")
        return self


class PluginEntry(_Model):
    """One plugin version as declared in plugins.yaml."""

    name: str = Field(pattern=SLUG)
    # With a source, the plugin's own manifest may supply version and entrypoint.
    version: str = ""
    entrypoint: str = Field("", pattern=ENTRYPOINT + "|^$")
    source: str = Field("", max_length=1000)  # git URL, requirement or archive (plugins.install)
    ref: str = Field("", max_length=200)  # git tag, branch or commit of a source
    commands: tuple[CommandSpec, ...] = ()
    docs: Any = Field(None, exclude=True)  # supplied by the code now; ignored with a notice
    dependencies: dict[str, str] = Field(default_factory=dict)
    requirements: tuple[str, ...] = ()
    enabled: bool = True
    default_policy: Policy = "everyone"
    default_handler: bool = False
    config: dict[str, Any] = Field(default_factory=dict)
    isolation: Literal["host", "inline"] = "host"
    network: bool = False  # the host may reach the internet (never this machine's services)
    limits: Limits = Limits()
    health_check: HealthCheck | None = None
    # The Celery queue its commands run on ("" the default one): a slow plugin on a queue of
    # its own, served by workers of its own (``runbroker --queues``), never delays the others.
    queue: str = Field("", pattern=QUEUE_NAME)
    api: Literal["sessionbot", "legacy"] = "sessionbot"  # "legacy": an older bot's plugin (plugins.legacy)
    # The plugin's own variables (API keys), stored as its secrets at import: kept out of
    # the entry's dump (the version's manifest, the checksum) and out of its repr.
    env: dict[str, str] = Field(default_factory=dict, exclude=True, repr=False)

    @field_validator("queue")
    @classmethod
    def _default_queue(cls, value: str) -> str:
        # What runbroker --queues calls the default queue is the default queue here too.
        return "" if value == "default" else value

    @field_validator("env", mode="before")
    @classmethod
    def _env(cls, value: object) -> dict[str, str]:
        return env_entries(value)

    @field_validator("version", mode="before")
    @classmethod
    def _version_is_text(cls, value: object) -> object:
        if isinstance(value, int | float):
            # YAML reads 1.10 as the number 1.1: only a quoted version is what the author wrote.
            raise ValueError(f'write the version in quotes, such as "{value}"')
        return value

    @field_validator("version")
    @classmethod
    def _version(cls, value: str) -> str:
        if not value:
            return value  # required unless a source supplies it: see _consistent
        try:
            version_parse(value)
        except VersionError as exc:
            raise ValueError(str(exc)) from None
        return value

    @field_validator("dependencies")
    @classmethod
    def _dependencies(cls, value: dict[str, str]) -> dict[str, str]:
        for plugin, constraint in value.items():
            if not re.match(SLUG, plugin):
                raise ValueError(f"{plugin!r} is not a plugin name")
            try:
                constraint_parse(constraint)
            except VersionError as exc:
                raise ValueError(f"{plugin}: {exc}") from None
        return value

    @field_validator("requirements")
    @classmethod
    def _requirements(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for line in value:
            try:
                requirement_parse(line)
            except VersionError as exc:
                raise ValueError(str(exc)) from None
        return value

    @model_serializer(mode="wrap")
    def _dump(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # An entry without a source dumps (and so checksums) as it always did.
        data: dict[str, Any] = handler(self)
        for key in ("source", "ref"):
            if not data.get(key):
                data.pop(key, None)
        return data

    @model_validator(mode="after")
    def _consistent(self) -> PluginEntry:
        if not self.source:
            for name in ("version", "entrypoint"):
                if not getattr(self, name):
                    raise ValueError(f"{name}: this field is required (or give a source)")
        if self.ref and not self.source:
            raise ValueError("ref: a ref needs a source (a git repository)")
        names = [c.name for c in self.commands]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"command {dupes[0]!r} is declared twice")
        if self.name in self.dependencies:
            raise ValueError("a plugin cannot depend on itself")
        return self

    def settings_problem(self, declared: Sequence[str]) -> tuple[str, str] | None:
        """The first command the entry configures (policy, filters, health check) that its
        code does not declare, as ``(field, reason)``; None when every one is declared."""
        for cmd in self.commands:
            if cmd.name not in declared:
                has = ", ".join(declared) or "none"
                return f"commands.{cmd.name}", f"the plugin's code declares no command {cmd.name!r} (it has: {has})"
        check = self.health_check
        if check is not None and check.command and check.command not in declared:
            return "health_check.command", f"{check.command!r} is not one of the commands its code declares"
        return None

    def identity(self) -> dict[str, Any]:
        """What the operator declared, as JSON, for a version's checksum.

        Fields left at their defaults are left out, so an entry keeps its checksum when a
        later release of the bot adds a field with a default: a re-import says "unchanged".
        """
        return self.model_dump(mode="json", exclude_defaults=True)


class Manifest(_Model):
    file: str
    plugins: tuple[PluginEntry, ...]
    # The older bot's file: its entries (plugins.legacyinstall.oldformat.LegacyEntry), each made
    # into a PluginEntry once its tree is fetched (plugins.legacyinstall.entries), and the lines
    # saying what it reads differently.
    legacy: tuple[Any, ...] = ()
    notices: tuple[str, ...] = ()


def _field_path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(entry)"


def _entry_error(file: str, index: int, raw: object, exc: ValidationError) -> ManifestError:
    err = exc.errors(include_url=False)[0]
    name = raw.get("name", "") if isinstance(raw, dict) else ""
    reason = str(err["msg"]).removeprefix("Value error, ")
    loc = tuple(err["loc"])
    if err["type"] == "missing":
        reason = "this field is required"
    elif not loc and reason.partition(": ")[0] in PluginEntry.model_fields:
        # A rule across fields that names the one field at fault.
        field, _, reason = reason.partition(": ")
        loc = (field,)
    elif err["type"] == "extra_forbidden":
        reason = "unknown field (check the spelling)"
    return ManifestError(file=file, index=index, name=str(name), field=_field_path(loc), reason=reason)


def _yaml_load(text: str, file: str) -> list[object]:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or "syntax error"
        raise ManifestError(file=file, reason=f"{where}not valid YAML ({problem})") from None
    if data is None:
        return []
    if not isinstance(data, dict) or set(data) - {"plugins"}:
        raise ManifestError(file=file, reason="the top level must be a mapping with one key, plugins")
    entries = data.get("plugins") or []
    if not isinstance(entries, list):
        raise ManifestError(file=file, field="plugins", reason="must be a list of plugin entries")
    return entries


def manifest_parse(*, text: str, file: str) -> Manifest:
    """Parse and validate the text of a plugins file named ``file`` (used in messages).

    The older bot's format (``plugins.legacyinstall.oldformat``) is read too: its entries go to
    ``legacy``, to be fetched before they are imported.
    """
    from plugins.legacyinstall.oldformat import legacy_format_is, legacy_translate  # it uses ManifestError

    found = _yaml_load(text, file)
    if legacy_format_is(found):
        older = legacy_translate(entries=found, file=file)
        return Manifest(file=file, plugins=(), legacy=older.entries, notices=older.notices)
    entries: list[PluginEntry] = []
    seen: dict[str, int] = {}
    handler: PluginEntry | None = None
    owners: dict[str, tuple[int, str]] = {}
    for index, raw in enumerate(found):
        if not isinstance(raw, dict):
            raise ManifestError(file=file, index=index, reason="an entry must be a mapping of fields")
        try:
            entry = PluginEntry.model_validate(raw)
        except ValidationError as exc:
            raise _entry_error(file, index, raw, exc) from None
        if entry.name in seen:
            reason = f"duplicate name: entry {seen[entry.name] + 1} is also {entry.name!r}"
            raise ManifestError(file=file, index=index, name=entry.name, field="name", reason=reason)
        seen[entry.name] = index
        if entry.default_handler:
            if handler is not None:
                reason = f"only one plugin may be the default handler, and {handler.name!r} already is"
                raise ManifestError(file=file, index=index, name=entry.name, field="default_handler", reason=reason)
            handler = entry
        for cindex, cmd in enumerate(entry.commands):
            if cmd.name in owners:
                other_index, other = owners[cmd.name]
                reason = f"command {cmd.name!r} is also declared by {other} (entry {other_index + 1})"
                field = f"commands[{cindex}].name"
                raise ManifestError(file=file, index=index, name=entry.name, field=field, reason=reason)
            owners[cmd.name] = (index, entry.name)
        entries.append(entry)
    return Manifest(file=file, plugins=tuple(entries))


CODE_FIELDS = ("summary", "args", "docs")


def manifest_notices(manifest: Manifest) -> tuple[str, ...]:
    """One line for each field of the file that the plugin's code supplies now (ignored),
    or that the older bot's format means differently."""
    lines = list(manifest.notices)
    for index, entry in enumerate(manifest.plugins):
        where = f"{manifest.file}: entry {index + 1} ({entry.name})"
        if entry.docs is not None:
            lines.append(f"{where}: docs: ignored, the plugin's code and its catalog supply the docs")
        for cmd in entry.commands:
            lines.extend(
                f"{where}: commands.{cmd.name}.{field}: ignored, the plugin's code supplies it"
                for field in CODE_FIELDS
                if getattr(cmd, field) is not None
            )
    return tuple(lines)


def manifest_load(*, path: Path) -> Manifest:
    """Read ``path`` and parse it; an unreadable file is a :class:`ManifestError` too."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = f"cannot read the file ({getattr(exc, 'strerror', None) or exc})"
        raise ManifestError(file=str(path), reason=reason) from None
    return manifest_parse(text=text, file=str(path))
