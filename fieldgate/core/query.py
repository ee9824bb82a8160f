"""Validation of person queries, applied by the broker and again by every node.

A query must name someone: a surname of at least two letters with a given name
or a date of birth, or an exact identifier. Wildcards and empty queries are
refused, so no query can sweep a node's whole table.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from dataclasses import dataclass

from fieldgate.core.errors import InvalidRequestError
from fieldgate.core.names import normalize_identifier, normalize_name
from fieldgate.core.vocabulary import IDENTIFIER_KINDS
from fieldgate.v2 import common_pb2

MAX_NAME_LENGTH = 100
"""Longest surname or given name accepted, in characters."""

MAX_IDENTIFIER_LENGTH = 64
"""Longest identifier accepted, in characters."""

MAX_IDENTIFIERS = 8
"""Most identifiers in one query."""

DEFAULT_MAX_HITS = 25
"""Hits per agency when the query does not say."""

HARD_MAX_HITS = 100
"""No node answer carries more hits than this."""

_WILDCARDS = frozenset("*%?_")
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


@dataclass(frozen=True)
class PersonQuery:
    """A validated person search.

    Attributes:
        surname: normalised surname (see :func:`fieldgate.core.names.normalize_name`), or "".
        given_name: normalised given name(s), or "".
        dob: date of birth, if given.
        identifiers: (kind, normalised value) pairs.
        max_hits: most hits wanted per agency.
        sex: ``M``, ``F`` or ``X`` as the requester believes, or "": corroboration only.
        born_from: earliest date of birth the query's age range allows, if given.
        born_to: latest date of birth the query's age range allows, if given.
            Corroboration only (:mod:`fieldgate.matching.evidence`): never a
            match on its own.
        birth_years: (earliest, latest) year of birth the query allows, 0 for
            an open end; (0, 0) when not given. Corroboration only, beside
            the age range (both apply when both are given).
    """

    surname: str
    given_name: str
    dob: dt.date | None
    identifiers: tuple[tuple[str, str], ...]
    max_hits: int
    sex: str = ""
    born_from: dt.date | None = None
    born_to: dt.date | None = None
    birth_years: tuple[int, int] = (0, 0)


SEXES = ("M", "F", "X")
"""Values the query's ``sex`` accepts (as the catalog's ``sex`` field records them)."""

MAX_AGE = 125
"""Oldest age an age range may name."""


def corroboration(query: PersonQuery) -> dict[str, str]:
    """The query's corroboration (sex, birth-date range, birth years) as text, only what is given.

    Digests add it only when present, so a query without it digests exactly
    as before corroboration existed.
    """
    given = {
        "sex": query.sex,
        "born_from": query.born_from.isoformat() if query.born_from else "",
        "born_to": query.born_to.isoformat() if query.born_to else "",
        "birth_year_min": str(query.birth_years[0] or ""),
        "birth_year_max": str(query.birth_years[1] or ""),
    }
    return {key: value for key, value in given.items() if value}


def query_digest(query: PersonQuery) -> str:
    """SHA-256 (hex) of the normalised query, so logs can correlate without holding names.

    The broker's search log and every node's disclosure log record this digest
    for the same search, and auditors join the two logs on it: its bytes must
    never change. ``max_hits`` is left out (it asks how much, not whom), and
    identifiers are sorted, so the same person asked twice digests the same.
    """
    canonical = json.dumps(
        {
            "surname": query.surname,
            "given_name": query.given_name,
            "dob": query.dob.isoformat() if query.dob else "",
            "identifiers": sorted(query.identifiers),
            **corroboration(query),
        },
        sort_keys=True,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def parse_date(value: str, field: str) -> dt.date:
    """Parse a ``YYYY-MM-DD`` date, raising :class:`InvalidRequestError` naming ``field``."""
    # fromisoformat alone also takes week dates ("2020-W01-1") and compact forms.
    if not _ISO_DATE.fullmatch(value):
        raise InvalidRequestError(field, f"{value[:40]!r} is not in YYYY-MM-DD form")
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise InvalidRequestError(
            field, f"{value[:40]!r} is not a valid date; use YYYY-MM-DD"
        ) from None


def _check_name(value: str, field: str) -> str:
    if len(value) > MAX_NAME_LENGTH:
        raise InvalidRequestError(
            field, f"is {len(value)} characters long; at most {MAX_NAME_LENGTH} are accepted"
        )
    if any(c in _WILDCARDS for c in value):
        raise InvalidRequestError(field, "wildcards (* % ? _) are not accepted; give the name")
    return normalize_name(value)


def validate_query(message: common_pb2.PersonQuery, *, today: dt.date | None = None) -> PersonQuery:
    """Check a wire query and return its normalised form.

    Raises:
        InvalidRequestError: naming the first field that is wrong.
    """
    surname = _check_name(message.surname, "query.surname")
    given = _check_name(message.given_name, "query.given_name")
    dob: dt.date | None = None
    if message.dob:
        dob = parse_date(message.dob, "query.dob")
        if dob > (today or dt.date.today()) or dob.year < 1900:
            raise InvalidRequestError("query.dob", f"{message.dob} is not a plausible birth date")
    if len(message.identifiers) > MAX_IDENTIFIERS:
        raise InvalidRequestError("query.identifiers", f"at most {MAX_IDENTIFIERS} are accepted")
    identifiers: list[tuple[str, str]] = []
    for i, ident in enumerate(message.identifiers):
        where = f"query.identifiers[{i}]"
        if ident.kind not in IDENTIFIER_KINDS:
            raise InvalidRequestError(
                f"{where}.kind",
                f"unknown identifier kind {ident.kind[:40]!r}; use one of "
                + ", ".join(sorted(IDENTIFIER_KINDS)),
            )
        if len(ident.value) > MAX_IDENTIFIER_LENGTH or any(c in _WILDCARDS for c in ident.value):
            raise InvalidRequestError(f"{where}.value", "must be a whole identifier, no wildcards")
        value = normalize_identifier(ident.value)
        if len(value) < 3:
            raise InvalidRequestError(f"{where}.value", "must have at least 3 letters or digits")
        identifiers.append((ident.kind, value))
    if not identifiers:
        if len(surname.replace(" ", "")) < 2:
            raise InvalidRequestError(
                "query",
                "name a person: a surname of at least 2 letters with a given name or a date "
                "of birth, or an exact identifier",
            )
        if not given and dob is None:
            raise InvalidRequestError(
                "query", "a surname alone is too broad; add a given name or a date of birth"
            )
    max_hits = message.max_hits or DEFAULT_MAX_HITS
    sex = message.sex.strip().upper()
    if sex and sex not in SEXES:
        raise InvalidRequestError(
            "query.sex", f"{message.sex[:10]!r} is not one of {', '.join(SEXES)} (or empty)"
        )
    born_from, born_to = _birth_range(message.age_min, message.age_max, today or dt.date.today())
    birth_years = _birth_years(message.birth_year_min, message.birth_year_max, today)
    return PersonQuery(
        surname=surname,
        given_name=given,
        dob=dob,
        identifiers=tuple(identifiers),
        max_hits=min(max_hits, HARD_MAX_HITS),
        sex=sex,
        born_from=born_from,
        born_to=born_to,
        birth_years=birth_years,
    )


def _birth_range(
    age_min: int, age_max: int, today: dt.date
) -> tuple[dt.date | None, dt.date | None]:
    """The dates of birth an age range (0 = not given) allows, as (earliest, latest)."""
    for value, field in ((age_min, "query.age_min"), (age_max, "query.age_max")):
        if value > MAX_AGE:
            raise InvalidRequestError(field, f"{value} is not a plausible age (at most {MAX_AGE})")
    if age_min and age_max and age_min > age_max:
        raise InvalidRequestError(
            "query.age_min", f"{age_min} is above query.age_max ({age_max}); give min <= max"
        )
    latest = _years_before(today, age_min) if age_min else None
    # Aged at most age_max: born after the day age_max + 1 years ago.
    earliest = _years_before(today, age_max + 1) + dt.timedelta(days=1) if age_max else None
    return earliest, latest


def _birth_years(low: int, high: int, today: dt.date | None) -> tuple[int, int]:
    """A year-of-birth range (0 = open end), checked to be plausible and in order."""
    this_year = (today or dt.date.today()).year
    for value, field in ((low, "query.birth_year_min"), (high, "query.birth_year_max")):
        if value and not 1900 <= value <= this_year:
            raise InvalidRequestError(
                field, f"{value} is not a plausible year of birth (1900 to {this_year})"
            )
    if low and high and low > high:
        raise InvalidRequestError(
            "query.birth_year_min",
            f"{low} is after query.birth_year_max ({high}); give min <= max",
        )
    return low, high


def _years_before(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February in a year without one
        return day.replace(year=day.year - years, day=28)
