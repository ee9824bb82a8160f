"""Person matching: how well one record's person fits a query. Pure, no I/O.

A score in [0, 1] is a weighted mean of three pieces of evidence, each given a
*credit* (1 = agrees, 0 = no evidence of agreement, negative = evidence
against):

=============  ======  ========================================================
evidence       weight  why
=============  ======  ========================================================
surname        0.45    the most stable, most discriminating part of a name
given name     0.25    first word only; nicknames and initials make it noisier
date of birth  0.30    very discriminating, but typed by hand and often garbled
=============  ======  ========================================================

Evidence the query does not give is left out and the weights renormalised, so
"SMITH, JOHN" with no date of birth scores on names alone. Evidence the
*record* lacks counts :data:`UNKNOWN_CREDIT` (0.4): not knowing is weaker than
agreeing, so an exact name with no date of birth on record scores 0.82, just
above :data:`MATCH_THRESHOLD`, and a surname variant of it falls below.

A date of birth that conflicts entirely counts :data:`DOB_CONFLICT_CREDIT`
(-0.5) rather than 0, following record-linkage practice (Fellegi–Sunter):
disagreement is evidence *against*. An exact name with a conflicting date
scores 0.55, far below the threshold, while near misses typed by hand
(day/month transposed 0.85, one digit wrong or two adjacent digits swapped
0.7, same year 0.4) keep most of their credit.

Name similarity is Jaro–Winkler (rapidfuzz) passed through :func:`_jw_credit`,
which gives no credit below 0.70: JOHN/JANE (0.67) are different people,
however much they share. Surnames also count as agreeing when they sound alike:
0.95 when both NYSIIS and metaphone keys agree, 0.9 when one does. Given names
are never compared phonetically because the keys are too coarse for them
(JOHN and JANE share both).

With threshold 0.80: HERNANDEZ/HERNANDES, JOHNSON/JONSON, MIGUEL/MIGEL,
CATHERINE/KATHERINE and alias hits score above 0.95 with an exact date of
birth and above 0.9 without one; SMITH, JOHN 1980-04-12 against SMYTHE, JANE
1975-01-01 scores 0.28. An exact identifier scores 1.0 outright.

Reasons quote only the query's own values and phonetic keys (which equal the
query's), never a record's field values, so showing them leaks no field.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import jellyfish
from nicknames import NickNamer
from rapidfuzz.distance import OSA, Hamming, JaroWinkler

from fieldgate.core.query import PersonQuery

MATCH_THRESHOLD = 0.80
"""Lowest score reported as a match."""

SURNAME_WEIGHT = 0.45
GIVEN_WEIGHT = 0.25
DOB_WEIGHT = 0.30

UNKNOWN_CREDIT = 0.4
"""Credit for evidence the query gives but the record lacks."""

DOB_CONFLICT_CREDIT = -0.5
"""Credit for a date of birth that agrees in no way the near-miss rules know."""

NEAR_MISS_DOB_CREDIT = 0.7
"""Lowest credit of a date of birth typed close to the query's (see :func:`near_miss_dobs`)."""

NICKNAME_CREDIT = 0.8
"""Credit for a given name that is a known nickname of the other (BOB for ROBERT)."""

SWAPPED_FACTOR = 0.9
"""Share of its name evidence a name recorded with surname and given name swapped keeps."""

_JW_FLOOR = 0.70  # below this Jaro-Winkler similarity names are unrelated
_JW_KNEE = 0.85  # at and above it the similarity is the credit itself


class CandidateName(NamedTuple):
    """One name a record's person is known by, normalised (see ``fieldgate.core.names``).

    Attributes:
        surname: normalised surname.
        given_name: normalised given name(s), possibly "".
        alias: True for a name from the record's aliases.
    """

    surname: str
    given_name: str
    alias: bool = False


@dataclass(frozen=True)
class Match:
    """How a record matched a query.

    Attributes:
        score: in [0, 1]; 1.0 for an exact identifier.
        reasons: human-readable evidence, strongest first.
    """

    score: float
    reasons: tuple[str, ...]


