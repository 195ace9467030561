"""The plugin output sanitizer: one plugin line is one bounded, escaped log line."""

from __future__ import annotations

import pytest

from plugins.sandbox.output import CAP, OutputLines, line_escape


def lines(*chunks: bytes, cap: int = 12, budget: int = 1000, window: float = 60.0, at: float = 0.0) -> list[str]:
    """Feed ``chunks`` one read at a time (all at time ``at``), then end of file."""
    out = OutputLines(cap=cap, budget=budget, window=window, line_cost=0)
    got: list[str] = []
    for chunk in chunks:
        got += out.feed(chunk, at)
    return got + out.end()


ESCAPES = {
    "plain text stays": ("héllo wörld €", "héllo wörld €"),
    "a tab stays": ("a\tb", "a\tb"),
    "NUL": ("a\x00b", "a\\x00b"),
    "C0 escape (terminal colours)": ("\x1b[31mred", "\\x1b[31mred"),
    "unit separator, last of C0": ("\x1f", "\\x1f"),
    "a newline": ("a\nb", "a\\nb"),
    "a carriage return": ("a\rb", "a\\rb"),
    "space, first printable": (" ", " "),
    "tilde, last before DEL": ("~", "~"),
    "DEL": ("\x7f", "\\x7f"),
    "C1: NEL": ("\x85", "\\x85"),
    "C1: first and last": ("\x80\x9f", "\\x80\\x9f"),
    "no-break space, after C1": ("\xa0", "\xa0"),
    "line separator": ("a\u2028b", "a\\u2028b"),
    "paragraph separator": ("\u2029", "\\u2029"),
    "the characters around the separators stay": ("\u2027\u202a", "\u2027\u202a"),
    "a lone high surrogate": ("\ud800", "\\ud800"),
    "a lone low surrogate": ("\udfff", "\\udfff"),
    "a byte that was not UTF-8 (surrogateescape)": ("\udcff", "\\xff"),
    "the first byte surrogateescape makes": ("\udc80", "\\x80"),
    "a surrogate just below those bytes": ("\udc7f", "\\udc7f"),
    "a surrogate just above those bytes": ("\udd00", "\\udd00"),
    "the last character before surrogates": ("\ud7ff", "\ud7ff"),
    "the first character after surrogates": ("\ue000", "\ue000"),
}


@pytest.mark.parametrize("case", list(ESCAPES))
def test_line_escape_leaves_no_character_that_ends_or_disguises_a_line(case) -> None:
    text, expected = ESCAPES[case]
    assert line_escape(text) == expected


READS = {
    "empty input": ([], []),
    "an empty read": ([b""], []),
    "one line": ([b"hello\n"], ["hello"]),
    "an empty line": ([b"\n"], [""]),
    "two lines in one read": ([b"a\nb\n"], ["a", "b"]),
    "a line across reads": ([b"he", b"llo\n"], ["hello"]),
    "no final newline: flushed at end": ([b"tail"], ["tail"]),
    "exactly the cap": ([b"123456789012\n"], ["123456789012"]),
    "one past the cap": ([b"1234567890123\n"], ["123456789012 [1 more characters cut]"]),
    "past the cap across reads": ([b"12345678", b"90123", b"ab\n"], ["123456789012 [3 more characters cut]"]),
    "the cap counts escaped characters": ([b"1234567890\x00\n"], ["1234567890 [1 more characters cut]"]),
    "an escape that just fits": ([b"12345678\x00\n"], ["12345678\\x00"]),
    "the cut counts characters, not bytes": (
        [("1234567890a" + "é" * 3 + "\n").encode()],
        ["1234567890aé [2 more characters cut]"],
    ),
    "a character split across reads": ([b"\xe2\x82", b"\xac\n"], ["€"]),
    "a four-byte character split three ways": ([b"\xf0\x9f", b"\x98", b"\x80\n"], ["\U0001f600"]),
    "CRLF is a line end": ([b"a\r\nb\r\n"], ["a", "b"]),
    "CR, then LF in the next read": ([b"a\r", b"\nb\n"], ["a", "b"]),
    "CR, then more of the line in the next read": ([b"a\r", b"b\n"], ["a\\rb"]),
    "a CR alone": ([b"a\rb\n"], ["a\\rb"]),
    "a final CR": ([b"a\r"], ["a"]),
    "a forged log line": ([b"\nERR: x\r"], ["", "ERR: x"]),
    "NUL": ([b"a\x00b\n"], ["a\\x00b"]),
    "invalid UTF-8": ([b"a\xffb\n"], ["a\\xffb"]),
    "an encoded lone surrogate (not UTF-8)": ([b"\xed\xa0\x80\n"], ["\\xed\\xa0\\x80"]),
    "a character cut short by the end": ([b"ok\xe2\x82"], ["ok\\xe2\\x82"]),
    "U+2028 in UTF-8": ([b"a\xe2\x80\xa8b\n"], ["a\\u2028b"]),
    "a cut line then a short one": ([b"1234567890123\nab\n"], ["123456789012 [1 more characters cut]", "ab"]),
}


