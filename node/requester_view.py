"""Withheld fields never shape an answer: hits filtered and ranked on what the requester knows.

A match is scored on the record's names, date of birth and identifiers. When
the contract withholds the date of birth (or an identifier the query gave)
from a requester, a hit that came back only because that date agreed would
tell them the date: against a pointer-only contract, the exact date of birth
took about 60 searches (issue 16, item 8). So the node decides each candidate
twice over:

- **Known evidence.** The contract's own release for the record (at the tier
  it was asked at, before the node's "possible is a pointer" rule) includes
  every piece of evidence the match could use beyond the names: the date of
  birth (when the record holds one and the query weighs it: a date, an age
  range or years of birth), the sex (when the query gives one: ``sex:differs``
  lowers a tier) and each identifier kind the query gives (when the record
  holds it), each released whole. Then the requester may
  know that evidence, and the full match filters and ranks the hit as
  before. So do they the date of birth of a record a warrant they presented
  applies to: it applies only when the record's date is the one it names.
- **Blind.** Otherwise the hit is decided as if the query gave names only
  (:func:`blind_query`: no date, identifier, sex, age range or birth years):
  it is a pointer when the names alone make a ``possible`` match and the
  contract discloses a possible match, never anything more; and blind
  pointers come after the known hits in the order of a keyed digest of their
  record id (:func:`pointer_order`), which depends on no field at all. A
  record found only through withheld evidence (a misspelt surname on the
  query's exact date of birth) is withheld.

The names are the one thing a pointer always rests on: a pointer says "we hold
someone by that name, call us", and the contract disclosing the record is the
owner's consent to that. The blind answer therefore depends only on the query's
names and on the held names, whatever date of birth or identifier the query
gives. A masked date of birth (the year, say) counts as withheld: the node
does not reason about what a mask leaves known.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from fieldgate.core.digests import PersonDigester
from fieldgate.core.query import PersonQuery
from fieldgate.policy.catalog import FieldCatalog
from fieldgate.policy.evaluate import PolicyDecision
from fieldgate.policy.records import Record

__all__ = ["WITHHELD_EVIDENCE_REASON", "blind_query", "evidence_known", "pointer_order"]

WITHHELD_EVIDENCE_REASON = "match rests on evidence withheld from the requester"
"""Why a record found only through a withheld date of birth or identifier is withheld."""


def _weighs_dob(query: PersonQuery) -> bool:
    """Whether a match of ``query`` weighs the record's date of birth.

    The age range and the years of birth weigh it too: ``age:out`` and
    ``born:out`` lower a tier, so a sweep over years would read a withheld date.
    """
    ranged = query.born_from is not None or query.born_to is not None
    return query.dob is not None or ranged or query.birth_years != (0, 0)


def blind_query(query: PersonQuery) -> PersonQuery | None:
    """``query`` with its names only; None when it gives nothing else (it is already blind)."""
    if not _weighs_dob(query) and not query.identifiers and not query.sex:
        return None
    return dataclasses.replace(
        query, dob=None, identifiers=(), sex="", born_from=None, born_to=None, birth_years=(0, 0)
    )


def evidence_fields(query: PersonQuery, record: Record) -> tuple[str, ...]:
    """The record's fields, other than names, that a match of ``query`` against it may weigh."""
    wanted = ["dob"] if _weighs_dob(query) else []
    wanted += ["sex"] if query.sex else []
    wanted += sorted({kind for kind, _ in query.identifiers})
    return tuple(name for name in wanted if name in record.fields)


def evidence_known(
    decision: PolicyDecision, record: Record, catalog: FieldCatalog, query: PersonQuery
) -> bool:
    """Whether the contract releases whole every non-name field the match may weigh.

    Judged on the contract's own decision (``decision.raw``), not on the node's
    verdict: a possible match leaves as a pointer whatever the contract
    releases, yet the requester may still know the record's date of birth (a
    search giving the exact date would release it), so it may filter the hit.
    A contract that failed or withheld the record knows nothing.
    """
    needed = evidence_fields(query, record)
    if decision.warrants_applied:
        # A warrant applies only to a record whose date of birth is the one it
        # names, and the requester presented that warrant: they know the date.
        needed = tuple(name for name in needed if name != "dob")
    if not needed:
        return True
    raw = decision.raw
    # The contract's own decision, read as decide_fields reads it: a field is
    # released whole when it is in the catalog, in ``release`` and not masked.
    # (Not through decide_fields itself: this runs for every candidate.)
    if not isinstance(raw, Mapping) or raw.get("disclose") is not True:
        return False
    release, mask = raw.get("release", ()), raw.get("mask", {})
    if not isinstance(release, set | frozenset | list | tuple) or not isinstance(mask, Mapping):
        return False
    return all(name in catalog.fields and name in release and name not in mask for name in needed)


def pointer_order(digester: PersonDigester, record_id: str) -> str:
    """The key blind pointers are ordered by: keyed, so it says nothing of the record."""
    return digester.digest("pointer-order", record_id)
