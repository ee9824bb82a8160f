"""Sample requesters, warrants and records that exercise every branch of a contract.

The decision matrix (:mod:`fieldgate.authoring.matrix`) and the node's
field-locality check (:mod:`fieldgate.policy.field_locality`) ask contracts about the same
made-up person: a record holding every catalog field, with values every mask
its type allows can mask, and a criminal judicial warrant that names the
person and covers every class and field.
"""

from __future__ import annotations

import datetime as dt

from fieldgate.core.claims import LegalAuthority, RequesterClaims
from fieldgate.core.vocabulary import IDENTIFIER_KINDS
from fieldgate.policy.catalog import FieldCatalog
from fieldgate.policy.records import FieldValue, Record

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