@functools.lru_cache(maxsize=8192)
def phonetic_keys(surname: str) -> tuple[str, str]:
    """Return the (NYSIIS, metaphone) keys of a normalised surname.

    Spaces are dropped first so ``DE LA CRUZ`` and ``DELACRUZ`` share keys.
    """
    joined = surname.replace(" ", "")
    if not joined:
        return "", ""
    return jellyfish.nysiis(joined), jellyfish.metaphone(joined)


def transposed_dob(dob: dt.date) -> dt.date | None:
    """Return ``dob`` with day and month swapped, when that is a different valid date."""
    if dob.day > 12 or dob.day == dob.month:
        return None
    return dob.replace(month=dob.day, day=dob.month)


@functools.lru_cache(maxsize=1024)
def near_miss_dobs(dob: dt.date) -> tuple[dt.date, ...]:
    """Return every date of birth credited at least :data:`NEAR_MISS_DOB_CREDIT` against ``dob``.

    That is ``dob`` itself (first), its day/month transposition, and every valid
    date one digit different from it or with two adjacent digits swapped, as
    ``YYYY-MM-DD`` text: a few dozen dates, some in other years (1980 -> 1908,
    1990, 1981). A held date outside this set scores at most 0.4 (same year).
    """
    text = dob.isoformat()
    found: dict[dt.date, None] = {dob: None}
    if (swapped := transposed_dob(dob)) is not None:
        found[swapped] = None
    digits = [i for i, char in enumerate(text) if char.isdigit()]
    variants = [text[:i] + d + text[i + 1 :] for i in digits for d in "0123456789"]
    variants += [
        text[:i] + text[i + 1] + text[i] + text[i + 2 :]
        for i in digits
        if i + 1 in digits and text[i] != text[i + 1]
    ]
    for variant in variants:
        try:
            found.setdefault(dt.date.fromisoformat(variant), None)
        except ValueError:
            continue
    return tuple(found)


def score_candidate(
    query: PersonQuery,
    names: Sequence[CandidateName],
    dob: dt.date | None,
    identifiers: Iterable[tuple[str, str]] = (),
    *,
    threshold: float = MATCH_THRESHOLD,
) -> Match | None:
    """Score one record's person against ``query``.

    Args:
        query: the validated query.
        names: the record's primary name and aliases, normalised.
        dob: the record's date of birth, if it has one.
        identifiers: the record's (kind, normalised value) identifiers.
        threshold: scores below this return None; pass 0.0 to see every score.

    Returns:
        The match, or None when it scores below ``threshold`` or nothing in the
        query can be compared (no identifier agrees and the query has no surname).
    """
    held = set(identifiers)
    exact = [f"{kind} exact" for kind, value in query.identifiers if (kind, value) in held]
    if exact:
        return Match(1.0, tuple(exact))
    if not query.surname or not names:
        return None
    weight = SURNAME_WEIGHT + (GIVEN_WEIGHT if query.given_name else 0.0)
    # Numbers first, reasons only for a match: most candidates score below
    # the threshold, and building their reasons would cost more than scoring.
    # The best of the record's names, each also read swapped; on a tie the
    # primary name (listed first) wins, and a name as written beats it swapped.
    best, best_name, best_swapped = -1.0, names[0], False
    for name in names:
        for swapped in (False, True) if _can_swap(query, name) else (False,):
            value = _name_value(query, _swap(name) if swapped else name)
            if swapped:
                value *= SWAPPED_FACTOR
            if value > best:
                best, best_name, best_swapped = value, name, swapped
    total = best
    dob_credit = 0.0
    if query.dob is not None:
        weight += DOB_WEIGHT
        dob_credit = _dob_value(query.dob, dob)
        total += DOB_WEIGHT * dob_credit
    score = round(min(1.0, max(0.0, total / weight)), 4)
    if score < threshold:
        return None
    if best_swapped:
        name_reasons = _name_credit(query, _swap(best_name))[1]
        name_reasons = ("surname and given name recorded swapped", *name_reasons)
    else:
        name_reasons = _name_credit(query, best_name)[1]
    reasons = name_reasons
    if query.dob is not None:
        reasons = (*reasons, _dob_credit(query.dob, dob)[1])
    return Match(score, reasons)


def _can_swap(query: PersonQuery, name: CandidateName) -> bool:
    """Whether ``name`` is also read swapped (both parts there, and a given name asked for)."""
    return bool(query.given_name and name.given_name and name.surname)


