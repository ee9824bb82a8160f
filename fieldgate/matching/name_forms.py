"""The forms a person's name takes across naming traditions. Pure, no I/O.

A name as filed is one reading of how a person is called. The same person is
filed as ``DE LA CRUZ``, ``DELA CRUZ``, ``DELACRUZ`` or ``CRUZ``; by the
first or the second word of a compound surname (``HERNANDEZ LOPEZ``); with
the paternal surname filed as a last given name (``LOPEZ, MIGUEL
HERNANDEZ``); by a middle name (``JOHN PAUL`` known as ``PAUL``); and, for
Vietnamese names, with the middle name ``VAN`` or ``THI`` filed as the given
name (``NGUYEN, VAN TUAN``). :func:`surname_forms` and :func:`given_forms`
list those readings, and :func:`expand_names` turns a record's names into
every (surname, given name) alternative the store indexes and the matcher
scores. Each alternative beyond the name as filed is marked ``derived``: the
matcher credits it a little less (:data:`~fieldgate.matching.matcher.DERIVED_FACTOR`)
so a name as filed wins a tie.

Particles are folded to a core key *and* kept: ``DE LA CRUZ`` is indexed as
``DE LA CRUZ`` (whose joined form is ``DELACRUZ``) and as ``CRUZ``.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import NamedTuple


class CandidateName(NamedTuple):
    """One name a record's person is known by, normalised (see ``fieldgate.core.names``).

    Attributes:
        surname: normalised surname.
        given_name: normalised given name(s), possibly "".
        alias: True for a name from the record's aliases.
        derived: True for a reading of a filed name (:func:`expand_names`),
            not the name as filed.
    """

    surname: str
    given_name: str
    alias: bool = False
    derived: bool = False


PARTICLES = frozenset(
    {
        # Romance languages
        "DE",
        "DEL",
        "DELA",
        "DELLA",
        "DELLE",
        "DEI",
        "DES",
        "DU",
        "DA",
        "DAS",
        "DO",
        "DOS",
        "DI",
        "LA",
        "LAS",
        "LOS",
        "LE",
        "Y",
        "E",
        # Germanic
        "VAN",
        "VON",
        "DER",
        "DEN",
        "TER",
        "TEN",
        "VANDER",
        "VANDEN",
        "ZU",
        # Arabic and Somali
        "AL",
        "EL",
        "BIN",
        "BINT",
        "IBN",
        "BEN",
        "ABU",
    }
)
"""Surname words folded away for the core key (kept in the name as filed)."""

JOINED_PREFIXES = ("DELOS", "DELAS", "DELA", "VANDER", "VANDEN")
"""Particles often written joined to the surname (``DELACRUZ``); folded when the rest is 4+ letters.

Only these: a shorter prefix (``DE``, ``AL``) would fold real surnames
(``DENNIS``, ``ALBERT``).
"""

VIETNAMESE_MIDDLE = frozenset({"VAN", "THI"})
"""Vietnamese middle names often filed as the given name (``VAN TUAN`` for ``TUAN``)."""


@functools.lru_cache(maxsize=16384)
def surname_forms(surname: str) -> tuple[str, ...]:
    """Every reading of a normalised surname, the name as filed first.

    ``DE LA CRUZ`` → (``DE LA CRUZ``, ``CRUZ``); ``HERNANDEZ LOPEZ`` →
    (``HERNANDEZ LOPEZ``, ``HERNANDEZ``, ``LOPEZ``); ``DELACRUZ`` →
    (``DELACRUZ``, ``CRUZ``). Never an empty form.
    """
    words = surname.split()
    if not words:
        return ()
    forms: dict[str, None] = {" ".join(words): None}
    core = [w for w in words if w not in PARTICLES]
    core = [_unjoin(w) for w in core]
    if core and core != words:
        forms[" ".join(core)] = None
    if len(core) > 1:
        for word in core:
            if len(word) > 1:
                forms[word] = None
    return tuple(forms)


def _unjoin(word: str) -> str:
    for prefix in JOINED_PREFIXES:
        if word.startswith(prefix) and len(word) - len(prefix) >= 4:
            return word[len(prefix) :]
    return word


@functools.lru_cache(maxsize=16384)
def given_forms(given: str) -> tuple[str, ...]:
    """Every reading of normalised given names, the names as filed first.

    Each later given word also stands alone, as the name a person is known by
    (``JOHN PAUL`` → ``PAUL``; ``VAN TUAN`` → ``TUAN``); a leading Vietnamese
    ``VAN``/``THI`` is dropped. Initials never stand alone.
    """
    words = given.split()
    if not words:
        return ("",)
    forms: dict[str, None] = {" ".join(words): None}
    if words[0] in VIETNAMESE_MIDDLE and len(words) > 1:
        forms[" ".join(words[1:])] = None
    for word in words[1:]:
        if len(word) > 1 and word not in VIETNAMESE_MIDDLE:
            forms[word] = None
    return tuple(forms)


def expand_names(names: Iterable[CandidateName]) -> tuple[CandidateName, ...]:
    """Every (surname, given name) alternative of a record's names, each once.

    The names as filed come first, unchanged and in order; then their derived
    readings: each surname form with each given form, and, when two or more
    given names are filed, the last one read as the (paternal) surname.
    """
    filed = list(names)
    seen = {(n.surname, n.given_name) for n in filed}
    derived: list[CandidateName] = []

    def add(surname: str, given: str, alias: bool) -> None:
        if surname and (surname, given) not in seen:
            seen.add((surname, given))
            derived.append(CandidateName(surname, given, alias, True))

    for name in filed:
        givens = given_forms(name.given_name)
        for surname in surname_forms(name.surname):
            for given in givens:
                add(surname, given, name.alias)
        words = name.given_name.split()
        if len(words) > 1 and len(words[-1]) > 1 and words[-1] not in VIETNAMESE_MIDDLE:
            # LOPEZ, MIGUEL HERNANDEZ: the paternal surname filed as a middle name.
            add(words[-1], " ".join(words[:-1]), name.alias)
    return (*filed, *derived)
