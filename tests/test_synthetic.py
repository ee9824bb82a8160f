"""The synthetic-records generator: deterministic, catalog-valid, with its planted people."""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
import tomllib
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fieldgate.core.names import normalize_name
from fieldgate.core.vocabulary import RECORD_KINDS
from fieldgate.devkit.synthetic import (
    DEMO_AGENCIES,
    DEMO_SUBJECT,
    PLANTED_PEOPLE,
    SECOND_SUBJECT,
    THIRD_SUBJECT,
    Agency,
    generate_agency_records,
    generate_labelled_variants,
    write_jsonl,
)
from fieldgate.policy.shipped import standard_catalog_path

CATALOG_PATH = standard_catalog_path()
CATALOG: dict[str, str] = {
    name: spec["type"]
    for name, spec in tomllib.loads(CATALOG_PATH.read_text(encoding="utf-8"))["fields"].items()
}
FLAGS = ("sealed", "juvenile", "expunged")
DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
AGENCIES = {agency.node_id: agency for agency in DEMO_AGENCIES}
SEED = 20261115
COUNT = 1500


@functools.cache
def _records(node_id: str, count: int = COUNT, seed: int = SEED) -> tuple[dict[str, object], ...]:
    return tuple(generate_agency_records(AGENCIES[node_id], count=count, seed=seed))


def _by_id(node_id: str) -> dict[str, dict[str, object]]:
    return {str(r["record_id"]): r for r in _records(node_id)}


def _value_problem(kind: str, value: object) -> str | None:
    """Say what is wrong with ``value`` as a catalog value of type ``kind``, or None."""
    if kind == "string":
        ok = isinstance(value, str) and value.strip() != ""
    elif kind == "date":
        ok = isinstance(value, str) and DATE.fullmatch(value) is not None
        if ok:
            dt.date.fromisoformat(str(value))
    elif kind == "integer":
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif kind == "string_list":
        ok = (
            isinstance(value, list)
            and len(value) > 0
            and all(isinstance(v, str) and v.strip() for v in value)
        )
    elif kind == "address":
        ok = (
            isinstance(value, dict)
            and set(value) == {"street", "city", "state", "postal_code"}
            and all(isinstance(v, str) and v for v in value.values())
        )
    else:
        return f"unknown catalog type {kind}"
    return None if ok else f"{value!r} is not a valid {kind}"


def _problems(record: dict[str, object], agency: Agency) -> list[str]:
    """Everything wrong with ``record`` as a record of ``agency`` under the standard catalog."""
    found = []
    record_id = record.get("record_id")
    if not (isinstance(record_id, str) and record_id.startswith(f"{agency.prefix}-")):
        found.append(f"bad record_id {record_id!r}")
    if record.get("record_kind") not in {k for k, _ in agency.kind_weights} & RECORD_KINDS:
        found.append(f"bad record_kind {record.get('record_kind')!r}")
    for key, value in record.items():
        if key in ("record_id", "record_kind"):
            continue
        if key in FLAGS:
            if not isinstance(value, bool):
                found.append(f"{key} is not a boolean")
        elif key not in CATALOG:
            found.append(f"{key} is not a catalog field")
        elif (problem := _value_problem(CATALOG[key], value)) is not None:
            found.append(f"{key}: {problem}")
    for required in ("surname", "given_name", "dob", "contact_unit", "contact_phone"):
        if required not in record:
            found.append(f"{required} missing")
    for alias in record.get("aliases", []):  # type: ignore[attr-defined]
        if not re.fullmatch(r"[^,]+, [^,]+", alias):
            found.append(f"alias {alias!r} is not 'SURNAME, GIVEN'")
    return found


def _event_date(record: dict[str, object]) -> dt.date:
    return dt.date.fromisoformat(str(record.get("booking_date") or record["incident_date"]))


def _age(dob: dt.date, on: dt.date) -> int:
    return on.year - dob.year - ((on.month, on.day) < (dob.month, dob.day))


# Determinism and size


@pytest.mark.parametrize("agency", DEMO_AGENCIES, ids=lambda a: a.node_id)
def test_same_seed_gives_identical_records(agency: Agency) -> None:
    first = generate_agency_records(agency, count=400, seed=7)
    second = generate_agency_records(agency, count=400, seed=7)
    assert json.dumps(first) == json.dumps(second)


def test_different_seed_gives_different_records() -> None:
    first = generate_agency_records(DEMO_AGENCIES[0], count=200, seed=1)
    second = generate_agency_records(DEMO_AGENCIES[0], count=200, seed=2)
    assert json.dumps(first) != json.dumps(second)


@pytest.mark.parametrize("count", [0, 1, 37, 500])
@pytest.mark.parametrize("agency", DEMO_AGENCIES, ids=lambda a: a.node_id)
def test_count_background_records_plus_planted(agency: Agency, count: int) -> None:
    planted = sum(len(p.records_at(agency.node_id)) for p in PLANTED_PEOPLE)
    assert planted > 0
    records = generate_agency_records(agency, count=count, seed=3)
    assert len(records) == count + planted


