"""A second look at a scored match: how common its name is, and the query's corroboration.

:func:`fieldgate.matching.matcher.score_candidate` judges a name and a date of
birth by how alike they are. How much that agreement *says* depends on how
many other people share it (Fellegi–Sunter: the weight of an agreement is
``log(m / u)``, and ``u``, the chance that two different people agree, is the
value's frequency). "SMITH, JOHN 1980-04-12" agreeing exactly is weak evidence
in a store holding 300 John Smiths, strong in one holding one. :func:`weigh`
takes the frequencies from the node's own store (:class:`NameCounts`,
counted by ``RecordStore``) and:

- **demotes** a strong match to possible (``name:common``) when the number of
  *other* people expected to share its name and date of birth by chance,
  ``rows with the name × dates credited / days of birth``
  (:func:`expected_namesakes`), exceeds :data:`STRONG_MAX_NAMESAKES`: a
  namesake with the same date of birth is then too likely to release fields;
- **promotes** a match with no tier to possible (a pointer at most, never
  fields) when rare evidence makes a coincidence unlikely: the full name
  agrees closely and at most :data:`RARE_NAME_ROWS` rows of the store carry it,
  whatever the date of birth (``name:unique``: FEBRL's duplicates often have
  another date altogether); or the date of birth agrees (exactly or
  transposed) with a surname or a given name so rare that fewer than
  :data:`POSSIBLE_MAX_NAMESAKES` people are expected to share both
  (``surname:rare``, ``given:rare``: the other part of the name was replaced);
- applies the query's **corroboration** (``sex``, a birth-date range from an
  age range, and a range of years of birth): agreeing adds a code and halves
  the chance of a coincidence; disagreeing lowers the tier by one (strong to
  possible, possible to none). Corroboration is evidence only: it never makes
  a match strong or possible on its own.

Pure: the counts come in as arguments. Evidence codes never carry a record's
values, only which evidence agreed.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Protocol

from fieldgate.core.query import PersonQuery
from fieldgate.matching.matcher import RARE_PART_CREDIT, Match, NameParts, Tier, transposed_dob

__all__ = [
    "POSSIBLE_MAX_NAMESAKES",
    "RARE_NAME_ROWS",
    "STRONG_MAX_NAMESAKES",
    "NameCounts",
    "expected_namesakes",
    "weigh",
]

BIRTH_DAYS = 60 * 365.25
"""Days the births of a store's people spread over (about 60 years of adults).

Smaller than the true span on purpose: it overstates the chance that two people
share a date of birth, so errs toward fewer strong matches.
"""

STRONG_MAX_NAMESAKES = 0.002
"""Most other people expected to share a strong match's name and date of birth by chance."""

POSSIBLE_MAX_NAMESAKES = 0.01
"""Most expected to share a rare surname (or given name) and date of birth for a pointer."""

U_CLOSE_GIVEN = 0.05
"""Share of the people with a surname whose given name is close to (not equal to) another's."""

U_CLOSE_SURNAME = 0.01
"""Share of the people with a given name whose surname is close to (not equal to) another's."""

RARE_NAME_ROWS = 2
"""Most store rows carrying a full name for it to count as unique (the record itself and one)."""


_SEXES = frozenset({"M", "F", "X"})  # "U" (unknown) and anything else corroborate nothing
_DEMOTE: dict[Tier, Tier] = {"strong": "possible", "possible": "none", "none": "none"}


class NameCounts(Protocol):
    """How many ``names`` rows of the store carry a name (the store counts; capped is fine).

    Counted only when :func:`weigh` needs them: each is an index range.
    """

    def surname(self, surname: str) -> int:
        """Rows with this surname."""

    def given(self, given_name: str) -> int:
        """Rows whose given name starts with the first word of ``given_name``."""

    def pair(self, surname: str, given_name: str) -> int:
        """Rows with this surname and the first word of ``given_name``."""


def expected_namesakes(rows: float, dob: dt.date, *, sex_agrees: bool = False) -> float:
    """Other people expected to share a name held by ``rows`` rows *and* the date ``dob``.

    A strong date of birth agrees exactly or with day and month transposed:
    one or two dates out of :data:`BIRTH_DAYS`. A sex that agrees halves it.
    """
    dates = 2 if transposed_dob(dob) is not None else 1
    expected = max(rows, 1) * dates / BIRTH_DAYS
    return expected / 2 if sex_agrees else expected


