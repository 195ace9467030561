"""Which visible text of a translated page is still English: a pure rule, table-tested.

A page in Spanish or Chinese is compared with the same page in English. A word of Latin
letters in the translated page that the English page shows too is left untranslated,
unless it is a name (``PROPER_NOUNS``), a word both languages spell alike, or data the
test seeded (the caller passes those words), or, in a line not set in capitals, a word in
capitals (an acronym or a placeholder such as NAME). Chinese text with an ``s`` glued to
its end (``本地化文档s``) is an English plural added to a translated word.
"""

from __future__ import annotations

import re

# Names, symbols and technical terms, the same in every language; compared in lower case.
_NAMES = """
session sessionbot celery redis postgresql sqlite django chromium python pep totp otp qr ip url id ids
json yaml git pypi hash hashes sha api http https cpu mb ms min utc ldap english español bot bots
plugin plugins commit wheel sdist zip tar host internet docstring worker workers mac unix accept bytes
runbroker runbridge botstatus
"""
# Spanish words spelled as English ones, which a correct translation keeps (Django's own
# Spanish keeps "staff", "Control" and "Single Sign-On").
_SPANISH_ALIKE = """
a de del el en la las los no o y e u un una por para con sin se es al su sus lo
error general local normal total final real simple central personal staff single sign control chat
"""
PROPER_NOUNS = frozenset(_NAMES.split())
SPANISH_ALIKE = frozenset(_SPANISH_ALIKE.split())

_WORD = re.compile(r"[A-Za-z][A-Za-z'\u2019]*")
_KEY = re.compile(r"[A-Za-z]+ 键")  # a keyboard key's name, as Django's Chinese writes it: "Command 键"
_CJK = re.compile(r"[\u3400-\u9fff]")
_GLUED = re.compile(r"[\u3400-\u9fff]s\b")


def _words(line: str) -> list[str]:
    # Words inside identifiers (snake_case, dotted.names, paths, e-mail, hex) are data, not prose.
    line = _KEY.sub("", line)
    tokens = re.split(r"[\s,;:()\[\]\"“”«»·|]+", line)
    found = []
    command = False
    for token in tokens:
        token = token.strip(".!?¡¿…'\u2019")
        # The word after ``manage.py`` is the name of a command (``manage.py rollup``).
        if token and _WORD.fullmatch(token) and not command:
            found.append(token)
        command = token.endswith("manage.py")
    return found


def english_left(*, translated: str, english: str, language: str, data: frozenset[str] = frozenset()) -> list[str]:
    """The lines of ``translated`` (a page's visible text) that still show English."""
    english_words = {word.lower() for line in english.splitlines() for word in _words(line)}
    allowed = PROPER_NOUNS | {word.lower() for word in data}
    if language == "es":
        allowed |= SPANISH_ALIKE
    found = []
    for raw in translated.splitlines():
        line = raw.strip()
        if not line:
            continue
        # In a line not set in capitals, a word in capitals is an acronym or a placeholder (NAME).
        mixed = line != line.upper() or bool(_CJK.search(line))
        left = [
            word
            for word in _words(line)
            if len(word) > 1
            and word.lower() in english_words
            and word.lower() not in allowed
            and not (mixed and word.isupper())
        ]
        if left or (language.startswith("zh") and _GLUED.search(line)):
            found.append(line)
    return found