def test_negative_count_is_refused() -> None:
    with pytest.raises(ValueError, match="count"):
        generate_agency_records(DEMO_AGENCIES[0], count=-1, seed=0)


# Validity


@pytest.mark.parametrize("node_id", sorted(AGENCIES))
def test_every_record_is_valid_against_the_standard_catalog(node_id: str) -> None:
    problems = {
        str(r["record_id"]): p for r in _records(node_id) if (p := _problems(r, AGENCIES[node_id]))
    }
    assert problems == {}


@pytest.mark.parametrize("node_id", sorted(AGENCIES))
def test_record_ids_and_identifiers_are_unique_per_agency(node_id: str) -> None:
    records = _records(node_id)
    for key in ("record_id", "booking_number", "warrant_number"):
        values = [r[key] for r in records if key in r]
        assert len(values) == len(set(values)), key


def test_booking_and_warrant_numbers_differ_across_agencies() -> None:
    seen: dict[object, str] = {}
    for node_id in AGENCIES:
        for record in _records(node_id):
            for key in ("booking_number", "warrant_number"):
                if key in record:
                    assert seen.setdefault(record[key], node_id) == node_id


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(min_value=-(2**63), max_value=2**63),
    count=st.integers(min_value=0, max_value=40),
    agency=st.sampled_from(DEMO_AGENCIES),
)
def test_any_seed_gives_valid_unique_records(seed: int, count: int, agency: Agency) -> None:
    records = generate_agency_records(agency, count=count, seed=seed)
    assert [p for r in records for p in _problems(r, agency)] == []
    assert len({r["record_id"] for r in records}) == len(records)


# Realism


@pytest.mark.parametrize("node_id", sorted(AGENCIES))
def test_ages_dates_and_flags_are_plausible(node_id: str) -> None:
    records = _records(node_id)
    for record in records:
        age = _age(dt.date.fromisoformat(str(record["dob"])), _event_date(record))
        if record.get("juvenile"):
            assert 10 <= age < 18, record["record_id"]
        else:
            assert 18 <= age <= 70, record["record_id"]
        if "release_date" in record:
            assert str(record["release_date"]) >= str(record["booking_date"])
    for flag, low, high in (("sealed", 0.003, 0.03), ("juvenile", 0.003, 0.04)):
        share = sum(1 for r in records if r.get(flag)) / len(records)
        assert low <= share <= high, (flag, share)


def test_kind_mix_follows_each_agency() -> None:
    kinds = {
        node_id: Counter(str(r["record_kind"]) for r in _records(node_id)) for node_id in AGENCIES
    }
    assert set(kinds["kcso"]) == {"booking", "incident_report", "warrant", "case_file"}
    assert set(kinds["spd"]) == {"incident_report", "field_interview", "case_file"}
    assert set(kinds["pcso"]) == {"booking", "incident_report", "warrant"}
    assert kinds["kcso"]["booking"] > kinds["kcso"]["warrant"]
    assert kinds["spd"]["incident_report"] > kinds["spd"]["field_interview"]


@pytest.mark.parametrize("node_id", sorted(AGENCIES))
def test_kind_specific_fields(node_id: str) -> None:
    needed = {
        "booking": {
            "booking_number",
            "booking_date",
            "custody_status",
            "facility",
            "booking_photo_ref",
            "citizenship",
            "country_of_birth",
            "charges",
        },
        "incident_report": {"incident_date", "incident_summary", "case_number"},
        "field_interview": {"incident_date", "incident_summary", "case_number"},
        "warrant": {"warrant_number", "charges"},
        "case_file": {"case_number", "charges"},
    }
    for record in _records(node_id):
        missing = needed[str(record["record_kind"])] - set(record)
        assert not missing, (record["record_id"], missing)
        assert record["contact_unit"] == AGENCIES[node_id].unit
        assert record["contact_phone"] == AGENCIES[node_id].phone
        if record.get("custody_status") is not None:
            assert record["custody_status"] in {"in_custody", "released", "transferred"}


def test_background_people_are_shared_across_agencies_with_variants() -> None:
    queries = generate_labelled_variants(count=COUNT, seed=SEED)
    held = {node_id: _by_id(node_id) for node_id in AGENCIES}
    shared = [q for q in queries if len({a for a, _ in q.expected}) > 1]
    assert len(shared) > COUNT // 60
    exact = variant = 0
    for query in queries:
        for node_id, record_id in query.expected:
            record = held[node_id][record_id]
            same = (record["surname"], record["given_name"], record["dob"]) == (
                query.surname,
                query.given_name,
                query.dob,
            )
            exact += same
            variant += not same
    assert 0.2 < variant / (exact + variant) < 0.7, (exact, variant)


