"""What the no-leak property tests share: generated records, the nodes, the checks.

``tests/property/test_no_leak.py`` (claims stated, unsigned) and
``tests/property/test_no_leak_signed.py`` (signed searches against a trust
bundle) ask the same nodes — every shipped contract and contracts that fail in
every way — about the same generated records, and judge every answer with the
independent oracle in :mod:`tests.helpers.oracle`.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
from dataclasses import replace
from pathlib import Path
from typing import Any

from google.protobuf import json_format

from fieldgate.client.broker_client import Requester
from fieldgate.core.query import validate_query
from fieldgate.core.vocabulary import RECORD_KINDS
from fieldgate.devkit.local_federation import NodeSpec, import_records
from fieldgate.node.disclosure_log import MemoryDisclosureLog
from fieldgate.node.server import RunningNode
from fieldgate.policy.catalog import default_catalog_path, load_catalog
from fieldgate.policy.shipped import shipped_contract
from fieldgate.v2 import common_pb2, node_pb2
from tests.conftest import write_contract
from tests.helpers.oracle import Expected, expected, masked_value, warrant_fields
from tests.helpers.references import sent_record_ids

CATALOG = load_catalog(default_catalog_path())
CLASSES = CATALOG.classes()
TODAY = dt.date.today()
EXAMPLES = int(os.environ.get("FIELDGATE_PROPERTY_EXAMPLES", "150"))
TIMEOUT = max(120.0, EXAMPLES * 0.5)
"""pytest-timeout for one property test: the nightly runs take longer than the default."""
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
CONTRACTS = ["sanctuary_county", "permissive", "pointer_only", *BROKEN]
NODE_MAX_HITS = 25
"""The nodes' default cap on hits per answer."""


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


def contract_specs(workdir: Path) -> list[NodeSpec]:
    """One node per contract of :data:`CONTRACTS`, each holding :data:`RECORDS` (imported)."""
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
    return specs


def person_query(person: dict[str, Any]) -> common_pb2.PersonQuery:
    """The query for one generated person, asking for more hits than any node sends."""
    return common_pb2.PersonQuery(
        surname=person["surname"], given_name=person["given_name"], dob=person["dob"], max_hits=100
    )


def check_hit(
    contract: str,
    requester: Requester,
    hit: common_pb2.Hit,
    record_id: str,
    tier: str = "strong",
) -> None:
    """Every field of ``hit`` is one the oracle says ``contract`` releases, as it says.

    A ``possible`` match the contract discloses is a pointer: no field at all.
    ``record_id``: the record behind the hit's opaque reference (from the node's log).
    """
    record = BY_ID[record_id]
    want = expected(contract, requester, record, CLASSES, TODAY)
    assert want is not None, f"{contract} disclosed {record_id}"
    if tier == "possible":
        assert (list(hit.fields), hit.score, list(hit.match_reasons)) == ([], 0.0, [])
        assert hit.contact.unit == "Records Unit"
        return
    got_whole = {f.name for f in hit.fields if not f.mask}
    got_masked = {f.name: f.mask for f in hit.fields if f.mask}
    assert got_whole == want.whole, (contract, record_id)
    want_masked = {n: m for n, m in want.masked.items() if masked_value(m, record[n]) is not None}
    assert got_masked == want_masked, (contract, record_id)
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


def _knows_evidence(requester: Requester, record: dict[str, Any], want: Expected) -> bool:
    """Whether the requester may know the record's date of birth (the only non-name evidence
    these queries give): it holds none, the contract releases it whole, or a warrant they
    presented names it (and so applies)."""
    return (
        "dob" not in record
        or "dob" in want.whole
        or warrant_fields(requester, record, CLASSES, TODAY) is not None
    )


def check_answer(
    contract: str,
    running: RunningNode,
    requester: Requester,
    query: common_pb2.PersonQuery,
    answer: node_pb2.NodeServiceSearchResponse,
    log: MemoryDisclosureLog,
) -> None:
    """The whole answer of one node is what the oracle says, record by record and in order.

    Hits whose date of birth the requester may know come first, in match order;
    the others are decided on names alone (issue 16, item 8): a pointer for
    each record the names alone make a possible match of, after them, in an
    order keyed by the node (so checked as a set here).

    ``log``: the node's disclosure log, the only way from a hit's reference to its record.
    """
    if contract in BROKEN:
        assert list(answer.hits) == [], contract
        return
    asked = validate_query(query)
    candidates = running.store.search(asked, limit=1000)
    names_only = running.store.search(replace(asked, dob=None, identifiers=()), limit=1000)
    tiers = {c.record.record_id: c.match.tier for c in candidates}
    possible = {c.record.record_id for c in names_only if c.match.tier == "possible"}
    known: list[str] = []
    pointers: set[str] = set()
    for c in candidates:
        rid = c.record.record_id
        want = expected(contract, requester, BY_ID[rid], CLASSES, TODAY)
        if want is not None and _knows_evidence(requester, BY_ID[rid], want):
            known.append(rid)
    for c in names_only:
        rid = c.record.record_id
        want = expected(contract, requester, BY_ID[rid], CLASSES, TODAY)
        if (
            rid in possible
            and want is not None
            and not _knows_evidence(requester, BY_ID[rid], want)
        ):
            pointers.add(rid)
    got = sent_record_ids(log, answer.request_id, answer.hits)
    assert got[: len(known)] == known[:NODE_MAX_HITS], contract
    rest = got[len(known) :]
    assert set(rest) <= pointers, contract
    assert len(rest) == min(len(pointers), max(0, NODE_MAX_HITS - len(known))), contract
    for hit, record_id in zip(answer.hits, got, strict=True):
        tier = tiers[record_id] if record_id in known else "possible"
        check_hit(contract, requester, hit, record_id, tier)