@pytest.mark.parametrize("case", list(READS))
def test_each_plugin_line_becomes_one_bounded_escaped_line(case) -> None:
    chunks, expected = READS[case]
    assert lines(*chunks) == expected


def test_a_ten_megabyte_line_is_one_line_of_the_cap() -> None:
    out = OutputLines()
    got: list[str] = []
    for _ in range(160):
        got += out.feed(b"x" * 65536, 0.0)
    got += out.feed(b"\nnext\n", 0.0)
    assert got == ["x" * CAP + f" [{160 * 65536 - CAP} more characters cut]", "next"]


NOTE = "[{n} lines dropped: more than 10 characters in 60 s]"
BUDGETS: dict[str, tuple[list[tuple[float, bytes]], float, list[str]]] = {
    "under the budget": ([(0, b"12345\n")], 0, ["12345"]),
    "one short of the budget, then two more": (
        [(0, b"12345\n6789\nx\ny\n")],
        0,
        ["12345", "6789", "x", NOTE.format(n=1)],
    ),
    "exactly the budget, then one more": ([(0, b"12345\n67890\nx\n")], 0, ["12345", "67890", NOTE.format(n=1)]),
    "one past the budget": ([(0, b"1234567890a\nb\n")], 0, ["1234567890a", NOTE.format(n=1)]),
    "a flood in one read is counted": ([(0, b"1234567890\n"), (1, b"a\nb\nc\nd")], 0, ["1234567890", NOTE.format(n=4)]),
    "a flood without a newline is one line": ([(0, b"1234567890\n"), (1, b"abc")], 0, ["1234567890", NOTE.format(n=1)]),
    "a flood ending in a newline": ([(0, b"1234567890\n"), (1, b"a\nb\n")], 0, ["1234567890", NOTE.format(n=2)]),
    "a line begun over budget is dropped whole": (
        [(0, b"1234567890\nab"), (1, b"cd\n"), (60, b"x\n")],
        0,
        ["1234567890", NOTE.format(n=1), "x"],
    ),
    "the window ends: the note, then lines again": (
        [(0, b"1234567890\nlost\n"), (60, b"12345\n6789\nx\ny\n")],
        0,
        ["1234567890", NOTE.format(n=1), "12345", "6789", "x", NOTE.format(n=1)],
    ),
    "just before the window ends: still dropped": (
        [(0, b"1234567890\nlost\n"), (59.9, b"lost\n")],
        0,
        ["1234567890", NOTE.format(n=2)],
    ),
    "a quiet window ends with no note": ([(0, b"12345\n"), (61, b"67890\n")], 0, ["12345", "67890"]),
    "a tick at the window's end brings the note": ([(0, b"1234567890\nlost\n")], 60, ["1234567890", NOTE.format(n=1)]),
}


@pytest.mark.parametrize("case", list(BUDGETS))
def test_past_the_budget_lines_are_dropped_and_counted_once_the_window_ends(case) -> None:
    reads, tick, expected = BUDGETS[case]
    out = OutputLines(cap=100, budget=10, window=60.0, line_cost=0)
    got: list[str] = []
    for at, chunk in reads:
        got += out.feed(chunk, at)
    if tick:
        got += out.tick(tick)
        assert out.tick(tick) == []  # said once
    assert got + out.end() == expected


def test_a_tick_inside_the_window_says_nothing_and_keeps_the_count() -> None:
    out = OutputLines(cap=100, budget=10, window=60.0, line_cost=0, now=100.0)
    assert out.feed(b"1234567890\nlost\n", 100.0) == ["1234567890"]
    assert out.tick(159.9) == []
    assert out.dropped == 1
    assert out.tick(160.0) == ["[1 lines dropped: more than 10 characters in 60 s]"]
    assert out.dropped == 0
    assert out.feed(b"again\n", 160.5) == ["again"]


def test_the_defaults_bound_a_line_and_a_minute() -> None:
    out = OutputLines()
    assert (out.cap, out.budget, out.window, out.line_cost) == (2000, 256 * 1024, 60.0, 64)


def test_each_line_costs_its_characters_and_the_line_cost() -> None:
    out = OutputLines(cap=100, budget=20, line_cost=5)
    assert out.feed(b"12345\n\n\n", 0.0) == ["12345", "", ""]  # 10 + 5 + 5: the budget is spent
    assert out.feed(b"\n", 0.0) == []
    assert out.dropped == 1
