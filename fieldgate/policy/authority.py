"""Which of the requester's legal instruments apply to one record.

The contract is told, per instrument, whether it ``applies_to_record``; that
judgement is the node's, made here, never the requester's. An instrument
applies only when it is unexpired, covers the record's kind and names the
record's person exactly: surname (or an alias's surname), first given name
when the instrument gives one, and date of birth. Matching legal authority
fuzzily would let a warrant for one person unlock another's records.

The ids of the instruments that apply to a record are written into the
search's audit entry (``warrants_applied``), so a replay of the log
(``fieldgate contract diff --audit``) can tell the contract exactly what it
was told, without the log ever naming the person an instrument covers.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable

from fieldgate.core.claims import LegalAuthority
from fieldgate.policy.records import Record


def applies_to_record(authority: LegalAuthority, record: Record, today: dt.date) -> bool:
    """Return whether ``authority`` covers ``record`` (see the module docstring)."""
    if authority.expires < today:
        return False
    if authority.record_kinds and record.kind not in authority.record_kinds:
        return False
    if record.dob() != authority.subject_dob:
        return False
    wanted_given = authority.subject_given_name.split()[:1]
    return any(
        name.surname == authority.subject_surname
        and (not wanted_given or name.given_name.split()[:1] == wanted_given)
        for name in record.names()
    )


def applied_ids(
    authorities: Iterable[LegalAuthority], record: Record, today: dt.date
) -> tuple[str, ...]:
    """The ids of the instruments that apply to ``record``, in the order presented."""
    return tuple(a.id for a in authorities if applies_to_record(a, record, today))


def authority_input(
    authorities: Iterable[LegalAuthority],
    record: Record,
    today: dt.date,
    applied: Collection[str] | None = None,
) -> list[dict[str, object]]:
    """Build ``input.authority`` for one record.

    Args:
        authorities: the requester's verified instruments.
        record: the record the contract is asked about.
        today: the date instruments are judged on.
        applied: the ids of the instruments that apply, when already judged
            (a replay of an audit entry that logged them); None judges each
            here with :func:`applies_to_record`.
    """
    return [
        {
            "kind": a.kind,
            "id": a.id,
            "court": a.court,
            "covers": list(a.covers),
            "record_kinds": list(a.record_kinds),
            "applies_to_record": (
                applies_to_record(a, record, today) if applied is None else a.id in applied
            ),
        }
        for a in authorities
    ]
