"""Which records a search scores: the candidate lookup, as SQL on the store's indexes.

Scoring (:mod:`fieldgate.matching.matcher`) is Python and costs microseconds per record,
so a search must not score every record that merely sounds alike. With a
date of birth in the query, the score itself bounds the candidates: an
exact name whose date of birth conflicts scores 0.55, so a record can reach
:data:`~fieldgate.matching.matcher.MATCH_THRESHOLD` only with a date of birth the matcher
credits as a near miss (exact, day/month transposed, one digit different,
two adjacent digits swapped: :func:`~fieldgate.matching.matcher.near_miss_dobs`, a few
dozen dates), or, at credit 0.4, one in the same year or none on record,
which needs a near-exact name (surname credit ≥ 0.96 *and* given-name
credit ≥ 0.92; never with a swapped name or without a given name).

So with a date of birth a record is a candidate when one of its names

1. shares a phonetic key (NYSIIS or metaphone) with the query's surname, or
   with the query's given name (a name recorded swapped), *and* has one of
   the near-miss dates: point probes on ``(surname_nysiis, dob)`` and
   ``(surname_metaphone, dob)``;
2. is the query's surname and first given name exactly, with a date of birth
   in the same year or none: a range on ``(surname, given_name, dob)``;
3. has the query's date of birth or its transposition and a given name with
   the same initial as the query's (or as the query's surname: a name recorded
   swapped), or none (``names_dob_given``), whatever the surname: the net for
   surname misspellings that share no phonetic key (EBANS for EVANS, STEWATR
   for STEWART). A query without a given name takes
   every name on those dates.

Reading tens of index entries instead of every record with the surname's
keys (thousands at a million records). What is given up, against scoring
every record, is a record with two independent errors: a surname variant
sharing no key *and* a date of birth one digit off or a given name with
another initial (CATHERINE for KATHERINE, BOB for ROBERT); a misspelt name
*and* a date of birth that is only in the same year.

Without a date of birth, candidates are every record with a name whose
surname shares a phonetic key with the query's surname or given name (the
swapped reading), as before: correct, and slower on common names.

Records holding one of the query's identifiers are always candidates.

When the store holds the query's full name on at most
:data:`~fieldgate.matching.evidence.RARE_NAME_ROWS` rows (counted first, an index
range), every record with exactly that surname and first given name is a
candidate whatever its date of birth: a possible match at most
(``name:unique``), for duplicates whose date was replaced altogether (FEBRL).
The ``names_given`` index serves the counts of :mod:`fieldgate.matching.evidence`
(how common a given name is); stores of schema 3 get it when opened.

Since schema version 3 the ``names`` rows hold every reading of a record's
names (:func:`fieldgate.matching.name_forms.expand_names`), and the query's
surname is looked up in each of its own readings and their other
romanisations, so the lookups above find a person by a middle name, one word
of a compound surname, a surname without its particles, or JANG for CHANG.
The near-miss dates include the same day a year either side (possible
matches at most).
"""

from __future__ import annotations

import datetime as dt
import functools

from fieldgate.core.query import PersonQuery
from fieldgate.matching.equivalents import equivalent_surnames
from fieldgate.matching.matcher import near_miss_dobs, phonetic_keys, transposed_dob
from fieldgate.matching.name_forms import surname_forms

INDEXES = (
    "CREATE INDEX IF NOT EXISTS names_nysiis_dob ON names (surname_nysiis, dob)",
    "CREATE INDEX IF NOT EXISTS names_metaphone_dob ON names (surname_metaphone, dob)",
    "CREATE INDEX IF NOT EXISTS names_name_dob ON names (surname, given_name, dob)",
    "CREATE INDEX IF NOT EXISTS names_dob_given ON names (dob, given_name)",
    "CREATE INDEX IF NOT EXISTS names_record ON names (record_id)",
    # How common a given name is (fieldgate.matching.evidence); added to
    # schema 3 stores in place when they are opened.
    "CREATE INDEX IF NOT EXISTS names_given ON names (given_name)",
)
"""The ``names`` indexes the lookups below rely on (schema version 2 and later)."""

RETIRED_INDEXES = ("names_nysiis", "names_metaphone", "names_dob")
"""Version 1 indexes the composite ones above make redundant (their leading column)."""


