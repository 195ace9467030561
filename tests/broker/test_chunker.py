"""Replies split into parts Session shows whole, and that put back together give the reply."""

from __future__ import annotations

import pytest
import regex
from hypothesis import given, settings
from hypothesis import strategies as st

from broker.chunker import chunk_split, chunk_text, fences_find

FAMILY = "👨\u200d👩\u200d👧\u200d👦"  # one grapheme cluster, 7 code points
FLAG = "🇪🇸"
ACCENT = "e\u0301"


@pytest.mark.parametrize(
    ("text", "size", "expected"),
    [
        ("short", 2000, ["short"]),
        ("", 2000, [""]),
        ("a" * 40, 40, ["a" * 40]),
        ("a" * 41, 40, ["a" * 40, "a"]),
        # paragraph beats line and word
        (
            "alpha beta gamma delta\n\nepsilon zeta eta theta",
            40,
            ["alpha beta gamma delta\n\n", "epsilon zeta eta theta"],
        ),
        # line beats sentence
        (
            "First sentence. Second one\nthird line goes on and on",
            40,
            ["First sentence. Second one\n", "third line goes on and on"],
        ),
        # sentence beats word
        (
            "One two three four. Five six seven eight nine ten",
            40,
            ["One two three four. ", "Five six seven eight nine ten"],
        ),
        # word when nothing better
        ("one two three four five six seven eight nine", 40, ["one two three four five six seven eight ", "nine"]),
        # a break point in the first half of a part is too early: take a later word
        (
            "Hi.\n\nabcdefghij klmnopqrst uvwxyzabcd efghijklmn opq",
            40,
            ["Hi.\n\nabcdefghij klmnopqrst uvwxyzabcd ", "efghijklmn opq"],
        ),
        # CJK sentences end without a space
        ("这是第一句。" * 8, 40, ["这是第一句。" * 6 + "", "这是第一句。" * 2]),
    ],
)
def test_it_splits_at_the_best_boundary(text, size, expected) -> None:
    assert chunk_text(text, size=size) == expected


@pytest.mark.parametrize("cluster", [FAMILY, FLAG, ACCENT, "\r\n"])
def test_it_never_splits_a_grapheme_cluster(cluster) -> None:
    text = "x" * 38 + cluster * 20
    parts = chunk_text(text, size=40)
    assert "".join(parts) == text
    for part in parts:
        assert len(part) <= 40
        assert regex.findall(r"\X", part) == regex.findall(r"\X", part[: len(part)])
    assert all(p.startswith(cluster) or p.startswith("x") for p in parts)


def test_a_code_block_is_closed_and_reopened_with_its_language() -> None:
    code = "Here:\n```python\n" + "".join(f"print({i})\n" for i in range(40)) + "```\nDone."
    parts = chunk_split(code, size=200)
    assert len(parts) > 1
    assert parts[0].suffix == "```"
    assert parts[1].prefix == "```python\n"
    for part in parts:
        assert len(part.text) <= 200
        assert all(f.close_start < len(part.text) for f in fences_find(part.text))
    assert "".join(p.body for p in parts) == code


def test_markers_count_toward_the_limit() -> None:
    text = "word " * 200
    parts = chunk_text(text, size=100, markers=True)
    assert all(len(p) <= 100 for p in parts)
    assert parts[0].endswith(f"\n(1/{len(parts)})")
    assert parts[-1].endswith(f"\n({len(parts)}/{len(parts)})")
    assert chunk_text("fits", size=100, markers=True) == ["fits"]


def test_a_5000_character_reply_becomes_three_parts() -> None:
    text = " ".join(f"w{i:05d}" for i in range(900))[:5000]
    parts = chunk_text(text)
    assert len(parts) == 3
    assert "".join(parts) == text


alphabet = st.sampled_from([*"ab .!?\n\t`~ ", "```", "```py\n", "\n```\n", FAMILY, FLAG, ACCENT, "\r\n", "。", "é"])
texts = st.lists(alphabet | st.text(max_size=5), max_size=400).map("".join)


@settings(max_examples=300, deadline=None)
@given(text=texts, size=st.integers(32, 300), markers=st.booleans())
def test_every_part_fits_and_the_bodies_join_to_the_text(text, size, markers) -> None:
    parts = chunk_split(text, size=size, markers=markers)
    assert all(len(p.text) <= size for p in parts)
    assert "".join(p.body for p in parts) == text
    assert all(p.body for p in parts) or text == ""
    for part in parts:
        assert part.text == part.prefix + part.body + part.suffix + part.marker


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=3000), size=st.integers(32, 2000))
def test_without_fences_or_markers_the_parts_join_to_the_text(text, size) -> None:
    text = text.replace("`", "'").replace("~", "-")
    parts = chunk_text(text, size=size)
    assert "".join(parts) == text
    assert all(len(p) <= size for p in parts)


@settings(max_examples=200, deadline=None)
@given(
    pieces=st.lists(st.sampled_from(["a", " ", "\n", FAMILY, FLAG, ACCENT, "ñ"]), max_size=600),
    size=st.integers(40, 120),
)
def test_parts_end_on_grapheme_boundaries(pieces, size) -> None:
    text = "".join(pieces)
    bounds = {0} | {m.end() for m in regex.finditer(r"\X", text)}
    offset = 0
    for part in chunk_text(text, size=size):
        offset += len(part)
        assert offset in bounds


blocks = st.lists(
    st.one_of(
        st.text(alphabet="abc .\n", max_size=200).map(lambda t: t.replace("\n", " ") + "\n"),
        st.tuples(st.sampled_from(["", "python", "js"]), st.text(alphabet="xyz ()\n", max_size=400)).map(
            lambda lc: f"```{lc[0]}\n{lc[1].rstrip()}\n```\n"
        ),
    ),
    max_size=12,
).map("".join)


@settings(max_examples=200, deadline=None)
@given(text=blocks, size=st.integers(200, 600), markers=st.booleans())
def test_every_part_holds_only_closed_code_blocks(text, size, markers) -> None:
    parts = chunk_split(text, size=size, markers=markers)
    assert "".join(p.body for p in parts) == text
    for part in parts:
        assert len(part.text) <= size
        body = part.text[: len(part.text) - len(part.marker)]
        assert all(f.close_start < len(body) for f in fences_find(body)), part
