"""Which sources the operator allows (``plugin_sources`` in config.yaml), as a pure check.

:func:`source_refusal` returns the rule that refuses a source, in the words of the file
(``plugin_sources.git does not list ssh://gitlab.example/team/bot``), or None. The
default allows folders, repositories and archives on this machine, uploads, PyPI, and
git repositories and archives over ``https://`` from any host; not ``ssh://``, ``git@``,
``git://`` or ``http://``, which the operator lists by name (a host reached over ssh
runs with the worker's keys, and the unencrypted ones can be changed on the way).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from plugins.sources.spec import SCP, Source
from sessionbot.botconfig import (
    ARCHIVE_RULE_SCHEMES,
    DEFAULT_INDEX,
    GIT_RULE_SCHEMES,
    INDEX_RULE_SCHEMES,
    PluginSources,
    source_rule_parse,
)

Rule = tuple[str, str, str]  # scheme, host ("" = any), path prefix ("" = any)


def gettext_noop(message: str) -> str:
    """Mark ``message`` for the catalogs (makemessages knows this name); the caller translates it."""
    return message


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a source is refused: an English sentence with %-placeholders and their values.

    ``str()`` gives the English; an edge with Django shows ``gettext(text) % params``.
    """

    text: str
    params: dict[str, str]

    def __str__(self) -> str:
        return self.text % self.params


@dataclass(frozen=True, slots=True)
class SourcePolicy:
    """The allowed sources; each tuple holds entries as ``plugin_sources`` writes them."""

    git: tuple[str, ...] = ("https://",)
    archives: tuple[str, ...] = ("https://",)
    indexes: tuple[str, ...] = (DEFAULT_INDEX,)
    local: bool = True
    uploads: bool = True
    default_index: str = DEFAULT_INDEX  # what builds resolve from when nothing names one ("": none)


def policy_from_config(sources: PluginSources, *, default_index: str = DEFAULT_INDEX) -> SourcePolicy:
    """The policy that config.yaml's ``plugin_sources`` states, for builds that resolve from ``default_index``."""
    return SourcePolicy(
        git=sources.git,
        archives=sources.archives,
        indexes=sources.indexes,
        local=sources.local,
        uploads=sources.uploads,
        default_index=default_index,
    )


def _url_parts(location: str) -> Rule:
    """(scheme, host[:port], path) of a URL or of git's scp form (``user@host:path``)."""
    scp = SCP.match(location)
    if scp:
        return "ssh", scp["host"].lower(), "/" + unquote(scp["path"])
    parts = urlsplit(location)
    host = (parts.hostname or "") + (f":{parts.port}" if parts.port is not None else "")
    return parts.scheme.lower(), host, unquote(parts.path)


def _path_under(path: str, prefix: str) -> bool:
    path = path.rstrip("/")
    return not prefix or path in (prefix, prefix + ".git") or path.startswith(prefix + "/")


def rule_allows(rule: Rule, location: str) -> bool:
    """Whether the parsed entry ``rule`` allows the URL ``location``."""
    scheme, host, path = _url_parts(location)
    if any(segment in (".", "..") for segment in path.split("/")):
        return False  # A server resolves dot segments: the path would not be the one checked.
    want_scheme, want_host, want_path = rule
    return scheme == want_scheme and (not want_host or host == want_host) and _path_under(path, want_path)


def _listed(entries: tuple[str, ...], schemes: tuple[str, ...], location: str) -> bool:
    return any(rule_allows(source_rule_parse(entry, schemes=schemes), location) for entry in entries)


def _shown(location: str) -> str:
    scheme, host, path = _url_parts(location)
    return f"{scheme}://{host}{path}"


def _not_listed(key: str, entries: tuple[str, ...], location: str) -> Refusal:
    params = {"key": key, "source": _shown(location), "allowed": ", ".join(entries)}
    if not entries:
        return Refusal(gettext_noop("plugin_sources.%(key)s does not list %(source)s (it allows nothing)"), params)
    return Refusal(gettext_noop("plugin_sources.%(key)s does not list %(source)s (it allows: %(allowed)s)"), params)


def source_refusal(source: Source, policy: SourcePolicy) -> Refusal | None:
    """The rule of ``policy`` that refuses ``source``, in config.yaml's words; None: allowed."""
    if source.upload:
        if policy.uploads:
            return None
        return Refusal(gettext_noop("plugin_sources.uploads is false: uploaded archives are refused"), {})
    if source.local:
        if policy.local:
            return None
        return Refusal(
            gettext_noop(
                "plugin_sources.local is false: folders, repositories and archives on this machine are refused"
            ),
            {},
        )
    if source.kind == "git":
        if _listed(policy.git, GIT_RULE_SCHEMES, source.location):
            return None
        return _not_listed("git", policy.git, source.location)
    if source.kind == "archive":
        if _listed(policy.archives, ARCHIVE_RULE_SCHEMES, source.location):
            return None
        return _not_listed("archives", policy.archives, source.location)
    return index_refusal(source.index, policy)


def index_refusal(index: str, policy: SourcePolicy) -> Refusal | None:
    """The rule that refuses resolving from ``index`` ("": the policy's default index); None: allowed."""
    index = index or policy.default_index
    if not index or _listed(policy.indexes, INDEX_RULE_SCHEMES, index):
        return None
    return _not_listed("indexes", policy.indexes, index)