def _swap(name: CandidateName) -> CandidateName:
    return CandidateName(name.given_name, name.surname, name.alias)


def _name_value(query: PersonQuery, name: CandidateName) -> float:
    """The weighted name evidence of :func:`_name_credit`, as a number only (no reasons)."""
    total = SURNAME_WEIGHT * _surname_value(query.surname, name.surname)
    if query.given_name:
        total += GIVEN_WEIGHT * _given_value(query.given_name, name.given_name)
    return total


def _surname_value(wanted: str, held: str) -> float:
    """The credit of :func:`_surname_credit`, without its reasons."""
    wanted_joined, held_joined = wanted.replace(" ", ""), held.replace(" ", "")
    if not held_joined:
        return 0.0
    if wanted_joined == held_joined:
        return 1.0
    credit = 0.0
    w_nysiis, w_meta = phonetic_keys(wanted)
    h_nysiis, h_meta = phonetic_keys(held)
    if w_nysiis == h_nysiis and w_meta == h_meta:
        credit = 0.95
    elif w_nysiis == h_nysiis or w_meta == h_meta:
        credit = 0.9
    wanted_words, held_words = wanted.split(), held.split()
    if (len(wanted_words) > 1 or len(held_words) > 1) and set(wanted_words) & set(held_words):
        credit = max(credit, 0.85)
    return max(credit, _jw_credit(JaroWinkler.similarity(wanted_joined, held_joined)))


def _given_value(wanted: str, held: str) -> float:
    """The credit of :func:`_given_credit`, without its reason."""
    wanted_words, held_words = wanted.split(), held.split()
    if not held_words:
        return UNKNOWN_CREDIT
    first_wanted, first_held = wanted_words[0], held_words[0]
    if first_wanted == first_held:
        return 1.0
    if len(first_wanted) == 1 or len(first_held) == 1:
        return 0.7 if first_wanted[0] == first_held[0] else 0.0
    credit = 0.0
    if {w for w in wanted_words if len(w) > 1} & set(held_words):
        credit = 0.8
    if _is_nickname_pair(first_wanted, first_held):
        credit = max(credit, NICKNAME_CREDIT)
    return max(credit, _jw_credit(JaroWinkler.similarity(first_wanted, first_held)))


def _dob_value(wanted: dt.date, held: dt.date | None) -> float:
    """The credit of :func:`_dob_credit`, without its reason."""
    if held is None:
        return UNKNOWN_CREDIT
    if wanted == held:
        return 1.0
    if held in near_miss_dobs(wanted):
        return 0.85 if transposed_dob(wanted) == held else NEAR_MISS_DOB_CREDIT
    return 0.4 if wanted.year == held.year else DOB_CONFLICT_CREDIT


def _name_credit(query: PersonQuery, name: CandidateName) -> tuple[float, tuple[str, ...]]:
    """Return the weighted name evidence (surname, then given) for one name."""
    s_credit, s_reasons = _surname_credit(query.surname, name.surname)
    total = SURNAME_WEIGHT * s_credit
    reasons = list(s_reasons)
    if query.given_name:
        g_credit, g_reason = _given_credit(query.given_name, name.given_name)
        total += GIVEN_WEIGHT * g_credit
        reasons.append(g_reason)
    if name.alias:
        # The query's own name is quoted: it equals (or resembles) the alias.
        quoted = f"{query.surname}, {query.given_name}".rstrip(", ")
        reasons.insert(0, f"name matches alias '{quoted}'")
    return total, tuple(reasons)


def _jw_credit(similarity: float) -> float:
    if similarity >= _JW_KNEE:
        return similarity
    # A steep ramp from nothing at the floor to the knee, so loosely similar
    # names add little and unrelated ones nothing.
    return max(0.0, (similarity - _JW_FLOOR) / (_JW_KNEE - _JW_FLOOR) * _JW_KNEE)


