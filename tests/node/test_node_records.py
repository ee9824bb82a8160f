"""The record model: what a valid record is, and a readable reason for every bad one."""

from __future__ import annotations

import datetime as dt

import pytest

from fieldgate.matching.matcher import CandidateName
from fieldgate.policy.catalog import FieldCatalog, default_catalog_path, load_catalog
from fieldgate.policy.errors import RecordError
from fieldgate.policy.records import MAX_STRING_LENGTH, Record, validate_record

CATALOG = load_catalog(default_catalog_path())


def raw(**fields: object) -> dict[str, object]:
    base: dict[str, object] = {"record_id": "KCSO-B-1", "record_kind": "booking"}
    base.update(fields)
    return base


def test_valid_record_is_normalised_and_in_catalog_order() -> None:
    record = validate_record(
        raw(
            dob="1980-04-12",
            surname="  Hernández ",
            given_name="Miguel",
            middle_name="",
            phone=None,
            aliases=["HERNANDEZ, MIKE", "", "Mike Hernandes"],
            height_cm=178,
            address={"city": "Seattle", "state": "WA", "street": ""},
            juvenile=False,
            sealed=None,
        ),
        CATALOG,
    )
    assert record == Record(
        record_id="KCSO-B-1",
        kind="booking",
        sealed=False,
        juvenile=False,
        expunged=False,
        fields={
            "surname": "Hernández",
            "given_name": "Miguel",
            "aliases": ["HERNANDEZ, MIKE", "Mike Hernandes"],
            "dob": "1980-04-12",
            "height_cm": 178,
            "address": {"city": "Seattle", "state": "WA"},
        },
    )
    assert list(record.fields) == [
        "surname",
        "given_name",
        "aliases",
        "dob",
        "height_cm",
        "address",
    ]


def test_to_raw_round_trips() -> None:
    record = validate_record(
        raw(surname="Doe", state_id="WA-123 456", sealed=True, charges=["RCW 9A.56"]), CATALOG
    )
    assert record.sealed is True
    assert validate_record(record.to_raw(), CATALOG) == record


def test_names_dob_and_identifiers_are_derived_normalised() -> None:
    record = validate_record(
        raw(
            surname="O'Brien",
            given_name="Seán Patrick",
            aliases=["OBRIEN, SEAN PATRICK", "Brian, Shawn", "John Smith"],
            dob="1975-01-31",
            state_id="wa-123 456",
            fbi_number="123-ab",
        ),
        CATALOG,
    )
    # The first alias normalises to the primary name and is not repeated.
    assert record.names() == (
        CandidateName("OBRIEN", "SEAN PATRICK"),
        CandidateName("BRIAN", "SHAWN", alias=True),
        CandidateName("SMITH", "JOHN", alias=True),
    )
    assert record.dob() == dt.date(1975, 1, 31)
    assert record.identifiers() == (("fbi_number", "123AB"), ("state_id", "WA123456"))


@pytest.mark.parametrize(
    ("fields", "fragment"),
    [
        ({"record_id": None}, "record_id: is missing"),
        ({"record_id": 17}, "record_id: must be a string"),
        ({"record_id": "x" * 65}, "1 to 64 printable characters"),
        ({"record_id": "a\x1b[2Jb"}, "1 to 64 printable characters"),
        ({"record_kind": ""}, "record_kind: is missing"),
        ({"record_kind": "parking_ticket"}, "'parking_ticket' is not a record kind"),
        ({"sealed": "yes"}, "sealed: must be true or false"),
        ({"shoe_size": 44}, "'shoe_size' is not a field of this node's catalog"),
        ({"dob": "1980-02-30"}, "dob: '1980-02-30' is not a valid date"),
        ({"dob": "1980-4-12"}, "dob: '1980-4-12' is not a valid date"),
        ({"dob": "2019-W01-1"}, "is not a valid date"),
        ({"dob": 19800412}, "dob: must be a string"),
        ({"height_cm": True}, "height_cm: must be a whole number"),
        ({"height_cm": 180.0}, "height_cm: must be a whole number"),
        ({"height_cm": "180"}, "height_cm: must be a whole number"),
        ({"weight_kg": 2**60}, "weight_kg: 1152921504606846976 is out of range"),
        ({"charges": "theft"}, "charges: must be a list of strings"),
        ({"charges": ["theft", 3]}, "charges[1]: must be a string"),
        ({"address": "1 Main St"}, "address: must be an object"),
        ({"address": {"city": "Seattle", "state": "WA", "country": "US"}}, "address.country"),
        ({"address": {"street": "1 Main St", "state": "WA"}}, "address.city: is missing"),
        ({"incident_summary": "x" * (MAX_STRING_LENGTH + 1)}, "incident_summary: is 2001"),
        ({"incident_summary": "ok\x1b]0;pwned\x07"}, "incident_summary: contains control"),
        ({"given_name": "Jo\u202ehn"}, "given_name: contains control"),
        ({"given_name": "\ud800"}, "given_name: contains control"),
        ({"surname": "1234"}, "surname: '1234' has no letters"),
        ({"state_id": "--"}, "state_id: '--' has no letters or digits"),
        ({"aliases": [", JOHN"]}, "aliases[0]: ', JOHN' has no surname"),
        ({"surname": None, "given_name": "John"}, "no surname, alias or identifier"),
    ],
)
def test_bad_record_reason_names_the_field(fields: dict[str, object], fragment: str) -> None:
    record = raw(surname="Doe")
    record.update(fields)
    with pytest.raises(RecordError) as caught:
        validate_record(record, CATALOG)
    assert fragment in caught.value.reason


def test_multiline_text_keeps_newlines_and_tabs() -> None:
    record = validate_record(raw(surname="Doe", incident_summary="a\r\nb\tc\rd"), CATALOG)
    assert record.fields["incident_summary"] == "a\nb\tc\nd"


def test_a_field_the_agency_removed_from_its_catalog_is_refused() -> None:
    small = FieldCatalog(
        fields={name: spec for name, spec in CATALOG.fields.items() if name != "citizenship"}
    )
    assert validate_record(raw(surname="Doe", citizenship="US"), CATALOG).fields["citizenship"]
    with pytest.raises(RecordError, match="'citizenship' is not a field"):
        validate_record(raw(surname="Doe", citizenship="US"), small)


def test_identifier_only_record_is_accepted() -> None:
    record = validate_record(raw(booking_number="B-2024-0001"), CATALOG)
    assert record.names() == ()
    assert record.identifiers() == (("booking_number", "B20240001"),)
