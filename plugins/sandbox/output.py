"""Turn what a plugin host writes on stderr into log lines: bounded, escaped, one per line.

Pure module (no Django, no I/O). A plugin controls every byte of its output, so each of
its lines must become exactly one log line the plugin cannot shape into something else:
control characters (C0 but tab, DEL, C1), the line and paragraph separators and bytes
that are not UTF-8 are escaped (``\\x1b``, ``\\u2028``); a line longer than ``cap``
characters is cut, saying how much; past ``budget`` characters per ``window`` seconds
(each line costing ``line_cost`` more), lines are dropped and counted, and the next
window starts with one line saying how many.

Memory stays bounded whatever arrives: of a line only its first ``cap`` characters are
kept, the rest is counted. The reader (``plugins.sandbox.drain``) adds the plugin's name.
"""

from __future__ import annotations

import encodings.utf_8
import re

CAP = 2000
BUDGET = 256 * 1024
WINDOW = 60.0
LINE_COST = 64  # what the log adds to each line (time, level, name): a budget of empty lines is no flood
_UNSAFE = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")


def _escape_char(char: str) -> str:
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:  # a byte that is not UTF-8, kept by surrogateescape
        return f"\\x{code - 0xDC00:02x}"
    return char.encode("unicode_escape").decode("ascii")


def line_escape(text: str) -> str:
    """``text`` with every character that could end or disguise a log line escaped."""
    return _UNSAFE.sub(lambda m: _escape_char(m.group()), text)


class OutputLines:
    """Feed bytes as they come; get back the finished log lines (without the prefix)."""

    def __init__(
        self,
        *,
        cap: int = CAP,
        budget: int = BUDGET,
        window: float = WINDOW,
        line_cost: int = LINE_COST,
        now: float = 0.0,
    ) -> None:
        self.cap, self.budget, self.window, self.line_cost = cap, budget, window, line_cost
        self._decoder = encodings.utf_8.IncrementalDecoder("surrogateescape")
        self._kept: list[str] = []  # the current line's first characters, escaped
        self._room = cap  # escaped characters the current line may still add
        self._cut = 0  # characters of the current line past the cap
        self._held = ""  # a CR that ended the last read: part of a CRLF, or of the line
        self._started = now  # the current budget window
        self._spent = 0
        self.dropped = 0

    def feed(self, data: bytes, now: float) -> list[str]:
        """The lines ``data`` completes, after any note about lines dropped before ``now``."""
        out = self.tick(now)
        text = self._decoder.decode(data)
        if self._over():
            # Over budget: count the lines without looking at them, so a flood costs little.
            ended, newline, rest = text.rpartition("\n")
            if newline:
                self.dropped += ended.count("\n") + 1
                self._reset()
            self._add(rest)
            return out
        pieces = text.split("\n")
        for piece in pieces[:-1]:
            self._add(piece)
            out += self._finish()
        self._add(pieces[-1])
        return out

    def tick(self, now: float) -> list[str]:
        """Close the budget window if it is over: one line counting what it dropped."""
        if now - self._started < self.window:
            return []
        self._started, self._spent = now, 0
        return self._note()

    def end(self) -> list[str]:
        """At end of file: the last line even without its newline, then the dropped count."""
        self._add(self._decoder.decode(b"", final=True))
        out = self._finish() if self._kept or self._cut else []
        return out + self._note()

    def _note(self) -> list[str]:
        if not self.dropped:
            return []
        note = f"[{self.dropped} lines dropped: more than {self.budget} characters in {self.window:g} s]"
        self.dropped = 0
        return [note]

    def _add(self, text: str) -> None:
        # A carriage return is held back: before a newline it belongs to the line end (CRLF).
        text = self._held + text
        self._held = "\r" if text.endswith("\r") else ""
        text = text.removesuffix(self._held)
        # One character at a time up to the cap, never further: a 10 MB line costs a count.
        for index, char in enumerate(text):
            piece = line_escape(char)
            if len(piece) > self._room:
                self._cut += len(text) - index
                self._room = 0
                return
            self._kept.append(piece)
            self._room -= len(piece)

    def _reset(self) -> None:
        self._kept, self._room, self._cut, self._held = [], self.cap, 0, ""

    def _over(self) -> bool:
        return self._spent >= self.budget

    def _finish(self) -> list[str]:
        line = "".join(self._kept)
        if self._cut:
            line += f" [{self._cut} more characters cut]"
        self._reset()
        if self._over():
            self.dropped += 1
            return []
        self._spent += len(line) + self.line_cost
        return [line]