def _surname_credit(wanted: str, held: str) -> tuple[float, tuple[str, ...]]:
    """Return the surname's credit and every piece of evidence for it, strongest first."""
    wanted_joined, held_joined = wanted.replace(" ", ""), held.replace(" ", "")
    if not held_joined:
        return 0.0, ("no surname on record",)
    if wanted_joined == held_joined:
        return 1.0, ("surname exact",)
    options: list[tuple[float, str]] = []
    w_nysiis, w_meta = phonetic_keys(wanted)
    h_nysiis, h_meta = phonetic_keys(held)
    same_nysiis, same_meta = w_nysiis == h_nysiis, w_meta == h_meta
    if same_nysiis and same_meta:
        options.append((0.95, f"surname sounds alike (NYSIIS {w_nysiis}, metaphone {w_meta})"))
    elif same_nysiis:
        options.append((0.9, f"surname sounds alike (NYSIIS {w_nysiis})"))
    elif same_meta:
        options.append((0.9, f"surname sounds alike (metaphone {w_meta})"))
    shared = set(wanted.split()) & set(held.split())
    if shared and (len(wanted.split()) > 1 or len(held.split()) > 1):
        # Compound surnames (GARCIA LOPEZ) are often recorded with one part only.
        options.append((0.85, f"surname shares '{min(shared)}'"))
    similarity = JaroWinkler.similarity(wanted_joined, held_joined)
    options.append((_jw_credit(similarity), f"surname similarity {similarity:.2f} (Jaro-Winkler)"))
    options.sort(key=lambda option: -option[0])
    supporting = tuple(reason for credit, reason in options if credit > 0)
    return options[0][0], supporting or (options[0][1],)


def _given_credit(wanted: str, held: str) -> tuple[float, str]:
    wanted_words, held_words = wanted.split(), held.split()
    if not held_words:
        return UNKNOWN_CREDIT, "no given name on record"
    first_wanted, first_held = wanted_words[0], held_words[0]
    if first_wanted == first_held:
        return 1.0, "given name exact"
    if len(first_wanted) == 1 or len(first_held) == 1:
        if first_wanted[0] == first_held[0]:
            return 0.7, "given initial matches"
        return 0.0, "given initial differs"
    options: list[tuple[float, str]] = []
    shared = {w for w in wanted_words if len(w) > 1} & set(held_words)
    if shared:
        # Someone known by a second given name (JOHN PAUL recorded as PAUL).
        options.append((0.8, f"given names share '{min(shared)}'"))
    if _is_nickname_pair(first_wanted, first_held):
        options.append((NICKNAME_CREDIT, "given name is a known nickname pair"))
    similarity = JaroWinkler.similarity(first_wanted, first_held)
    options.append(
        (_jw_credit(similarity), f"given name similarity {similarity:.2f} (Jaro-Winkler)")
    )
    return max(options, key=lambda option: option[0])


@functools.cache
def _nicknames() -> dict[str, frozenset[str]]:
    """Each name's known nicknames and formal names, upper case (loaded on first use)."""
    namer = NickNamer()
    related: dict[str, set[str]] = {}
    for formal, nicks in namer.nickname_lookup.items():
        for nick in nicks:
            related.setdefault(formal.upper(), set()).add(nick.upper())
            related.setdefault(nick.upper(), set()).add(formal.upper())
    return {name: frozenset(others) for name, others in related.items()}


def _is_nickname_pair(wanted: str, held: str) -> bool:
    """True when one given name is a known nickname of the other (ROBERT and BOB)."""
    return held in _nicknames().get(wanted, frozenset())


def _dob_credit(wanted: dt.date, held: dt.date | None) -> tuple[float, str]:
    if held is None:
        return UNKNOWN_CREDIT, "no date of birth on record"
    if wanted == held:
        return 1.0, "date of birth exact"
    if transposed_dob(wanted) == held:
        return 0.85, "date of birth with day and month transposed"
    wanted_text, held_text = wanted.isoformat(), held.isoformat()
    if Hamming.distance(wanted_text, held_text) == 1:
        return NEAR_MISS_DOB_CREDIT, "date of birth one digit different"
    if OSA.distance(wanted_text, held_text) == 1:
        return NEAR_MISS_DOB_CREDIT, "date of birth with two adjacent digits swapped"
    if wanted.year == held.year:
        return 0.4, "date of birth in the same year"
    return DOB_CONFLICT_CREDIT, "date of birth differs"
