"""A warrant applies only to the person, kinds and dates it names."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from pathlib import Path

from fieldgate.core.claims import LegalAuthority
from fieldgate.policy.authority import applies_to_record
from fieldgate.policy.catalog import default_catalog_path, load_catalog
from fieldgate.policy.records import Record, validate_record

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


def test_two_instruments_sharing_an_id_are_each_judged_on_their_own(tmp_path: Path) -> None:
    """The wire refuses repeated ids; tools that combine personas may still make them.

    The node then judges each instrument itself instead of telling the
    contract "applies" for every instrument carrying an id that applied.
    """
    from fieldgate.core.claims import RequesterClaims
    from fieldgate.policy.engine import RegorusContract
    from fieldgate.policy.evaluate import evaluate_record
    from tests.conftest import write_contract

    someone_else = replace(WARRANT, subject_surname="OTHER", covers=("citizenship",))
    claims = RequesterClaims(
        subject="d-1",
        agency="Seattle PD",
        agency_type="local_law_enforcement",
        roles=("investigator",),
        purpose="criminal_investigation",
        case_number="C-1",
        authority=(WARRANT, someone_else),
    )
    contract = RegorusContract(
        write_contract(tmp_path, "c.rego", "package t\nimport rego.v1\ndecision := {}\n"),
        None,
        CATALOG.classes(),
    )
    try:
        decision = evaluate_record(contract, claims, record(), CATALOG, node_id="kcso", today=TODAY)
    finally:
        contract.close()
    assert decision.policy_input is not None
    told = decision.policy_input["authority"]
    assert isinstance(told, list)
    assert [(a["id"], a["covers"], a["applies_to_record"]) for a in told] == [
        ("W-1", ["location"], True),
        ("W-1", ["citizenship"], False),
    ]
