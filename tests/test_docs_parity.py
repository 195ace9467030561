"""The docs: every English doc has Spanish and Chinese counterparts with the same sections,
every relative link resolves inside the repository, and the bridge protocol has one copy.

Sections are compared by heading level, in order: a translation may word a heading as it
likes, but it must have a heading at the same place and level as the English one.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LANGUAGES = ("es", "zh-hans")
# Docs kept in English alone: contributors' and implementers' references, and measurements.
ENGLISH_ONLY = frozenset({"CONTRIBUTING.md", "docs/bridge-protocol.md", "docs/benchmarks.md"})
SKIPPED_DIRS = frozenset({".git", ".venv", "node_modules", "mutants", "staticfiles"})

_FENCE = re.compile(r"^\s*(```|~~~)")
_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")


_CODE_SPAN = re.compile(r"`([^`]+)`")


@dataclass(frozen=True, slots=True)
class Section:
    """A heading and what a translation keeps verbatim under it: code spans and link targets."""

    level: int
    title: str
    markers: frozenset[str]


def sections(text: str) -> list[Section]:
    """The sections of ``text``, one per Markdown heading outside fenced code blocks."""
    found: list[Section] = []
    level, title, markers, in_fence = 0, "", set[str](), False
    for line in text.splitlines():
        if _FENCE.match(line):
            in_fence = not in_fence
            continue
        match = None if in_fence else _HEADING.match(line)
        if match:
            if level:
                found.append(Section(level, title, frozenset(markers)))
            level, title, markers = len(match.group(1)), match.group(2), set()
        elif not in_fence:
            markers.update(_CODE_SPAN.findall(line), _LINK.findall(line))
    if level:
        found.append(Section(level, title, frozenset(markers)))
    return found


def headings(text: str) -> list[tuple[int, str]]:
    """The Markdown headings of ``text`` as (level, title), outside fenced code blocks."""
    return [(section.level, section.title) for section in sections(text)]


def _likeness(a: Section, b: Section) -> float:
    """How well two sections of the same level correspond: 1, plus the share of shared markers."""
    shared = len(a.markers & b.markers) / len(a.markers | b.markers) if a.markers | b.markers else 0.0
    return 1.0 + shared


def section_gaps(english: str, translated: str) -> list[str]:
    """The English sections a translation lacks and the sections it has in excess, by name.

    Sections are aligned in order (the best alignment by level and by the code spans and
    links they share); empty when every English section has a counterpart at the same
    level and place, that is when both have the same headings at each level in order.
    """
    ours, theirs = sections(english), sections(translated)
    # score[i][j]: the best alignment of ours[i:] with theirs[j:].
    score = [[0.0] * (len(theirs) + 1) for _ in range(len(ours) + 1)]
    for i in range(len(ours) - 1, -1, -1):
        for j in range(len(theirs) - 1, -1, -1):
            paired = score[i + 1][j + 1] + _likeness(ours[i], theirs[j]) if ours[i].level == theirs[j].level else 0.0
            score[i][j] = max(paired, score[i + 1][j], score[i][j + 1])
    gaps: list[str] = []
    i = j = 0
    while i < len(ours) or j < len(theirs):
        pairs = i < len(ours) and j < len(theirs) and ours[i].level == theirs[j].level
        if pairs and score[i][j] == score[i + 1][j + 1] + _likeness(ours[i], theirs[j]):
            i, j = i + 1, j + 1
            continue
        if i < len(ours) and (j == len(theirs) or score[i][j] == score[i + 1][j]):
            gaps.append(f"missing section {i + 1}: {'#' * ours[i].level} {ours[i].title}")
            i += 1
        else:
            gaps.append(f"section the English doc does not have: {'#' * theirs[j].level} {theirs[j].title}")
            j += 1
    return gaps


def outline(text: str) -> str:
    """The heading levels of ``text`` in order, e.g. ``1 2 2 3 2``, to show beside a gap."""
    return " ".join(str(level) for level, _title in headings(text))


def _markdown_files() -> Iterator[Path]:
    for path in sorted(ROOT.rglob("*.md")):
        parts = path.relative_to(ROOT).parts
        if not SKIPPED_DIRS.intersection(parts):
            yield path


def _outside_fences(text: str) -> str:
    kept, in_fence = [], False
    for line in text.splitlines():
        if _FENCE.match(line):
            in_fence = not in_fence
        elif not in_fence:
            kept.append(line)
    return "\n".join(kept)


def broken_links(path: Path, text: str, *, root: Path) -> list[str]:
    """Relative link targets in ``text`` (a file at ``path``) that do not exist in ``root``."""
    broken = []
    for target in _LINK.findall(_outside_fences(text)):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
            continue  # a URL with a scheme, or an anchor in the same page
        resolved = (path.parent / target.split("#", 1)[0]).resolve()
        if not resolved.is_relative_to(root) or not resolved.exists():
            broken.append(target)
    return broken


def english_docs() -> list[str]:
    docs = ["README.md", "CONTRIBUTING.md", *(f"docs/{p.name}" for p in sorted((ROOT / "docs").glob("*.md")))]
    return [d for d in docs if (ROOT / d).exists()]


def translation_path(english: str, language: str) -> str:
    return f"docs/{language}/{Path(english).name}"


TRANSLATED = [d for d in english_docs() if d not in ENGLISH_ONLY]


# --- the checkers, on samples -------------------------------------------------------------

SAMPLE_EN = """# Title
## Install
```sh
# not a heading: a shell comment
```
## Configure
### Environment
## Run
"""


def test_headings_skip_code_blocks() -> None:
    assert headings(SAMPLE_EN) == [(1, "Title"), (2, "Install"), (2, "Configure"), (3, "Environment"), (2, "Run")]


def test_same_sections_in_other_words_pass() -> None:
    translated = "# Título\n## Instalar\n## Configurar\n### Entorno\n## Ejecutar\n"
    assert section_gaps(SAMPLE_EN, translated) == []


def test_a_missing_section_is_named() -> None:
    translated = "# Título\n## Instalar\n## Configurar\n## Ejecutar\n"
    assert section_gaps(SAMPLE_EN, translated) == ["missing section 4: ### Environment"]


def test_a_missing_last_section_is_named() -> None:
    translated = "# Título\n## Instalar\n## Configurar\n### Entorno\n"
    assert section_gaps(SAMPLE_EN, translated) == ["missing section 5: ## Run"]


def test_an_extra_section_is_reported() -> None:
    translated = "# Título\n## Instalar\n## Configurar\n### Entorno\n## Ejecutar\n## Historia\n"
    assert section_gaps(SAMPLE_EN, translated) == ["section the English doc does not have: ## Historia"]


def test_the_missing_one_of_sections_at_one_level_is_named() -> None:
    english = "# Ops\n## Processes\nRun `runbroker`.\n## Plugins file\nSee `importplugins`.\n## Admin\nOpen `/a/`.\n"
    translated = "# Operación\n## Procesos\nEjecuta `runbroker`.\n## El admin\nAbre `/a/`.\n"
    assert section_gaps(english, translated) == ["missing section 3: ## Plugins file"]


def test_broken_and_outside_links_are_found(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "here.md").write_text("x")
    page = tmp_path / "docs" / "page.md"
    text = (
        "[ok](here.md) [ok with anchor](here.md#part) [web](https://example.org/x.md) [self](#top)\n"
        "[gone](missing.md) [outside](../../shared/bridge-protocol.md)\n"
        "```\n[in code](not-checked.md)\n```\n"
    )
    assert broken_links(page, text, root=tmp_path) == ["missing.md", "../../shared/bridge-protocol.md"]


# --- the repository's docs ------------------------------------------------------------------


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("english", TRANSLATED)
def test_translation_has_the_same_sections(english: str, language: str) -> None:
    translated = ROOT / translation_path(english, language)
    assert translated.exists(), f"{english} has no {language} translation at {translated.relative_to(ROOT)}"
    english_text, translated_text = (ROOT / english).read_text(encoding="utf-8"), translated.read_text(encoding="utf-8")
    gaps = section_gaps(english_text, translated_text)
    assert not gaps, (
        f"{translated.relative_to(ROOT)} against {english}: {'; '.join(gaps)}\n"
        f"English:     {outline(english_text)}\ntranslation: {outline(translated_text)}"
    )


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_translation_has_an_english_doc(language: str) -> None:
    english_names = {Path(d).name for d in TRANSLATED}
    orphans = sorted(p.name for p in (ROOT / "docs" / language).glob("*.md") if p.name not in english_names)
    assert not orphans, f"docs/{language}/ has docs without an English original: {orphans}"


def test_english_only_docs_exist() -> None:
    assert all((ROOT / d).exists() for d in ENGLISH_ONLY)


@pytest.mark.parametrize("path", list(_markdown_files()), ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(path: Path) -> None:
    assert broken_links(path, path.read_text(encoding="utf-8"), root=ROOT) == []


@pytest.mark.parametrize("path", list(_markdown_files()), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_doc_points_at_shared(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert "../shared/" not in text
    assert "shared/bridge-protocol" not in text


def test_one_copy_of_the_bridge_protocol() -> None:
    copies = [p for p in _markdown_files() if p.name == "bridge-protocol.md"]
    assert [p.relative_to(ROOT).as_posix() for p in copies] == ["docs/bridge-protocol.md"]
