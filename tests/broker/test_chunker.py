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


# (open_start, open_end, close_start, close_end, open_line, marker) of each fence.
@pytest.mark.parametrize(
    ("text", "fences"),
    [
        ("```py\ncode\n```\nafter", [(0, 6, 11, 15, "```py", "```")]),
        ("```\ncode", [(0, 4, 8, 8, "```", "```")]),  # never closed: the body runs to the end
        ("```\n", [(0, 4, 4, 4, "```", "```")]),
        ("text\n```", []),  # an opening line at the very end opens nothing
        ("```\nx\n```", [(0, 4, 6, 9, "```", "```")]),  # closed on the last line, no newline after
        ("~~~~ sh\nx\n~~~\ny\n~~~~~\nz", [(0, 8, 16, 22, "~~~~ sh", "~~~~")]),  # a shorter line does not close
        ("````\n```\n````\n", [(0, 5, 9, 14, "````", "````")]),
        ("  ```\nx\n   ```\t\n```\ny", [(0, 6, 8, 16, "  ```", "```"), (16, 20, 21, 21, "```", "```")]),
        ("``` `x`\nbody\n", []),  # a backtick in the info string: not a fence
        ("    ```\nx\n", []),  # four spaces: indented code, not a fence
    ],
)
def test_fences_find_table(text, fences) -> None:
    found = [(f.open_start, f.open_end, f.close_start, f.close_end, f.open_line, f.marker) for f in fences_find(text)]
    assert found == fences


def _parts(text: str, size: int, markers: bool = False) -> list[tuple[str, str, str, str]]:
    return [(p.prefix, p.body, p.suffix, p.marker) for p in chunk_split(text, size=size, markers=markers)]


CODE = "x = 1\n"
OPEN_LINE = "```a. b. c. d. e. f. g. h. i. j."  # sentences and words inside a fence line


