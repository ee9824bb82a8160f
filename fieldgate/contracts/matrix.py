"""The decision matrix: every requester kind x purpose x warrant x record kind.

``fieldgate contract check`` and ``render`` do not read the contract's rules;
they ask the contract. The matrix is every combination of agency type and
purpose (:mod:`fieldgate.vocabulary`), each without legal authority and with a
criminal judicial warrant that applies to the record and covers every class
and field of the catalog, about a record of every kind that holds every
catalog field. Each cell is decided through the node's own path
(:meth:`fieldgate.contracts.session.ContractSession.decide`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

from fieldgate.claims import LegalAuthority, RequesterClaims
from fieldgate.contracts.session import ContractSession
from fieldgate.vocabulary import AGENCY_TYPES, IDENTIFIER_KINDS, PURPOSES, RECORD_KINDS
from node.catalog import FieldCatalog
from node.policy import PolicyDecision
from node.records import FieldValue, Record

SUBJECT_SURNAME = "HERNANDEZ"
SUBJECT_GIVEN_NAME = "MIGUEL"
SUBJECT_DOB = dt.date(1986, 3, 7)

# Values that fit every mask their type allows (last4 needs six characters).
_WELL_KNOWN_VALUES: dict[str, FieldValue] = {
    "surname": SUBJECT_SURNAME,
    "given_name": SUBJECT_GIVEN_NAME,
    "middle_name": "JOSE",
    "aliases": ["HERNANDEZ, MIKE"],
    "dob": SUBJECT_DOB.isoformat(),
    "phone": "206-555-0199",
    "contact_unit": "Records Unit",
    "contact_phone": "206-555-0100",
}
_BY_TYPE: dict[str, FieldValue] = {
    "string": "SAMPLE-123456",
    "date": "2026-01-15",
    "integer": 170,
    "string_list": ["SAMPLE ONE", "SAMPLE TWO"],
    "address": {"street": "1 MAIN ST", "city": "TUKWILA", "state": "WA", "postal_code": "98168"},
}


def sample_value(name: str, field_type: str) -> FieldValue:
    """A value for a catalog field that every mask fitting its type can mask."""
    if name in _WELL_KNOWN_VALUES:
        return _WELL_KNOWN_VALUES[name]
    if name in IDENTIFIER_KINDS:
        return "WA1234567"
    return _BY_TYPE[field_type]


def full_record(catalog: FieldCatalog, kind: str) -> Record:
    """A record of ``kind`` holding every catalog field, about the matrix's subject."""
    fields = {name: sample_value(name, spec.type) for name, spec in catalog.fields.items()}
    return Record(
        f"MATRIX-{kind}", kind, sealed=False, juvenile=False, expunged=False, fields=fields
    )


def covering_warrant(catalog: FieldCatalog, today: dt.date) -> LegalAuthority:
    """A criminal judicial warrant for the matrix's subject covering every class and field."""
    classes = sorted({spec.sensitivity for spec in catalog.fields.values()})
    return LegalAuthority(
        kind="criminal_judicial_warrant",
        id="W-MATRIX-1",
        court="Matrix Superior Court",
        subject_surname=SUBJECT_SURNAME,
        subject_given_name=SUBJECT_GIVEN_NAME,
        subject_dob=SUBJECT_DOB,
        covers=(*classes, *catalog.fields),
        record_kinds=(),
        expires=today + dt.timedelta(days=30),
    )


def matrix_claims(
    agency_type: str, purpose: str, authority: tuple[LegalAuthority, ...]
) -> RequesterClaims:
    """The requester of one matrix cell."""
    return RequesterClaims(
        subject="matrix-requester",
        agency=f"sample-{agency_type.replace('_', '-')}",
        agency_type=agency_type,
        roles=("investigator",),
        purpose=purpose,
        case_number="MATRIX-2026-1",
        authority=authority,
    )


@dataclass(frozen=True)
class Cell:
    """One cell of the matrix and the node's decision for it.

    Attributes:
        agency_type: the requester's agency type.
        purpose: the stated purpose.
        warrant: whether the requester presents an applicable covering warrant.
        record_kind: the record's kind.
        decision: input, raw decision and verdict.
    """

    agency_type: str
    purpose: str
    warrant: bool
    record_kind: str
    decision: PolicyDecision

    @property
    def outcomes(self) -> dict[str, str]:
        """Field → ``released``, ``masked:<mask>`` or ``withheld``."""
        return {
            f.name: f"masked:{f.mask}" if f.outcome == "masked" else f.outcome
            for f in self.decision.verdict.fields
        }


def requester_kinds() -> Iterator[tuple[str, str]]:
    """Every (agency type, purpose), in a fixed order."""
    for agency_type in sorted(AGENCY_TYPES):
        for purpose in sorted(PURPOSES):
            yield agency_type, purpose


def decision_matrix(session: ContractSession) -> list[Cell]:
    """Decide every cell of the matrix for the session's contract and catalog."""
    warrant = covering_warrant(session.catalog, session.today)
    records = {kind: full_record(session.catalog, kind) for kind in sorted(RECORD_KINDS)}
    cells = []
    for agency_type, purpose in requester_kinds():
        for with_warrant in (False, True):
            claims = matrix_claims(agency_type, purpose, (warrant,) if with_warrant else ())
            for kind, record in records.items():
                decision = session.decide(claims, record)
                cells.append(Cell(agency_type, purpose, with_warrant, kind, decision))
    return cells
