"""A warrant applies only to the person, kinds and dates it names."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

from fieldgate.claims import LegalAuthority
from node.authority import applies_to_record
from node.catalog import default_catalog_path, load_catalog
from node.records import Record, validate_record

CATALOG = load_catalog(default_catalog_path())
TODAY = dt.date(2026, 11, 21)
WARRANT = LegalAuthority(
    kind="criminal_judicial_warrant",
    id="W-1",
    court="King County Superior Court",
    subject_surname="HERNANDEZ",
    subject_given_name="MIGUEL",
    subject_dob=dt.date(1986, 3, 7),
    covers=("location",),
    record_kinds=(),
    expires=dt.date(2026, 12, 31),
)


def record(**fields: object) -> Record:
    base: dict[str, object] = {
        "record_id": "R-1",
        "record_kind": "booking",
        "surname": "Hernández",
        "given_name": "Miguel",
        "dob": "1986-03-07",
    }
    base.update(fields)
    return validate_record(base, CATALOG)


def test_applies_to_the_named_person() -> None:
    assert applies_to_record(WARRANT, record(), TODAY)
    assert applies_to_record(  # an alias names the same person
        WARRANT,
        record(surname="LOPEZ", given_name="MIKE", aliases=["HERNANDEZ, MIGUEL"]),
        TODAY,
    )


def test_does_not_unlock_anyone_else() -> None:
    assert not applies_to_record(WARRANT, record(surname="HERNANDES"), TODAY)
    assert not applies_to_record(WARRANT, record(given_name="MARIA"), TODAY)
    assert not applies_to_record(WARRANT, record(dob="1986-07-03"), TODAY)


def test_expired_or_other_kinds_do_not_apply() -> None:
    expired = replace(WARRANT, expires=dt.date(2026, 11, 20))
    assert not applies_to_record(expired, record(), TODAY)
    bookings_only = replace(WARRANT, record_kinds=("booking",))
    assert applies_to_record(bookings_only, record(), TODAY)
    assert not applies_to_record(bookings_only, record(record_kind="case_file"), TODAY)
