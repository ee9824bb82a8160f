"""Field-local contracts: asked once per kind of record, only when the promise survives a check.

Real regorus engines and real nodes on loopback. The dangerous case is a
contract that *declares* itself field-local but is not: trusting it would
release a field the contract withholds from that record. The node must catch
it and decide each record on its own.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fieldgate.core.claims import RequesterClaims, validate_requester
from fieldgate.core.vocabulary import AGENCY_TYPES, PURPOSES, RECORD_KINDS
from fieldgate.devkit.demo import demo_personas
from fieldgate.devkit.local_federation import (
    LocalFederation,
    NodeSpec,
    import_records,
    start_federation,
)
from fieldgate.policy.catalog import default_catalog_path, load_catalog
from fieldgate.policy.engine import RegorusContract
from fieldgate.policy.evaluate import evaluate_record
from fieldgate.policy.field_locality import (
    adopt_field_locality,
    declares_field_local,
    find_counterexample,
    told_fields_by_kind,
)
from fieldgate.policy.records import Record, validate_record
from fieldgate.policy.sample_inputs import covering_warrant
from fieldgate.v2 import common_pb2
from tests.conftest import write_contract
from tests.helpers.federation import LoopThread, search_node

CATALOG = load_catalog(default_catalog_path())
REGO = Path(__file__).resolve().parents[2] / "rego"
SHIPPED = ["sanctuary_county", "permissive", "pointer_only"]
TODAY = dt.date.today()
DETECTIVE = demo_personas(TODAY)[0].requester

# Declares the promise and breaks it: the address goes out only beside a phone number.
ADDRESS_NEEDS_PHONE = """package fieldgate.contracts.address_needs_phone
import rego.v1
field_local := true
default decision := {"disclose": false, "release": set(), "mask": {}}
decision := {"disclose": true, "release": release, "mask": {}}
release contains f if {
    some f in input.record.fields
    f in {"surname", "given_name", "dob"}
}
release contains "address" if {
    "address" in input.record.fields
    "phone" in input.record.fields
}
"""

# Keeps the promise: a fixed set of fields, whatever else the record holds.
NAME_AND_ADDRESS = """package fieldgate.contracts.name_and_address
import rego.v1
field_local := true
default decision := {"disclose": false, "release": set(), "mask": {}}
decision := {"disclose": true, "release": {"surname", "given_name", "dob", "address"}, "mask": {}}
"""

# Makes no promise.
UNDECLARED = NAME_AND_ADDRESS.replace("field_local := true\n", "").replace(
    "name_and_address", "undeclared"
)

ADDRESS = {"street": "1 MAIN ST", "city": "KENT", "state": "WA", "postal_code": "98032"}


def engine(path: Path) -> RegorusContract:
    return RegorusContract(path, REGO / "lib", CATALOG.classes(), cache_size=256)


def shipped(name: str) -> RegorusContract:
    return engine(REGO / "contracts" / name / "contract.rego")


def person(record_id: str, **extra: object) -> dict[str, object]:
    return {
        "record_id": record_id,
        "record_kind": "incident_report",
        "surname": "DOE",
        "given_name": "JOHN",
        "dob": "1980-04-12",
        "address": ADDRESS,
        **extra,
    }


@pytest.mark.parametrize("name", SHIPPED)
def test_the_shipped_contracts_declare_the_promise_and_keep_it(name: str) -> None:
    contract = shipped(name)
    try:
        assert declares_field_local(contract)
        assert adopt_field_locality(contract, CATALOG)
        assert contract.field_local
    finally:
        contract.close()


def test_a_broken_promise_is_refused_with_the_field_named(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    contract = engine(write_contract(tmp_path, "c.rego", ADDRESS_NEEDS_PHONE))
    try:
        assert declares_field_local(contract)
        found = find_counterexample(contract, CATALOG, count=200)
        assert found is not None
        assert found.field == "address"
        assert (found.exact, found.local) == ("withheld", "released")
        assert "phone" not in found.fields
        with caplog.at_level(logging.ERROR, logger="fieldgate.node"):
            assert not adopt_field_locality(contract, CATALOG)
        assert not contract.field_local
        assert "declares field_local but the check refutes it" in caplog.text
        assert "'address'" in caplog.text
    finally:
        contract.close()


def test_a_contract_that_makes_no_promise_is_asked_record_by_record(tmp_path: Path) -> None:
    contract = engine(write_contract(tmp_path, "u.rego", UNDECLARED))
    try:
        assert not declares_field_local(contract)
        assert find_counterexample(contract, CATALOG, count=50) is None  # it could declare it
        assert not adopt_field_locality(contract, CATALOG)
        assert not contract.field_local
    finally:
        contract.close()


def test_each_kind_is_told_every_field_its_records_hold() -> None:
    records = [
        validate_record(person("A", phone="206-555-0100"), CATALOG),
        validate_record(person("B", record_kind="booking", facility="KCJ"), CATALOG),
        validate_record(person("C", height_cm=180), CATALOG),
    ]
    told = told_fields_by_kind(records)
    assert set(told) == {"incident_report", "booking"}
    assert told["incident_report"] == tuple(sorted({*records[0].fields, *records[2].fields}))
    assert told["booking"] == tuple(sorted(records[1].fields))


@pytest.fixture(scope="module")
def federation(
    loop: LoopThread, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalFederation]:
    workdir = tmp_path_factory.mktemp("locality")
    records = workdir / "records.jsonl"
    rows = [person("WITH-PHONE", phone="206-555-0100"), person("NO-PHONE")]
    records.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    specs = [
        NodeSpec(
            "broken",
            "Broken Promise",
            write_contract(workdir, "b.rego", ADDRESS_NEEDS_PHONE),
            records,
        ),
        NodeSpec(
            "kept", "Kept Promise", write_contract(workdir, "k.rego", NAME_AND_ADDRESS), records
        ),
    ]
    for spec in specs:
        import_records(spec, workdir)
    running = loop.run(start_federation(specs, workdir))
    yield running
    loop.run(running.stop())


def search(address: str) -> dict[str, set[str]]:
    answer = search_node(address, DETECTIVE.to_message(), request_id="locality")
    return {hit.record_id: {f.name for f in hit.fields} for hit in answer.hits}


def field_local_gauge(federation: LocalFederation, node_id: str) -> float | None:
    registry = federation.nodes[node_id].node.metrics.registry
    return registry.get_sample_value("fieldgate_node_contract_field_local")


def test_a_node_never_lets_a_broken_promise_release_a_field(federation: LocalFederation) -> None:
    """Both records are incident reports: told together, NO-PHONE would get its address out."""
    fields = search(federation.nodes["broken"].address)
    assert "address" in fields["WITH-PHONE"]
    assert "address" not in fields["NO-PHONE"]
    assert field_local_gauge(federation, "broken") == 0


def test_a_node_asks_a_kept_promise_once_for_a_kind(federation: LocalFederation) -> None:
    node = federation.nodes["kept"].node
    assert node.contract.field_local
    assert field_local_gauge(federation, "kept") == 1
    cache = getattr(node.contract, "cache", None)
    assert cache is not None
    before = cache.misses
    fields = search(federation.nodes["kept"].address)
    assert fields["WITH-PHONE"] == fields["NO-PHONE"] == {"surname", "given_name", "dob", "address"}
    assert cache.misses - before == 1  # two records of one kind, one question


# --- the shortcut gives every record exactly its own verdict ----------------------------

SAMPLE_BY_TYPE: dict[str, Any] = {
    "string": "X12345678",
    "string_list": ["DOE, JACK"],
    "integer": 170,
    "date": "2020-01-02",
    "address": ADDRESS,
}
OPTIONAL = sorted(set(CATALOG.fields) - {"surname", "given_name", "dob"})


@pytest.fixture(scope="module")
def engines() -> Iterator[dict[str, RegorusContract]]:
    made = {name: shipped(name) for name in SHIPPED}
    for contract in made.values():
        assert adopt_field_locality(contract, CATALOG)
    yield made
    for contract in made.values():
        contract.close()


# A warrant naming the records' person, covering everything or a few classes.
WARRANT = replace(
    covering_warrant(CATALOG, TODAY),
    subject_surname="DOE",
    subject_given_name="JOHN",
    subject_dob=dt.date(1980, 4, 12),
)
CLASSES = sorted({spec.sensitivity for spec in CATALOG.fields.values()})


def claims_for(agency_type: str, purpose: str, covers: list[str] | None) -> RequesterClaims:
    claims = validate_requester(
        common_pb2.Requester(
            subject="det-1",
            agency="spd",
            agency_type=agency_type,
            roles=["detective"],
            purpose=purpose,
            case_number="2026-7",
        )
    )
    if covers is None:
        return claims
    warrant = WARRANT if not covers else replace(WARRANT, covers=tuple(covers))
    return replace(claims, authority=(warrant,))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.sampled_from(SHIPPED),
    agency_type=st.sampled_from(sorted(AGENCY_TYPES)),
    purpose=st.sampled_from(sorted(PURPOSES)),
    covers=st.none() | st.lists(st.sampled_from(CLASSES + OPTIONAL), unique=True, max_size=4),
    shapes=st.lists(
        st.tuples(
            st.sampled_from(sorted(RECORD_KINDS)),
            st.lists(st.sampled_from(OPTIONAL), unique=True, max_size=12),
        ),
        min_size=1,
        max_size=6,
    ),
)
def test_told_per_kind_every_record_gets_its_own_verdict(
    engines: dict[str, RegorusContract],
    name: str,
    agency_type: str,
    purpose: str,
    covers: list[str] | None,
    shapes: list[tuple[str, list[str]]],
) -> None:
    """No warrant, a warrant covering everything ([]) or a few classes and fields."""
    contract = engines[name]
    claims = claims_for(agency_type, purpose, covers)
    records: list[Record] = [
        validate_record(
            {
                **person(f"R-{i}", record_kind=kind),
                **{f: SAMPLE_BY_TYPE[CATALOG.fields[f].type] for f in held},
            },
            CATALOG,
        )
        for i, (kind, held) in enumerate(shapes)
    ]
    told = told_fields_by_kind(records)
    for record in records:
        exact = evaluate_record(contract, claims, record, CATALOG, node_id="k", today=TODAY)
        local = evaluate_record(
            contract,
            claims,
            record,
            CATALOG,
            node_id="k",
            today=TODAY,
            told_fields=told[record.kind],
        )
        assert local.verdict == exact.verdict
