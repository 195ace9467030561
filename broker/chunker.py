"""Split a reply into parts Session clients show whole.

Pure module: no Django import. Every part holds at most ``size`` code points, counting the
repairs below. A part ends, by preference, after a paragraph, a line, a sentence or a word,
looking no further back than half a part; it never ends inside a grapheme cluster unless one
cluster alone is longer than a part.

Fenced code blocks stay valid in every part: a part that ends inside a fence gets a closing
fence, and the next part reopens it with the original opening line (language tag included).
With ``markers`` each part of a split reply ends with ``(i/n)`` on a line of its own.

**Joining.** Each :class:`Part` is ``prefix + body + suffix + marker``: ``prefix`` is the
reopened fence line with its newline, ``suffix`` the added closing fence, ``marker`` the
``\\n(i/n)`` line. The original text is exactly the concatenation of the bodies; without
repairs or markers that is simply ``"".join(chunk_text(...))``.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

import regex

# An opening fence: up to 3 spaces, 3-10 backticks or tildes, a short info string.
_FENCE_OPEN = regex.compile(r"(?m)^( {0,3})(`{3,10}|~{3,10})([^`\n]{0,30})$")
_GRAPHEME = regex.compile(r"\X")
_PARAGRAPH = regex.compile(r"\n[ \t]*\n\s*")
_LINE = regex.compile(r"\n")
_SENTENCE = regex.compile(r"[.!?\u2026][\"')\]\u2019\u201d]*\s+|[\u3002\uff01\uff1f]+")  # ASCII and CJK
_WORD = regex.compile(r"\s+")
_KINDS = (_PARAGRAPH, _LINE, _SENTENCE, _WORD)


@dataclass(frozen=True, slots=True)
class Fence:
    """A fenced block: ``open_end`` is just after the opening line's newline."""

    open_start: int
    open_end: int
    close_start: int  # start of the closing line, or len(text) when never closed
    close_end: int
    open_line: str
    marker: str


@dataclass(frozen=True, slots=True)
class Part:
    prefix: str
    body: str
    suffix: str
    marker: str = ""

    @property
    def text(self) -> str:
        return self.prefix + self.body + self.suffix + self.marker


def fences_find(text: str) -> list[Fence]:
    """Return the fenced code blocks of ``text`` in order (CommonMark-like, simplified)."""
    fences: list[Fence] = []
    pos = 0
    while True:
        m = _FENCE_OPEN.search(text, pos)
        if m is None or m.end() >= len(text):
            return fences  # an opening line at the very end opens nothing worth repairing
        marker = m.group(2)
        body_start = m.end() + 1
        closing = regex.compile(r"(?m)^ {0,3}" + regex.escape(marker[0]) + "{" + str(len(marker)) + r",}[ \t]*$")
        c = closing.search(text, body_start)
        if c is None:
            fences.append(Fence(m.start(), body_start, len(text), len(text), m.group(0), marker))
            return fences
        close_end = min(c.end() + 1, len(text))
        fences.append(Fence(m.start(), body_start, c.start(), close_end, m.group(0), marker))
        pos = close_end


class _Text:
    """Precomputed break positions of one text."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.bounds = [m.end() for m in _GRAPHEME.finditer(text)]
        bound_set = set(self.bounds)
        self.kinds = [[p for p in (m.end() for m in k.finditer(text)) if p in bound_set] for k in _KINDS]
        self.fences = fences_find(text)
        self._fence_starts = [f.open_start for f in self.fences]

    def fence_at(self, pos: int) -> Fence | None:
        """The fence whose body a part ending (or starting) at ``pos`` is inside."""
        i = bisect.bisect_right(self._fence_starts, pos) - 1
        if i >= 0:
            f = self.fences[i]
            if f.open_end <= pos <= f.close_start and pos < len(self.text):
                return f
        return None

    def allowed(self, pos: int) -> bool:
        """Never end a part inside a fence line: the fence would be neither open nor closed."""
        i = bisect.bisect_right(self._fence_starts, pos) - 1
        if i < 0:
            return True
        f = self.fences[i]
        return not (f.open_start < pos < f.open_end or f.close_start < pos < f.close_end)

    def best_break(self, start: int, room: int) -> int:
        """The best end for a part that starts at ``start`` and may hold ``room`` code points."""
        limit = start + room
        if limit >= len(self.text):
            return len(self.text)
        floor = start + room // 2
        for positions in [*self.kinds, self.bounds]:
            i = bisect.bisect_right(positions, limit) - 1
            while i >= 0 and positions[i] > start:
                if positions[i] < floor and positions is not self.bounds:
                    break
                if self.allowed(positions[i]):
                    return positions[i]
                i -= 1
        return limit  # one grapheme cluster longer than a part: the limit wins


def _close_for(fence: Fence, body: str) -> str:
    return fence.marker if body.endswith("\n") else "\n" + fence.marker


def _split(text: str, size: int, reserve: int) -> list[Part]:
    info = _Text(text)
    parts: list[Part] = []
    start, reopen = 0, None
    while start < len(text):
        prefix = reopen.open_line + "\n" if reopen is not None else ""
        room = max(size - reserve - len(prefix), 1)
        end = info.best_break(start, room)
        fence = info.fence_at(end)
        # Repair only when the fence lines leave most of the part for text.
        if fence is not None and len(fence.marker) + 1 + len(fence.open_line) + 1 <= room // 2:
            end = info.best_break(start, room - len(fence.marker) - 1)
            fence = info.fence_at(end)
        else:
            fence = None
        body = text[start:end]
        parts.append(Part(prefix, body, _close_for(fence, body) if fence is not None else ""))
        start, reopen = end, fence
    return parts


def chunk_split(text: str, *, size: int = 2000, markers: bool = False) -> list[Part]:
    """Split ``text`` into parts; see the module docstring for what each part holds."""
    if size < 32:
        raise ValueError("size must be at least 32 code points")
    if len(text) <= size:
        return [Part("", text, "")]
    if not markers:
        return _split(text, size, 0)
    digits = 1
    while True:
        parts = _split(text, size, len(f"\n({'9' * digits}/{'9' * digits})"))
        if len(str(len(parts))) <= digits:
            n = len(parts)
            return [Part(p.prefix, p.body, p.suffix, f"\n({i}/{n})") for i, p in enumerate(parts, start=1)]
        digits += 1


def chunk_text(text: str, *, size: int = 2000, markers: bool = False) -> list[str]:
    """Return the texts of the parts of ``text`` (one part when it fits)."""
    return [p.text for p in chunk_split(text, size=size, markers=markers)]