def test_labelled_queries_start_with_the_planted_people() -> None:
    queries = generate_labelled_variants(count=50, seed=SEED)
    assert [(q.surname, q.given_name, q.dob) for q in queries[:3]] == [
        (p.surname, p.given_name, p.dob) for p in PLANTED_PEOPLE
    ]
    assert {rid for _, rid in queries[0].expected} == {r.record_id for r in DEMO_SUBJECT.records}


def test_background_never_repeats_a_planted_identity() -> None:
    planted_ids = {r.record_id for p in PLANTED_PEOPLE for r in p.records}
    planted_keys = {
        (normalize_name(r.surname), normalize_name(r.given_name), r.dob)
        for p in PLANTED_PEOPLE
        for r in p.records
    }
    for node_id in AGENCIES:
        for record in _records(node_id):
            key = (
                normalize_name(str(record["surname"])),
                normalize_name(str(record["given_name"])),
                record["dob"],
            )
            assert (key in planted_keys) == (record["record_id"] in planted_ids)


# The planted people


def test_demo_subject_is_held_by_all_three_agencies() -> None:
    assert {r.node_id for r in DEMO_SUBJECT.records} == set(AGENCIES)
    for spec in DEMO_SUBJECT.records:
        assert spec.record_id in _by_id(spec.node_id)


def test_demo_subject_exact_at_kcso() -> None:
    held = _by_id("kcso")
    booking = held["KCSO-B-004417"]
    assert booking["record_kind"] == "booking"
    assert (booking["surname"], booking["given_name"], booking["dob"]) == (
        "HERNANDEZ",
        "MIGUEL",
        "1986-03-07",
    )
    for field in (
        "booking_number",
        "booking_date",
        "release_date",
        "custody_status",
        "booking_photo_ref",
        "charges",
        "address",
        "phone",
        "scars_marks_tattoos",
    ):
        assert field in booking, field
    assert booking["citizenship"] == "MEXICO"
    assert booking["country_of_birth"] == "MEXICO"
    assert booking["custody_status"] == "in_custody"
    assert held["KCSO-I-031552"]["record_kind"] == "incident_report"
    assert held["KCSO-I-031552"]["surname"] == "HERNANDEZ"


def test_demo_subject_misspelt_with_transposed_dob_at_spd() -> None:
    held = _by_id("spd")
    kinds = set()
    for record_id in ("SPD-F-018207", "SPD-I-020931"):
        record = held[record_id]
        kinds.add(record["record_kind"])
        assert (record["surname"], record["given_name"], record["dob"]) == (
            "HERNANDES",
            "MIGEL",
            "1986-07-03",
        )
        assert "citizenship" not in record
    assert kinds == {"field_interview", "incident_report"}


def test_demo_subject_under_compound_name_and_alias_at_pcso() -> None:
    held = _by_id("pcso")
    kinds = set()
    for record_id in ("PCSO-B-003381", "PCSO-W-007702"):
        record = held[record_id]
        kinds.add(record["record_kind"])
        assert (record["surname"], record["given_name"], record["middle_name"]) == (
            "HERNANDEZ-LOPEZ",
            "MIGUEL",
            "A",
        )
        assert record["dob"] == "1986-03-07"
        assert "HERNANDEZ, MIKE" in record["aliases"]  # type: ignore[operator]
    assert kinds == {"booking", "warrant"}
    assert held["PCSO-W-007702"]["warrant_number"] == "PCSO-W24-007702"


def test_second_subject_sealed_at_kcso_and_juvenile_at_spd() -> None:
    assert {r.node_id for r in SECOND_SUBJECT.records} == {"kcso", "spd"}
    assert _by_id("kcso")["KCSO-B-012090"]["sealed"] is True
    spd = _by_id("spd")
    assert spd["SPD-I-009876"]["juvenile"] is True
    ordinary = spd["SPD-F-024400"]
    assert not any(ordinary.get(flag) for flag in FLAGS)
    for record in (_by_id("kcso")["KCSO-B-012090"], ordinary):
        assert (record["surname"], record["given_name"]) == ("NGUYEN", "LINH")
    assert _by_id("kcso")["KCSO-B-012090"]["citizenship"] == "UNITED STATES"


def test_third_subject_only_at_pcso() -> None:
    assert {r.node_id for r in THIRD_SUBJECT.records} == {"pcso"}
    for node_id in AGENCIES:
        surnames = {r["surname"] for r in _records(node_id) if r["dob"] == THIRD_SUBJECT.dob}
        assert ("KOVALENKO" in surnames) == (node_id == "pcso")


# Output


def test_write_jsonl_round_trips(tmp_path: Path) -> None:
    records = generate_agency_records(DEMO_AGENCIES[2], count=50, seed=5)
    path = tmp_path / "pcso.jsonl"
    assert write_jsonl(records, path) == len(records)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in lines] == records
    again = tmp_path / "again.jsonl"
    write_jsonl(generate_agency_records(DEMO_AGENCIES[2], count=50, seed=5), again)
    assert again.read_bytes() == path.read_bytes()
