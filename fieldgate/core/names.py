"""Normalisation of person names and identifiers, shared by queries and the store.

Names are compared in one canonical form: transliterated to ASCII, upper
case, letters only with single spaces. Transliteration comes first and from a
maintained library (``anyascii``) rather than a hand table, because accent
folding alone drops letters that are not accented ASCII letters: ``Đ``, ``Ł``,
``Ø``, ``Æ`` and ``ß`` have no decomposition, so "ĐẶNG" became "ANG" and
"SØRENSEN" "S RENSEN". Now they read DANG and SORENSEN (Æ → AE, ß → SS).

Identifiers are compared upper case without spaces or
punctuation, so ``wa-123 456`` and ``WA123456`` are the same.
"""

from __future__ import annotations

import functools
import re
import unicodedata

from anyascii import anyascii

_NOT_LETTER = re.compile(r"[^A-Za-z]+")
_SPACES = re.compile(r"\s+")
_NOT_IDENT = re.compile(r"[^0-9A-Z]+")


@functools.lru_cache(maxsize=65536)
def normalize_name(text: str) -> str:
    """Return ``text`` folded to upper-case ASCII letters and single spaces.

    Apostrophes and hyphens join (``O'Brien`` → ``OBRIEN``, ``Smith-Jones`` →
    ``SMITHJONES``) because records disagree on them far more than on letters.
    """
    # Apostrophe-like marks are dropped before transliteration, which would
    # otherwise turn some of them into letters or spaces.
    text = text.replace("'", "").replace("’", "").replace("ʼ", "").replace("-", "")
    # NFKC spells the Catalan Ŀ as L + middle dot, which also joins (L·L).
    composed = unicodedata.normalize("NFKC", text).replace("·", "")
    # Letter by letter, and letters (with their marks) only: the
    # transliterator spells symbols out as words ("🙂" would become SLIGHT
    # SMILE), and reads a few letters as digits or marks (the tone letter Ƨ
    # as "2", the glottal stop Ɂ as "'"), which must not split a word.
    if composed.isascii():
        upper = _NOT_LETTER.sub(" ", composed).upper()
    else:
        upper = "".join(
            _NOT_LETTER.sub("", anyascii(c)).upper() if unicodedata.category(c)[0] in "LM" else " "
            for c in composed
        )
    return _SPACES.sub(" ", upper).strip()


def normalize_identifier(text: str) -> str:
    """Return an identifier upper case with everything but letters and digits removed."""
    if text.isascii() and text.isalnum():  # most are: nothing to remove
        return text.upper()
    return _NOT_IDENT.sub("", text.upper())


def split_full_name(text: str) -> tuple[str, str]:
    """Split ``"DOE, JOHN"`` or ``"John Doe"`` into (surname, given names).

    With a comma the part before it is the surname; without one the last word
    is. Either part may come back empty.
    """
    if "," in text:
        surname, _, given = text.partition(",")
        return surname.strip(), given.strip()
    words = text.split()
    if not words:
        return "", ""
    if len(words) == 1:
        return words[0], ""
    return words[-1], " ".join(words[:-1])
