"""The Spanish and Chinese catalogs hold every message of the code, translated, and the .mo files match.

A user who chose Spanish or Chinese reads English wherever a message of the code is missing
from the catalog, or its entry is empty or marked fuzzy (gettext skips both), and reads stale
text when a .po was edited without compiling it again. ``make messages`` extracts and
compiles; these tests say what is still missing. The extraction check runs makemessages on a
copy of the source, never on the tree, with the Makefile's list of folders to skip.
"""

from __future__ import annotations

import ast
import gettext
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import services_required

ROOT = Path(__file__).resolve().parents[2]
LANGUAGES = ("es", "zh_Hans")
_FIELD = re.compile(r"^(msgctxt|msgid_plural|msgid|msgstr(?:\[\d+\])?)\s+(\".*\")\s*$")
_PLACEHOLDER = re.compile(r"%(?:\((\w+)\))?[-#0 +]*\d*(?:\.\d+)?([diouxXeEfFgGcrsa%])")
_NPLURALS = re.compile(r"nplurals\s*=\s*(\d+)")
_BRACES = re.compile(r"\{(\w*)(?:[!:][^{}]*)?\}")
_IGNORE = re.compile(r"^MESSAGES_IGNORE\s*:=(.*)$", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class Entry:
    """One entry of a .po file: its key, its translations (one per plural form) and its flags."""

    line: int
    context: str | None
    msgid: str
    plural: str | None
    msgstrs: tuple[str, ...]
    flags: frozenset[str]
    where: tuple[str, ...] = ()  # the ``#:`` references: file:line of the code that says it


def parse_po(text: str) -> list[Entry]:
    """The live entries of a .po file, header included; obsolete ``#~`` entries are left out."""
    entries: list[Entry] = []
    fields: dict[str, str] = {}
    flags: set[str] = set()
    where: list[str] = []
    start = 0
    current = ""

    def close() -> None:
        if "msgid" in fields:
            forms = sorted(k for k in fields if k.startswith("msgstr"))
            entries.append(
                Entry(
                    line=start,
                    context=fields.get("msgctxt"),
                    msgid=fields["msgid"],
                    plural=fields.get("msgid_plural"),
                    msgstrs=tuple(fields[k] for k in forms),
                    flags=frozenset(flags),
                    where=tuple(where),
                )
            )
        fields.clear()
        flags.clear()
        where.clear()

    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#~"):
            continue
        if line.startswith("#"):
            if any(k.startswith("msgstr") for k in fields):
                close()
            if line.startswith("#,"):
                flags.update(f.strip() for f in line[2:].split(","))
            elif line.startswith("#:"):
                where.extend(line[2:].split())
            continue
        if line.startswith('"'):
            fields[current] += ast.literal_eval(line)
            continue
        match = _FIELD.match(line)
        if match is None:
            raise ValueError(f"line {number}: cannot read {raw!r}")
        key, value = match.groups()
        if key in ("msgctxt", "msgid") and any(k.startswith("msgstr") for k in fields):
            close()
        if not fields:
            start = number
        current = key
        fields[key] = ast.literal_eval(value)
    close()
    return entries


def _placeholders(text: str) -> list[str]:
    return sorted(
        f"%({name}){kind}" if name else f"%{kind}" for name, kind in _PLACEHOLDER.findall(text) if kind != "%"
    )


def _braces(text: str) -> list[str]:
    return sorted(f"{{{name}}}" for name in _BRACES.findall(text))


def _label(entry: Entry) -> str:
    return f"line {entry.line}: {entry.msgid!r}"


def catalog_gaps(entries: list[Entry]) -> list[str]:
    """One line per entry a reader would see in English or garbled: empty, fuzzy or with other placeholders.

    ``%`` placeholders are compared where xgettext saw them (python-format); ``{name}``
    placeholders in every entry, so that a str.format() message keeps its fields too.
    """
    header = next((e for e in entries if e.msgid == "" and e.context is None), None)
    found = _NPLURALS.search(header.msgstrs[0]) if header and header.msgstrs else None
    nplurals = int(found.group(1)) if found else 2
    gaps: list[str] = []
    for entry in entries:
        if entry.msgid == "" and entry.context is None:
            continue
        if "fuzzy" in entry.flags:
            gaps.append(f"{_label(entry)} is fuzzy")
        if not entry.msgstrs or not all(entry.msgstrs):
            gaps.append(f"{_label(entry)} is untranslated")
            continue
        if entry.plural is not None and len(entry.msgstrs) != nplurals:
            gaps.append(f"{_label(entry)} has {len(entry.msgstrs)} plural forms, the language has {nplurals}")
        if "python-format" in entry.flags:
            wanted = _placeholders(entry.msgid)
            for translation in entry.msgstrs:
                if _placeholders(translation) != wanted:
                    gaps.append(f"{_label(entry)} has the placeholders {_placeholders(translation)}, not {wanted}")
        for translation in entry.msgstrs:
            if _braces(translation) != _braces(entry.msgid):
                gaps.append(f"{_label(entry)} has the fields {_braces(translation)}, not {_braces(entry.msgid)}")
    return gaps


def _key(entry: Entry) -> tuple[str | None, str, str | None]:
    return entry.context, entry.msgid, entry.plural


def catalog_drift(code: list[Entry], catalog: list[Entry]) -> list[str]:
    """One line per message ``code`` has that ``catalog`` lacks, and per catalog entry no code says any more.

    ``code`` is what makemessages extracts now; a missing message reaches the user in English.
    """
    have = {_key(e) for e in catalog}
    said = {_key(e) for e in code}
    drift = [
        f"{e.msgid!r} ({', '.join(e.where) or 'no reference'}) is not in the catalog"
        for e in code
        if e.msgid and _key(e) not in have
    ]
    drift += [f"{_label(e)} is no longer in the code" for e in catalog if e.msgid and _key(e) not in said]
    return drift


def mo_drift(entries: list[Entry], mo_path: Path) -> list[str]:
    """One line per translation that the compiled ``mo_path`` lacks or holds otherwise than the .po."""
    with mo_path.open("rb") as handle:
        compiled = dict(gettext.GNUTranslations(handle)._catalog)  # type: ignore[attr-defined]
    compiled = {k: v for k, v in compiled.items() if k != ""}
    expected: dict[object, str] = {}
    for entry in entries:
        if (entry.msgid == "" and entry.context is None) or "fuzzy" in entry.flags or not all(entry.msgstrs):
            continue
        key = entry.msgid if entry.context is None else f"{entry.context}\x04{entry.msgid}"
        if entry.plural is None:
            expected[key] = entry.msgstrs[0]
        else:
            expected.update({(key, n): text for n, text in enumerate(entry.msgstrs)})
    drift = [
        f"{key!r}: the .mo has {compiled.get(key)!r}, the .po {text!r}"
        for key, text in expected.items()
        if compiled.get(key) != text
    ]
    drift += [f"{key!r}: only the .mo has it" for key in compiled if key not in expected]
    return drift


def _gettext_tool(name: str) -> str:
    program = shutil.which(name)
    if program is None:
        message = f"{name} is not installed (apt-get install gettext); set it up or unset REQUIRE_SERVICES"
        if services_required():
            pytest.fail(message)
        pytest.skip(message)
    return program


def _msgfmt() -> str:
    return _gettext_tool("msgfmt")


def messages_ignore() -> list[str]:
    """The folders ``make messages`` skips: the Makefile's MESSAGES_IGNORE, the one list of them."""
    found = _IGNORE.search((ROOT / "Makefile").read_text(encoding="utf-8"))
    assert found is not None, "the Makefile has no MESSAGES_IGNORE line"
    return found.group(1).split()


@pytest.fixture(scope="module")
def extracted(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Entry]]:
    """The catalog of each language as makemessages makes it from the code now, in a copy of the tree."""
    for tool in ("xgettext", "msguniq", "msgmerge", "msgattrib"):
        _gettext_tool(tool)
    ignored = messages_ignore()
    copy = tmp_path_factory.mktemp("messages") / "source"

    def skipped(folder: str, names: list[str]) -> list[str]:
        top = Path(folder) == ROOT
        return [n for n in names if n.startswith(".") or n == "__pycache__" or (top and n in [*ignored, "locale"])]

    shutil.copytree(ROOT, copy, ignore=skipped)
    (copy / "locale").mkdir()  # empty: every message comes out as the code says it
    command = [sys.executable, "manage.py", "makemessages", "--no-obsolete"]
    command += [f"--ignore={folder}" for folder in ignored]
    command += [arg for language in LANGUAGES for arg in ("-l", language)]
    result = subprocess.run(
        command,
        cwd=copy,
        env={**os.environ, "PYTHONPATH": str(copy)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    made = {language: copy / "locale" / language / "LC_MESSAGES" / "django.po" for language in LANGUAGES}
    return {language: parse_po(path.read_text(encoding="utf-8")) for language, path in made.items()}


def _po(language: str) -> Path:
    return ROOT / "locale" / language / "LC_MESSAGES" / "django.po"


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_entry_is_translated_and_none_is_fuzzy(language) -> None:
    entries = parse_po(_po(language).read_text(encoding="utf-8"))
    assert len(entries) > 100
    assert catalog_gaps(entries) == []


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_message_of_the_code_is_in_the_catalog_translated(language, extracted) -> None:
    catalog = parse_po(_po(language).read_text(encoding="utf-8"))
    problems = catalog_drift(extracted[language], catalog) + catalog_gaps(catalog)
    assert problems == [], "run make messages, then translate these:\n" + "\n".join(problems)


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_compiled_catalog_holds_what_the_po_says(language) -> None:
    po = _po(language)
    assert mo_drift(parse_po(po.read_text(encoding="utf-8")), po.with_suffix(".mo")) == []


@pytest.mark.parametrize("language", LANGUAGES)
def test_msgfmt_accepts_the_catalog(language) -> None:
    result = subprocess.run(
        [_msgfmt(), "--check", "--statistics", "-o", "/dev/null", str(_po(language))],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "untranslated" not in result.stderr, result.stderr
    assert "fuzzy" not in result.stderr, result.stderr


SAMPLE = r"""msgid ""
msgstr ""
"Content-Type: text/plain; charset=UTF-8\n"
"Plural-Forms: nplurals=2; plural=(n != 1);\n"

#: a.py:1
msgid "hello"
msgstr "hola"

#, python-format
msgid "%(name)s left"
msgstr "%(name)s se fue"

msgctxt "menu"
msgid "file"
msgstr "archivo"

#: b.py:2 b.py:9
#, python-brace-format
msgid "{count} new"
msgstr "{count} nuevos"

msgid "one bot"
msgid_plural "%(count)s bots"
msgstr[0] "un bot"
msgstr[1] "varios bots"

#~ msgid "gone"
#~ msgstr ""
"""


def test_the_reader_keeps_contexts_plurals_and_continued_lines() -> None:
    entries = parse_po(SAMPLE.replace('msgstr "hola"', 'msgstr ""\n"ho"\n"la\\n"'))
    assert [(e.context, e.msgid, e.msgstrs) for e in entries[1:]] == [
        (None, "hello", ("hola\n",)),
        (None, "%(name)s left", ("%(name)s se fue",)),
        ("menu", "file", ("archivo",)),
        (None, "{count} new", ("{count} nuevos",)),
        (None, "one bot", ("un bot", "varios bots")),
    ]
    assert entries[4].where == ("b.py:2", "b.py:9")
    assert catalog_gaps(entries) == []


@pytest.mark.parametrize(
    ("old", "new", "gap"),
    [
        ('msgstr "hola"', 'msgstr ""', "line 7: 'hello' is untranslated"),
        ("#: a.py:1\n", "#: a.py:1\n#, fuzzy\n", "line 8: 'hello' is fuzzy"),
        ('msgstr[1] "varios bots"', 'msgstr[1] ""', "'one bot' is untranslated"),
        ('msgstr[1] "varios bots"\n', "", "'one bot' has 1 plural forms, the language has 2"),
        ('"%(name)s se fue"', '"%(nombre)s se fue"', "'%(name)s left' has the placeholders ['%(nombre)s']"),
        ('"{count} nuevos"', '"{cuenta} nuevos"', "'{count} new' has the fields ['{cuenta}'], not ['{count}']"),
    ],
)
def test_a_gap_in_a_sample_catalog_is_named(old, new, gap) -> None:
    text = SAMPLE.replace(old, new)
    assert text != SAMPLE
    gaps = catalog_gaps(parse_po(text))
    assert len(gaps) == 1, gaps
    assert gap in gaps[0]


def test_a_po_edited_after_compiling_is_caught(tmp_path) -> None:
    po, mo = tmp_path / "django.po", tmp_path / "django.mo"
    po.write_text(SAMPLE, encoding="utf-8")
    subprocess.run([_msgfmt(), "-o", str(mo), str(po)], check=True, timeout=60)
    assert mo_drift(parse_po(SAMPLE), mo) == []
    edited = SAMPLE.replace('"archivo"', '"fichero"').replace('msgstr[0] "un bot"', 'msgstr[0] "un robot"')
    edited += '\nmsgid "new"\nmsgstr "nuevo"\n'
    assert mo_drift(parse_po(edited), mo) == [
        "'menu\\x04file': the .mo has 'archivo', the .po 'fichero'",
        "('one bot', 0): the .mo has 'un bot', the .po 'un robot'",
        "'new': the .mo has None, the .po 'nuevo'",
    ]
    assert mo_drift(parse_po(SAMPLE.replace('msgid "hello"\nmsgstr "hola"\n', "")), mo) == [
        "'hello': only the .mo has it"
    ]


def test_a_message_the_catalog_lacks_or_no_code_says_is_named() -> None:
    catalog = parse_po(SAMPLE)
    code = parse_po(SAMPLE.replace('msgid "hello"', 'msgid "hi"') + '\n#: c.py:3\nmsgid "new"\nmsgstr ""\n')
    assert catalog_drift(catalog, catalog) == []
    assert catalog_drift(code, catalog) == [
        "'hi' (a.py:1) is not in the catalog",
        "'new' (c.py:3) is not in the catalog",
        "line 7: 'hello' is no longer in the code",
    ]


def test_a_plural_message_whose_plural_changed_is_not_in_the_catalog() -> None:
    catalog = parse_po(SAMPLE)
    code = parse_po(SAMPLE.replace('msgid_plural "%(count)s bots"', 'msgid_plural "%(count)s robots"'))
    assert catalog_drift(code, catalog) == [
        "'one bot' (no reference) is not in the catalog",
        "line 23: 'one bot' is no longer in the code",
    ]


def test_the_makefile_skips_no_source_folder() -> None:
    ignored = messages_ignore()
    assert {"data", "docs", "tests", "bench"} <= set(ignored)
    assert not {"broker", "plugins", "sessionbot", "adminauth", "examples"} & set(ignored)
