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

Tiers (issue 18): a score alone released fields for any record above 0.80,
so an exact name with a birth date only in the same year, or none on file,
disclosed a namesake. Each match now has a *tier* (:func:`_tier`): **strong**
(the contract decides the fields) needs a date of birth in the query that
agrees (exactly or day/month transposed) and a name agreeing at least
:data:`STRONG_NAME_CREDIT`; **possible** (at most a pointer) is a good name
without such a date (a name-only query gets possible at most); **none** is
nothing. Dates of birth are weighed by which digits differ (:func:`dob_evidence`).
The store then decides the tier again on how common the name is and on the
query's sex and age range (:mod:`fieldgate.matching.evidence`), from the
:attr:`Match.parts` kept for it; :attr:`Match.evidence` lists short codes of
the evidence for the audit entry and ``input.match.evidence``.

Names are compared in all their readings (:mod:`fieldgate.matching.name_forms`:
middle names, each word of a compound surname, particles folded) and across
traditions (:mod:`fieldgate.matching.equivalents`: Spanish hypocorisms,
Chinese and Korean romanisations, ...).

Reasons quote only the query's own values and phonetic keys (which equal the
query's), never a record's field values, so showing them leaks no field.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal, NamedTuple

import jellyfish
from nicknames import NickNamer
from rapidfuzz.distance import OSA, Hamming, JaroWinkler

from fieldgate.core.query import PersonQuery
from fieldgate.matching.equivalents import are_equivalent_given, equivalent_surnames
from fieldgate.matching.name_forms import CandidateName, surname_forms

__all__ = [
    "MATCH_THRESHOLD",
    "CandidateName",
    "DobEvidence",
    "Match",
    "NameParts",
    "Tier",
    "dob_evidence",
    "near_miss_dobs",
    "phonetic_keys",
    "score_candidate",
    "transposed_dob",
]

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

EQUIVALENT_CREDIT = 0.9
"""Credit for a surname that is another romanisation of the other (JANG/CHANG)."""

SWAPPED_FACTOR = 0.9
"""Share of its name evidence a name recorded with surname and given name swapped keeps."""

_JW_FLOOR = 0.70  # below this Jaro-Winkler similarity names are unrelated
_JW_KNEE = 0.85  # at and above it the similarity is the credit itself


Tier = Literal["strong", "possible", "none"]
"""How much a match says: fields (strong), at most a pointer (possible), or nothing."""

STRONG_NAME_CREDIT = 0.85
"""Lowest name agreement (weighted name evidence over its weight) of a strong match."""

POSSIBLE_NAME_CREDIT = 0.85
"""Lowest name agreement of a possible match on name (and weak date) evidence alone."""

CORROBORATED_NAME_CREDIT = 0.75
"""Lowest name agreement of a possible match whose date of birth would make it strong."""

WEAK_DATE_NAME_CREDIT = 0.96
"""Lowest name agreement of a possible match whose date of birth is weak (not conflicting)."""

RARE_PART_CREDIT = 0.9
"""Lowest credit of the name part a promotion of :mod:`fieldgate.matching.evidence` rests on."""

DERIVED_FACTOR = 0.97
"""Share of its name evidence a derived reading (:mod:`fieldgate.matching.name_forms`) keeps."""

# Lowest name credit of a name whose surname and given name both credit at
# least RARE_PART_CREDIT, however it was read (swapped, a derived reading of both).
_PROMOTABLE_NAME_CREDIT = RARE_PART_CREDIT * SWAPPED_FACTOR * DERIVED_FACTOR**2


class NameParts(NamedTuple):
    """The pieces of a match :mod:`fieldgate.matching.evidence` weighs again.

    Attributes:
        held: the record's name that matched best (as read: swapped if so).
        surname_credit: the surname's credit (1 exact … 0).
        given_credit: the given name's credit, or None when the query gives none.
        name_credit: the weighted name evidence over its weight.
        dob: the date of birth evidence, or None when the query gives no date.
    """

    held: CandidateName
    surname_credit: float
    given_credit: float | None
    name_credit: float
    dob: DobEvidence | None