def weigh(
    match: Match,
    query: PersonQuery,
    counts: NameCounts,
    held_sex: str = "",
    held_dob: dt.date | None = None,
) -> Match:
    """The match with its tier decided again on frequency and corroboration.

    Args:
        match: from :func:`~fieldgate.matching.matcher.score_candidate` (with
            ``keep_none`` when promotions are wanted).
        query: the validated query.
        counts: the store's counts of names (the query's and the record's).
        held_sex: the record's sex as recorded, or "".
        held_dob: the record's date of birth, if it has one.

    Returns:
        The match with its new tier and evidence codes (score and reasons
        unchanged); tier ``none`` means it is not a match.
    """
    parts = match.parts
    if parts is None:  # an identifier: exact, nothing to weigh
        return match
    tier, codes = match.tier, list(match.evidence)
    sex = _sex_code(query.sex, held_sex)
    age = _age_code(query, held_dob)
    born = _born_code(query, held_dob)
    against = sex == "sex:differs" or age == "age:out" or born == "born:out"
    dob = parts.dob
    if tier == "strong" and dob is not None and query.dob is not None:
        rows = _strong_rows(counts, query, parts)
        namesakes = expected_namesakes(rows, query.dob, sex_agrees=sex == "sex:agrees")
        if namesakes > STRONG_MAX_NAMESAKES:
            tier = "possible"
            codes.append("name:common")
        else:
            codes.append("name:rare")
    elif tier == "none" and not against:
        promoted = _promotion(match, query, counts, sex == "sex:agrees")
        if promoted:
            tier = "possible"
            codes.append(promoted)
    codes += [code for code in (sex, age, born) if code]
    if against:
        tier = _DEMOTE[tier]
    return dataclasses.replace(match, tier=tier, evidence=tuple(codes))


def _strong_rows(counts: NameCounts, query: PersonQuery, parts: NameParts) -> float:
    """Rows of the store agreeing with the query's name as well as the match's name does.

    Exact parts agree with the rows carrying that name. A part that agrees
    only closely (a spelling, a nickname, a romanisation) agrees with many
    other values too: Fellegi–Sunter's ``u`` of that agreement level,
    :data:`U_CLOSE_GIVEN` of the rows with the other part (or
    :data:`U_CLOSE_SURNAME`), whichever is larger.
    """
    held = parts.held
    rows = float(
        max(
            _name_rows(counts, query.surname, query.given_name, query.given_name),
            _name_rows(counts, held.surname, held.given_name, query.given_name),
        )
    )
    if parts.given_credit is not None and parts.given_credit < 1.0:
        surname_rows = max(counts.surname(query.surname), counts.surname(held.surname))
        rows = max(rows, surname_rows * U_CLOSE_GIVEN)
    if parts.surname_credit < 1.0:
        given_rows = (
            max(counts.given(query.given_name), counts.given(held.given_name))
            if query.given_name
            else 0
        )
        rows = max(rows, given_rows * U_CLOSE_SURNAME)
    return rows


def _name_rows(counts: NameCounts, surname: str, given_name: str, asked_given: str) -> int:
    """Rows with the full name, or with the surname when the query gives no given name."""
    if asked_given and given_name:
        return counts.pair(surname, given_name)
    return counts.surname(surname)


def _promotion(match: Match, query: PersonQuery, counts: NameCounts, sex_agrees: bool) -> str:
    """The code of the rare evidence that makes a match with no tier possible, or ""."""
    parts = match.parts
    assert parts is not None
    given = parts.given_credit
    if (
        given is not None
        and parts.surname_credit >= RARE_PART_CREDIT
        and given >= RARE_PART_CREDIT
        and counts.pair(query.surname, query.given_name) <= RARE_NAME_ROWS
        and counts.pair(parts.held.surname, parts.held.given_name) <= RARE_NAME_ROWS
    ):
        return "name:unique"
    if parts.dob is None or not parts.dob.strong or query.dob is None:
        return ""
    if parts.surname_credit >= RARE_PART_CREDIT:
        rows = max(counts.surname(query.surname), counts.surname(parts.held.surname))
        if expected_namesakes(rows, query.dob, sex_agrees=sex_agrees) <= POSSIBLE_MAX_NAMESAKES:
            return "surname:rare"
    if given is not None and given >= 1.0:
        rows = max(counts.given(query.given_name), counts.given(parts.held.given_name))
        if expected_namesakes(rows, query.dob, sex_agrees=sex_agrees) <= POSSIBLE_MAX_NAMESAKES:
            return "given:rare"
    return ""


def _sex_code(wanted: str, held: str) -> str:
    if wanted not in _SEXES or held not in _SEXES:
        return ""
    return "sex:agrees" if wanted == held else "sex:differs"


def _age_code(query: PersonQuery, held_dob: dt.date | None) -> str:
    if held_dob is None or (query.born_from is None and query.born_to is None):
        return ""
    if query.born_from is not None and held_dob < query.born_from:
        return "age:out"
    if query.born_to is not None and held_dob > query.born_to:
        return "age:out"
    return "age:in"


def _born_code(query: PersonQuery, held_dob: dt.date | None) -> str:
    low, high = query.birth_years
    if held_dob is None or not (low or high):
        return ""
    if (low and held_dob.year < low) or (high and held_dob.year > high):
        return "born:out"
    return "born:in"
