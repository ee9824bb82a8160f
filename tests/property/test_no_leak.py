"""No field leaves a node unless its contract releases it: a differential property test.

Hypothesis draws requesters (every agency type and purpose, with warrants that
apply, that name someone else, that have expired, that cover any mix of
fields and classes) and a person to look for; the search runs through real
gRPC against nodes running each shipped contract and contracts that fail in
every way; every released field is checked against the independent oracle in
``tests/helpers/oracle.py``: whole values, masked values, which records are
disclosed, the pointer contact and the match evidence. Set
``FIELDGATE_PROPERTY_EXAMPLES`` (e.g. 5000) for the nightly run.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fieldgate.client import Requester, Warrant
from fieldgate.local_federation import (
    LocalFederation,
    NodeSpec,
    import_records,
    shipped_contract,
    start_federation,
)
from fieldgate.query import validate_query
from fieldgate.v1 import common_pb2, node_pb2
from fieldgate.vocabulary import AGENCY_TYPES, PURPOSES, RECORD_KINDS
from node.catalog import default_catalog_path, load_catalog
from tests.conftest import write_contract
from tests.helpers.federation import LoopThread, node_stub
from tests.helpers.oracle import expected, masked_value

CATALOG = load_catalog(default_catalog_path())
CLASSES = CATALOG.classes()
TODAY = dt.date.today()
EXAMPLES = int(os.environ.get("FIELDGATE_PROPERTY_EXAMPLES", "150"))
SURNAMES = ["GARCIA", "NGUYEN", "SMITH", "KOVALENKO", "OKAFOR", "HERNANDEZ", "LI", "JOHNSON"]
GIVEN = ["MARIA", "JOHN", "LINH", "DMYTRO", "CHIDI", "MIGUEL", "WEI", "ANNA"]
BROKEN = {
    "syntax_error": "package fieldgate.contracts.broken\nimport rego.v1\ndecision := {\n",
    "conflict": (
        "package fieldgate.contracts.conflict\nimport rego.v1\n"
        'decision := {"disclose": true, "release": {"surname"}} if true\n'
        'decision := {"disclose": true, "release": {"dob"}} if true\n'
    ),
    "malformed": (
        "package fieldgate.contracts.malformed\nimport rego.v1\n"
        'decision := {"disclose": true, "release": "surname,dob", "mask": []}\n'
    ),
    "runtime_error": (
        "package fieldgate.contracts.runtime\nimport rego.v1\n"
        # A builtin error on every record, whoever asks.
        'decision := {"disclose": true, "release": {"surname"}} if to_number(input.record.id) > 0\n'
    ),
}


def _value(rng: random.Random, name: str, kind: str, person: dict[str, Any]) -> Any:
    if name in person:
        return person[name]
    field_type = CATALOG.fields[name].type
    if field_type == "date":
        return f"{rng.randint(1990, 2026)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
    if field_type == "integer":
        return rng.randint(40, 200)
    if field_type == "string_list":
        return [f"{name.upper()} {rng.randint(1, 99)}" for _ in range(rng.randint(1, 2))]
    if field_type == "address":
        return {"street": f"{rng.randint(1, 9999)} MAIN ST", "city": "TACOMA", "state": "WA",
                "postal_code": f"98{rng.randint(100, 499)}"}  # fmt: skip
    if name in ("phone", "contact_phone"):
        return f"253-555-{rng.randint(0, 9999):04d}"
    return f"{name.upper()}-{rng.randint(1, 99999)}"


def make_records(count: int, seed: int) -> list[dict[str, Any]]:
    """Records with random field subsets; several records per person and per name."""
    rng = random.Random(seed)
    people = [
        {"surname": s, "given_name": g, "dob": f"{rng.randint(1950, 2004)}-0{rng.randint(1, 9)}-15"}
        for s in SURNAMES
        for g in GIVEN[:4]
    ]
    records = []
    optional = [f for f in CATALOG.fields if f not in ("surname", "given_name", "dob")]
    for i in range(count):
        person = rng.choice(people)
        kind = rng.choice(sorted(RECORD_KINDS))
        fields = {n: _value(rng, n, kind, person) for n in ("surname", "given_name", "dob")}
        for name in rng.sample(optional, rng.randint(0, len(optional))):
            fields[name] = _value(rng, name, kind, person)
        if "aliases" in fields:
            fields["aliases"] = [f"{rng.choice(SURNAMES)}, {rng.choice(GIVEN)}"]
        flags = {flag: rng.random() < 0.08 for flag in ("sealed", "juvenile", "expunged")}
        records.append({"record_id": f"R-{i:05d}", "record_kind": kind, **flags, **fields})
    return records


RECORDS = make_records(400, seed=8)
BY_ID = {r["record_id"]: r for r in RECORDS}
CONTRACTS = ["sanctuary_county", "permissive", "pointer_only", *BROKEN]


@pytest.fixture(scope="module")
def federation(
    loop: LoopThread, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalFederation]:
    workdir = tmp_path_factory.mktemp("property")
    path = workdir / "records.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in RECORDS) + "\n")
    specs = []
    for name in CONTRACTS:
        contract = (
            shipped_contract(name) if name not in BROKEN
            else write_contract(workdir, f"{name}.rego", BROKEN[name])
        )  # fmt: skip
        spec = NodeSpec(name, name, contract, path)
        import_records(spec, workdir)
        specs.append(spec)
    running = loop.run(start_federation(specs, workdir))
    yield running
    loop.run(running.stop())


@st.composite
def warrants(draw: st.DrawFn, target: dict[str, Any]) -> Warrant:
    other = draw(st.sampled_from(RECORDS))
    person = draw(st.sampled_from([target, other]))
    names = sorted(CATALOG.fields) + sorted(set(CLASSES.values()))
    return Warrant(
        id=draw(st.text("ABC123", min_size=1, max_size=6)),
        court="Superior Court",
        subject_surname=person["surname"],
        subject_given_name=draw(st.sampled_from([person["given_name"], ""])),
        subject_dob=person["dob"],
        covers=tuple(draw(st.lists(st.sampled_from(names), max_size=6, unique=True))),
        expires=(TODAY + dt.timedelta(days=draw(st.integers(-5, 30)))).isoformat(),
        record_kinds=tuple(
            draw(st.lists(st.sampled_from(sorted(RECORD_KINDS)), max_size=2, unique=True))
        ),
    )


@st.composite
def searches(draw: st.DrawFn) -> tuple[Requester, dict[str, Any]]:
    target = draw(st.sampled_from(RECORDS))
    requester = Requester(
        subject="s-1",
        agency="agency-1",
        agency_type=draw(st.sampled_from(sorted(AGENCY_TYPES))),
        purpose=draw(st.sampled_from(sorted(PURPOSES))),
        case_number="C-1",
        warrants=tuple(draw(st.lists(warrants(target), max_size=2))),
    )
    return requester, target


def check_hit(contract: str, requester: Requester, hit: common_pb2.Hit) -> None:
    record = BY_ID[hit.record_id]
    want = expected(contract, requester, record, CLASSES, TODAY)
    assert want is not None, f"{contract} disclosed {hit.record_id}"
    got_whole = {f.name for f in hit.fields if not f.mask}
    got_masked = {f.name: f.mask for f in hit.fields if f.mask}
    assert got_whole == want.whole, (contract, hit.record_id)
    want_masked = {n: m for n, m in want.masked.items() if masked_value(m, record[n]) is not None}
    assert got_masked == want_masked, (contract, hit.record_id)
    from google.protobuf import json_format

    for field in hit.fields:
        value = json_format.MessageToDict(field.value)
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        assert value == (
            masked_value(field.mask, record[field.name]) if field.mask else record[field.name]
        )
    if "contact_unit" not in want.whole:
        assert hit.contact.unit == "Records Unit"
    match_fields = {"surname", "given_name", "aliases", "dob"} & set(record)
    if not match_fields <= want.whole:
        assert (hit.score, list(hit.match_reasons)) == (0.0, [])


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(search=searches())
def test_no_field_leaves_unless_the_contract_releases_it(
    federation: LocalFederation, search: tuple[Requester, dict[str, Any]]
) -> None:
    requester, target = search
    query = common_pb2.PersonQuery(
        surname=target["surname"], given_name=target["given_name"], dob=target["dob"], max_hits=100
    )
    for contract in CONTRACTS:
        running = federation.nodes[contract]
        channel, stub = node_stub(running.address)
        with channel:
            answer = stub.Search(
                node_pb2.NodeSearchRequest(
                    request_id="p", requester=requester.to_message(), query=query
                ),
                timeout=20,
            )
        if contract in BROKEN:
            assert list(answer.hits) == [], contract
            continue
        for hit in answer.hits:
            check_hit(contract, requester, hit)
        # Every record the oracle would disclose is there, in match order, up to the cap.
        candidates = running.store.search(validate_query(query), limit=1000)
        disclosed = [
            c.record.record_id for c in candidates
            if expected(contract, requester, BY_ID[c.record.record_id], CLASSES, TODAY) is not None
        ]  # fmt: skip
        assert [h.record_id for h in answer.hits] == disclosed[:25], contract