@dataclass(frozen=True)
class Match:
    """How a record matched a query.

    Attributes:
        score: in [0, 1]; 1.0 for an exact identifier.
        reasons: human-readable evidence, strongest first.
        tier: ``strong`` (the contract decides the fields), ``possible`` (at
            most a pointer) or ``none`` (only when asked for every score).
        evidence: short evidence codes for the audit entry and the contract
            input (``input.match.evidence``), e.g. ``("surname:exact",
            "given:nickname", "dob:exact", "name:rare")``; no record value.
        parts: what :mod:`fieldgate.matching.evidence` needs to weigh the
            match again (the record's best name, the credit of each part);
            never shown, never sent.
    """

    score: float
    reasons: tuple[str, ...]
    tier: Tier = "strong"
    evidence: tuple[str, ...] = ()
    parts: NameParts | None = field(default=None, repr=False, compare=False)


class DobEvidence(NamedTuple):
    """How a held date of birth agrees with the query's.

    Attributes:
        credit: the matcher's credit (1 agrees … negative conflicts).
        reason: the evidence, in words.
        strong: whether it is enough for a strong match (exact, or day/month transposed).
        conflict: whether it rules the record out.
        code: the evidence code (``dob:exact``, ``dob:transposed``, ...).
    """

    credit: float
    reason: str
    strong: bool
    conflict: bool
    code: str = "dob:other"


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
    """Return every date of birth :func:`dob_evidence` credits as a near miss of ``dob``.

    That is ``dob`` itself (first), its day/month transposition, every valid
    date one digit different from it or with two adjacent digits swapped, and
    the same day one year either side: a few dozen dates, some in other years
    (1980 -> 1908, 1990, 1981, 1979), which make possible matches at most. A
    held date outside this set scores at most 0.4 (same year).
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
    # One year off with the same day (a compound surname filed with a birth
    # year one off was never a candidate): at most a possible match.
    variants += [f"{dob.year + step:04d}{text[4:]}" for step in (-1, 1)]
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
    keep_none: bool = False,
) -> Match | None:
    """Score one record's person against ``query`` and decide the match's tier.

    Args:
        query: the validated query.
        names: the record's names and their readings, normalised (the store
            holds them expanded by :func:`fieldgate.matching.name_forms.expand_names`).
        dob: the record's date of birth, if it has one.
        identifiers: the record's (kind, normalised value) identifiers.
        threshold: a strong match also needs this score. Pass 0.0 to see every
            score: a record with no tier then comes back with tier ``none``.
        keep_none: also return a record with no tier (tier ``none``) whose
            evidence :func:`fieldgate.matching.evidence.weigh` could promote.

    Returns:
        The match, or None when it has no tier (see :func:`_tier`) or nothing
        in the query can be compared.
    """
    held = set(identifiers)
    exact = [f"{kind} exact" for kind, value in query.identifiers if (kind, value) in held]
    if exact:
        return Match(1.0, tuple(exact), "strong", ("identifier:exact",))
    if not query.surname or not names:
        return None
    weight = SURNAME_WEIGHT + (GIVEN_WEIGHT if query.given_name else 0.0)
    # Numbers first, reasons only for a match: most candidates score below
    # the threshold, and building their reasons would cost more than scoring.
    # The best of the record's names (and readings), each also read swapped,
    # against each reading of the query's surname; on a tie the name first
    # listed wins, and a name as written beats it swapped.
    forms = surname_forms(query.surname)
    best, best_name, best_swapped, best_form = -1.0, names[0], False, query.surname
    for form_index, wanted in enumerate(forms):
        form_factor = DERIVED_FACTOR if form_index else 1.0
        for name in names:
            factor = form_factor * (DERIVED_FACTOR if name.derived else 1.0)
            for swapped in (False, True) if _can_swap(query, name) else (False,):
                value = _name_value(wanted, query.given_name, _swap(name) if swapped else name)
                value *= factor * (SWAPPED_FACTOR if swapped else 1.0)
                if value > best:
                    best, best_name, best_swapped, best_form = value, name, swapped, wanted
    name_credit = best / weight
    total = best
    evidence: DobEvidence | None = None
    if query.dob is not None:
        weight += DOB_WEIGHT
        evidence = dob_evidence(query.dob, dob)
        total += DOB_WEIGHT * evidence.credit
    score = round(min(1.0, max(0.0, total / weight)), 4)
    tier = _tier(name_credit, evidence, score >= threshold)
    if tier == "none" and threshold > 0.0:
        # Only a close name or a strong date can be promoted (_promotable):
        # the rest is dropped before its parts are worked out.
        strong_date = evidence is not None and evidence.strong
        if not keep_none or not (strong_date or name_credit >= _PROMOTABLE_NAME_CREDIT):
            return None
    shown = _swap(best_name) if best_swapped else best_name
    surname_credit = _surname_value(best_form, shown.surname)
    given_credit = _given_value(query.given_name, shown.given_name) if query.given_name else None
    parts = NameParts(shown, surname_credit, given_credit, name_credit, evidence)
    if tier == "none" and threshold > 0.0 and not _promotable(parts):
        return None
    name_reasons = _name_credit(best_form, query.given_name, shown, query)[1]
    if best_swapped:
        name_reasons = ("surname and given name recorded swapped", *name_reasons)
    if best_name.derived:
        name_reasons = (
            "matches a reading of the filed name (middle or compound name)",
            *name_reasons,
        )
    if best_form != query.surname:
        name_reasons = (f"surname read as '{best_form}'", *name_reasons)
    reasons = name_reasons if evidence is None else (*name_reasons, evidence.reason)
    codes = [_credit_code("surname", surname_credit)]
    if given_credit is not None:
        codes.append(
            "given:unknown" if not shown.given_name else _credit_code("given", given_credit)
        )
    if evidence is not None:
        codes.append(evidence.code)
    codes += [
        code
        for code, present in (
            ("name:swapped", best_swapped),
            ("name:reading", best_name.derived),
            ("name:alias", best_name.alias),
        )
        if present
    ]
    return Match(score, reasons, tier, tuple(codes), parts)


def _promotable(parts: NameParts) -> bool:
    """Whether a match with no tier has the evidence a rarity promotion needs.

    :func:`fieldgate.matching.evidence.weigh` promotes only a name agreeing
    closely in both parts, or a strong date of birth with a close surname or
    an exact given name; anything else is dropped before its reasons are built.
    """
    surname_ok = parts.surname_credit >= RARE_PART_CREDIT
    given = parts.given_credit
    if surname_ok and given is not None and given >= RARE_PART_CREDIT:
        return True
    dob_strong = parts.dob is not None and parts.dob.strong
    return dob_strong and (surname_ok or given == 1.0)


def _credit_code(part: str, credit: float) -> str:
    """``part:exact``, ``:close`` (credit ≥ 0.85), ``:partial`` (> 0) or ``:differs``."""
    if credit >= 1.0:
        return f"{part}:exact"
    if credit >= 0.85:
        return f"{part}:close"
    return f"{part}:partial" if credit > 0 else f"{part}:differs"


def _tier(name_credit: float, dob: DobEvidence | None, scored: bool) -> Tier:
    """The tier a match's evidence earns.

    Strong needs a date of birth in the query that agrees (exactly, or with
    day and month transposed) and a name that agrees well: never a name
    alone, never a date in another year (father and son), never a typo in
    the date, never a date missing from the record or agreeing in the year
    only. Possible is a name that agrees well when the query gives no date or
    a date with a typo in day or month, a fair name with a strong date, or a
    (near) exact name with a weak date (none on record, same year, a year
    off, another decade). Anything else, or a conflicting date, is none.
    """
    if dob is not None and dob.conflict:
        return "none"
    if dob is None:
        return "possible" if name_credit >= POSSIBLE_NAME_CREDIT else "none"
    if dob.strong:
        if name_credit >= STRONG_NAME_CREDIT and scored:
            return "strong"
        return "possible" if name_credit >= CORROBORATED_NAME_CREDIT else "none"
    if dob.credit >= NEAR_MISS_DOB_CREDIT:  # a typo in day or month
        return "possible" if name_credit >= POSSIBLE_NAME_CREDIT else "none"
    return "possible" if name_credit >= WEAK_DATE_NAME_CREDIT else "none"


def dob_evidence(wanted: dt.date, held: dt.date | None) -> DobEvidence:
    """How ``held`` agrees with ``wanted``, weighted by which digits differ.

    Only the date itself or day and month transposed can make a match strong.
    A typo in the day or month (one digit, two adjacent digits swapped) keeps
    most of its credit but is possible at most: measured at 200,000 records
    (``bench.name_variants``), a namesake with such a date answered 5 % of
    searches for people the store did not hold. Any difference in the year is
    possible at most: one digit off in the decade or century (1958/1988) is as
    likely a father and son as a typo.
    """
    if held is None:
        return DobEvidence(
            UNKNOWN_CREDIT, "no date of birth on record", False, False, "dob:unknown"
        )
    if wanted == held:
        return DobEvidence(1.0, "date of birth exact", True, False, "dob:exact")
    if transposed_dob(wanted) == held:
        return DobEvidence(
            0.85, "date of birth with day and month transposed", True, False, "dob:transposed"
        )
    wanted_text, held_text = wanted.isoformat(), held.isoformat()
    one_digit = Hamming.distance(wanted_text, held_text) == 1
    adjacent = not one_digit and OSA.distance(wanted_text, held_text) == 1
    if wanted.year == held.year:
        if one_digit:
            return DobEvidence(
                NEAR_MISS_DOB_CREDIT, "date of birth one digit different", False, False, "dob:digit"
            )
        if adjacent:
            return DobEvidence(
                NEAR_MISS_DOB_CREDIT,
                "date of birth with two adjacent digits swapped",
                False,
                False,
                "dob:swapped",
            )
        return DobEvidence(0.4, "date of birth in the same year", False, False, "dob:year")
    same_day = (wanted.month, wanted.day) == (held.month, held.day)
    if same_day and abs(wanted.year - held.year) == 1:
        return DobEvidence(0.5, "date of birth one year off", False, False, "dob:year-off")
    if one_digit and wanted_text[3] != held_text[3]:
        return DobEvidence(
            0.5, "date of birth one digit different in the year", False, False, "dob:year-digit"
        )
    if one_digit:
        return DobEvidence(
            0.2, "date of birth differs in the decade or century", False, False, "dob:decade"
        )
    if adjacent:
        reason = "date of birth with two adjacent year digits swapped"
        return DobEvidence(0.3, reason, False, False, "dob:year-swap")
    return DobEvidence(DOB_CONFLICT_CREDIT, "date of birth differs", False, True, "dob:differs")


def _can_swap(query: PersonQuery, name: CandidateName) -> bool:
    """Whether ``name`` is also read swapped (both parts there, and a given name asked for)."""
    return bool(query.given_name and name.given_name and name.surname)


def _swap(name: CandidateName) -> CandidateName:
    return CandidateName(name.given_name, name.surname, name.alias)


@functools.lru_cache(maxsize=65536)
def _name_value(surname: str, given: str, name: CandidateName) -> float:
    """The weighted name evidence of :func:`_name_credit`, as a number only (no reasons)."""
    total = SURNAME_WEIGHT * _surname_value(surname, name.surname)
    if given:
        total += GIVEN_WEIGHT * _given_value(given, name.given_name)
    return total


# Memoised: a search scores every reading of every candidate's names against
# each reading of the query's, and at a million records the same few thousand
# names come back search after search (most of a fuzzy search's CPU was here).
@functools.lru_cache(maxsize=65536)
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
    if held_joined in equivalent_surnames(wanted_joined):
        credit = max(credit, EQUIVALENT_CREDIT)
    return max(credit, _jw_credit(JaroWinkler.similarity(wanted_joined, held_joined)))


@functools.lru_cache(maxsize=65536)
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


def _name_credit(
    surname: str, given: str, name: CandidateName, query: PersonQuery
) -> tuple[float, tuple[str, ...]]:
    """Return the weighted name evidence (surname, then given) for one name."""
    s_credit, s_reasons = _surname_credit(surname, name.surname)
    total = SURNAME_WEIGHT * s_credit
    reasons = list(s_reasons)
    if given:
        g_credit, g_reason = _given_credit(given, name.given_name)
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
    if held_joined in equivalent_surnames(wanted_joined):
        options.append((EQUIVALENT_CREDIT, "surname is another romanisation of the same name"))
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
        options.append((NICKNAME_CREDIT, "given name is a known nickname or equivalent"))
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
    """True when one given name is a known nickname or equivalent of the other (ROBERT/BOB)."""
    return held in _nicknames().get(wanted, frozenset()) or are_equivalent_given(wanted, held)