def candidate_union(query: PersonQuery, *, rare_name: bool = False) -> tuple[str, list[str]]:
    """The candidate record ids for ``query``: a UNION of index lookups, and its parameters.

    ``rare_name``: the store holds the query's full name on at most a few rows
    (:data:`fieldgate.matching.evidence.RARE_NAME_ROWS`), so every record with
    exactly that name is a candidate whatever its date of birth: a possible
    match at most (``name:unique``), and a handful of rows to read.

    Returns ("", []) when the query gives nothing to look up.
    """
    parts: list[str] = []
    params: list[str] = []
    if query.surname:
        keys = _name_keys(query)
        if query.dob is None:
            _add_in(parts, params, "surname_nysiis", [n for n, _ in keys], None)
            _add_in(parts, params, "surname_metaphone", [m for _, m in keys], None)
        else:
            dates = list(_near_miss_texts(query.dob))
            _add_in(parts, params, "surname_nysiis", [n for n, _ in keys], dates)
            _add_in(parts, params, "surname_metaphone", [m for _, m in keys], dates)
            close = [query.dob.isoformat()]
            if (swapped := transposed_dob(query.dob)) is not None:
                close.append(swapped.isoformat())
            sql = f"SELECT record_id FROM names WHERE dob IN ({_marks(close)})"
            if query.given_name:
                first = query.given_name.split()[0]
                year = f"{query.dob.year:04d}"
                for form in surname_forms(query.surname):
                    parts.append(_SAME_NAME_SQL)
                    params += [form, first, first + _AFTER, f"{year}-01-01", f"{year}-12-31"]
                if rare_name:
                    parts.append(SAME_NAME_ANY_DOB_SQL)
                    params += [query.surname, first, first + _AFTER]
                for initial in dict.fromkeys((first[0], query.surname[0])):
                    # The query's surname initial too: a name recorded swapped.
                    parts.append(f"{sql} AND given_name BETWEEN ? AND ?")
                    params += [*close, initial, initial + "\uffff"]
                parts.append(f"{sql} AND given_name = ''")
                params += close
            else:
                parts.append(sql)
                params += close
    for kind, value in query.identifiers:
        parts.append("SELECT record_id FROM identifiers WHERE kind = ? AND value = ?")
        params += [kind, value]
    if not parts:
        return "", []
    return " UNION ".join(parts), params


_SAME_NAME_SQL = (
    "SELECT record_id FROM names WHERE surname = ? AND given_name >= ? AND given_name <= ?"
    " AND (dob BETWEEN ? AND ? OR dob IS NULL)"
)

SAME_NAME_ANY_DOB_SQL = (
    "SELECT record_id FROM names WHERE surname = ? AND given_name >= ? AND given_name <= ?"
)
"""Rows with a surname and a first given name (then ``first``, ``first + " \uffff"``)."""


def name_counts_sql(cap: int) -> tuple[str, str, str]:
    """SQL counting (up to ``cap``) the rows with a surname, a first given name, and both.

    Parameters: ``(surname,)``, ``(first, first + " \uffff")`` and
    ``(surname, first, first + " \uffff")``; each an index range, never a scan.
    """
    return (
        f"SELECT count(*) FROM (SELECT 1 FROM names WHERE surname = ? LIMIT {cap:d})",
        "SELECT count(*) FROM (SELECT 1 FROM names WHERE given_name >= ? AND given_name <= ?"
        f" LIMIT {cap:d})",
        # SELECT 1, not record_id: the (surname, given_name, dob) index alone
        # answers it, with no read of the rows themselves.
        "SELECT count(*) FROM (SELECT 1 FROM names WHERE surname = ? AND given_name >= ?"
        f" AND given_name <= ? LIMIT {cap:d})",
    )


def first_given_range(given_name: str) -> tuple[str, str]:
    """The ``given_name`` bounds of a first given name alone or followed by more."""
    first = given_name.split()[0] if given_name.split() else ""
    return first, first + _AFTER


# given_name BETWEEN first AND first + _AFTER: the first given word alone or
# followed by more ("JOHN", "JOHN PAUL"); normalised names hold no character
# below the space.
_AFTER = " \uffff"


@functools.lru_cache(maxsize=1024)
def _near_miss_texts(dob: dt.date) -> tuple[str, ...]:
    """:func:`~fieldgate.matching.matcher.near_miss_dobs` as the ``YYYY-MM-DD`` text stored."""
    return tuple(d.isoformat() for d in near_miss_dobs(dob))


def _name_keys(query: PersonQuery) -> list[tuple[str, str]]:
    """Phonetic keys to look surnames up by.

    Those of every reading of the query's surname (particles folded, each
    word of a compound), of their other romanisations (JANG for CHANG), then
    of the query's given name (a name recorded swapped).
    """
    keys: list[tuple[str, str]] = []
    for form in surname_forms(query.surname):
        keys.append(phonetic_keys(form))
        keys += [phonetic_keys(other) for other in sorted(equivalent_surnames(form))]
    if query.given_name:
        keys.append(phonetic_keys(query.given_name.split()[0]))
    return keys


def _add_in(
    parts: list[str], params: list[str], column: str, keys: list[str], dates: list[str] | None
) -> None:
    wanted = list(dict.fromkeys(k for k in keys if k))
    if not wanted:
        return
    sql = f"SELECT record_id FROM names WHERE {column} IN ({_marks(wanted)})"
    params += wanted
    if dates is not None:
        sql += f" AND dob IN ({_marks(dates)})"
        params += dates
    parts.append(sql)


def _marks(values: list[str]) -> str:
    return ",".join("?" * len(values))