@pytest.mark.parametrize(
    ("text", "size", "parts"),
    [
        # a part that ends at the closing line still closes its fence; the next reopens it
        (
            "Intro line here.\n```\n" + CODE * 6 + "```\nafter the block comes prose text",
            40,
            [
                ("", "Intro line here.\n```\n" + CODE * 2, "```", ""),
                ("```\n", CODE * 4 + "```\n", "", ""),
                ("", "after the block comes prose text", "", ""),
            ],
        ),
        # a code line longer than a part: cut at the limit, closed on a line of its own
        (
            "```\n" + "x" * 100 + "\n```",
            40,
            [
                ("", "```\n" + "x" * 32, "\n```", ""),
                ("```\n", "x" * 32, "\n```", ""),
                ("```\n", "x" * 32, "\n```", ""),
                ("```\n", "xxxx\n```", "", ""),
            ],
        ),
        # a fence never closed in the reply is not closed in its last part either
        (
            "```\n" + "abc def\n" * 12,
            40,
            [
                ("", "```\n" + "abc def\n" * 4, "```", ""),
                ("```\n", "abc def\n" * 4, "```", ""),
                ("```\n", "abc def\n" * 4, "", ""),
            ],
        ),
        # after a closed fence, prose is cut as prose
        (
            "```\nx\n```\n" + "word " * 20,
            40,
            [("", "```\nx\n```\n" + "word " * 6, "", ""), ("", "word " * 8, "", ""), ("", "word " * 6, "", "")],
        ),
        # repair when the fence lines take at most half a part (3 + 1 + 15 + 1 = 20 of 40) ...
        (
            "a" * 25 + "\n```" + "p" * 12 + "\n" + "code line\n" * 6 + "```\n",
            40,
            [
                ("", "a" * 25 + "\n", "", ""),
                ("", "```" + "p" * 12 + "\ncode line\ncode line\n", "```", ""),
                ("```" + "p" * 12 + "\n", "code line\ncode line\n", "", ""),
                ("", "code line\ncode line\n```\n", "", ""),
            ],
        ),
        # ... and not past it (21 of 40)
        (
            "a" * 25 + "\n```" + "p" * 13 + "\n" + "code line\n" * 6 + "```\n",
            40,
            [
                ("", "a" * 25 + "\n", "", ""),
                ("", "```" + "p" * 13 + "\ncode line\ncode line\n", "", ""),
                ("", "code line\n" * 4, "", ""),
                ("", "```\n", "", ""),
            ],
        ),
        # never inside a fence line: back to the line before it, past the opening line's sentences
        (
            "x" * 9 + "\n" + OPEN_LINE + "\ncode\n```\n",
            41,
            [("", "x" * 9 + "\n", "", ""), ("", OPEN_LINE + "\ncode\n", "", ""), ("", "```\n", "", "")],
        ),
        # the same for the second fence of a reply
        (
            "```\na\n```\n" + OPEN_LINE + "\ncode\n```\n",
            41,
            [("", "```\na\n```\n", "", ""), ("", OPEN_LINE + "\ncode\n", "", ""), ("", "```\n", "", "")],
        ),
        # just after the opening line is a line break like any other
        (
            "```" + "p" * 17 + "\n" + "z" * 60 + "\n```",
            40,
            [("", "```" + "p" * 17 + "\n", "", ""), ("", "z" * 40, "", ""), ("", "z" * 20 + "\n```", "", "")],
        ),
        # so is just after the closing line: the whole block in one part
        (
            "Intro.\n```\n" + CODE * 3 + "```\n" + "z" * 40,
            40,
            [("", "Intro.\n```\n" + CODE * 3 + "```\n", "", ""), ("", "z" * 40, "", "")],
        ),
        # a part that would end just before the closing line is closed (and the closing line
        # itself moves to the next part)
        (
            "Intro line.\n```\n" + CODE * 3 + "```\n" + "z" * 40,
            36,
            [
                ("", "Intro line.\n```\n" + CODE * 2, "```", ""),
                ("```\n", CODE + "```\n" + "z" * 22, "", ""),
                ("", "z" * 18, "", ""),
            ],
        ),
        (
            "Intro line.\n```\n" + CODE * 3 + "```    \ntail",
            39,
            [("", "Intro line.\n```\n" + CODE * 3, "```", ""), ("```\n", "```    \ntail", "", "")],
        ),
        # a part may end just after an opening line: it closes the (empty) block
        (
            "Intro words here and more.\n```\n" + "z" * 60,
            40,
            [
                ("", "Intro words here and more.\n```\n", "```", ""),
                ("```\n", "z" * 32, "\n```", ""),
                ("```\n", "z" * 28, "", ""),
            ],
        ),
        # a fence line longer than a part is cut at the limit, like a long cluster
        (
            "intro\n```" + "p" * 30 + "\ncode\n```",
            32,
            [("", "intro\n", "", ""), ("", "```" + "p" * 29, "", ""), ("", "p\ncode\n```", "", "")],
        ),
        # a break at exactly half the part is not too early (size 41: half is 20)
        ("a" * 19 + " " + "b" * 30, 41, [("", "a" * 19 + " ", "", ""), ("", "b" * 30, "", "")]),
        # the rest of the text fits exactly: it is one part, not cut at its last word
        ("a" * 40 + "b" * 19 + " " + "c" * 20, 40, [("", "a" * 40, "", ""), ("", "b" * 19 + " " + "c" * 20, "", "")]),
        # a paragraph break a third of the way in is too early
        (
            "Hello there.\n\n" + "abcdefghij " * 6,
            40,
            [
                ("", "Hello there.\n\nabcdefghij abcdefghij ", "", ""),
                ("", "abcdefghij " * 3, "", ""),
                ("", "abcdefghij ", "", ""),
            ],
        ),
    ],
)
def test_fenced_replies_split_as_specified(text, size, parts) -> None:
    assert _parts(text, size) == parts
    assert "".join(body for _, body, _, _ in parts) == text


@pytest.mark.parametrize(
    ("text", "size", "parts"),
    [
        ("a" * 40, 40, [("", "a" * 40, "", "")]),  # it fits: no marker
        # three parts: the markers take 6 code points ("\n(1/3)")
        ("a" * 100, 40, [("", "a" * 34, "", "\n(1/3)"), ("", "a" * 34, "", "\n(2/3)"), ("", "a" * 32, "", "\n(3/3)")]),
        # thirteen parts: the markers take 8 ("\n(99/99)" at most)
        ("a" * 400, 40, [("", "a" * 32, "", f"\n({i}/13)") for i in range(1, 13)] + [("", "a" * 16, "", "\n(13/13)")]),
        (
            "Intro.\n```py\n" + CODE * 8 + "```\n",
            40,
            [
                ("", "Intro.\n```py\n" + CODE * 2, "```", "\n(1/3)"),
                ("```py\n", CODE * 4, "```", "\n(2/3)"),
                ("```py\n", CODE * 2 + "```\n", "", "\n(3/3)"),
            ],
        ),
    ],
)
def test_markers_are_counted_and_numbered(text, size, parts) -> None:
    assert _parts(text, size, markers=True) == parts


def test_the_default_part_is_2000_code_points_without_markers() -> None:
    assert chunk_text("a" * 2000) == ["a" * 2000]
    assert chunk_text("a" * 2001) == ["a" * 2000, "a"]
    assert [p.marker for p in chunk_split("a" * 2001)] == ["", ""]


def test_a_part_under_32_code_points_is_refused() -> None:
    with pytest.raises(ValueError, match=r"^size must be at least 32 code points$"):
        chunk_split("text", size=31)
    assert chunk_text("a" * 33, size=32) == ["a" * 32, "a"]
