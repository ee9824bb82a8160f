"""Match tiers through real gRPC: a namesake never leaves with fields, at most as a pointer.

The requester is the attacker here: an investigator who searches a name
without a date of birth, or with the son's date to reach the father, to read
fields about people they were not looking for.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator

import pytest

from fieldgate.client.broker_client import Requester
from fieldgate.devkit.demo import demo_personas
from fieldgate.devkit.local_federation import (
    LocalFederation,
    NodeSpec,
    import_records,
    start_federation,
)
from fieldgate.v2 import common_pb2, node_pb2
from tests.conftest import write_contract
from tests.helpers.federation import LoopThread, node_stub

DETECTIVE = demo_personas(dt.date.today())[0].requester

ALL = """package fieldgate.contracts.all
import rego.v1
decision := {"disclose": true, "release": {f | some f in input.record.fields}, "mask": {}}
"""
STRONG_ONLY = """package fieldgate.contracts.strong_only
import rego.v1
default decision := {"disclose": false, "release": set(), "mask": {}}
all_fields := {f | some f in input.record.fields}
decision := {"disclose": true, "release": all_fields, "mask": {}} if input.match.tier == "strong"
"""


def record(record_id: str, surname: str, given: str, dob: str | None) -> dict[str, object]:
    row: dict[str, object] = {
        "record_id": record_id,
        "record_kind": "incident_report",
        "surname": surname,
        "given_name": given,
        "address": {"street": "1 Main St", "city": "KENT", "state": "WA"},
    }
    if dob is not None:
        row["dob"] = dob
    return row


ROWS = [
    record("SON", "DOE", "JOHN", "1988-04-12"),
    record("FATHER", "DOE", "JOHN", "1958-04-12"),
    record("NO-DOB", "DOE", "JOHN", None),
    record("SAME-YEAR", "DOE", "JOHN", "1988-11-30"),
    record("DANG", "Đặng", "Minh", "1980-04-12"),
    record("CRUZ", "De la Cruz", "Ana María", "1985-02-03"),
]


@pytest.fixture(scope="module")
def tiers(loop: LoopThread, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalFederation]:
    workdir = tmp_path_factory.mktemp("tiers")
    records = workdir / "records.jsonl"
    records.write_text("\n".join(json.dumps(r) for r in ROWS) + "\n")
    specs = [
        NodeSpec("all", "All", write_contract(workdir, "a.rego", ALL), records),
        NodeSpec("strong", "Strong", write_contract(workdir, "s.rego", STRONG_ONLY), records),
    ]
    for spec in specs:
        import_records(spec, workdir)
    federation = loop.run(start_federation(specs, workdir))
    yield federation
    loop.run(federation.stop())


def ask(
    federation: LocalFederation, node: str, requester: Requester, **query: str
) -> dict[str, node_pb2.common__pb2.Hit]:
    channel, stub = node_stub(federation.nodes[node].address)
    with channel:
        answer = stub.Search(
            node_pb2.NodeServiceSearchRequest(
                request_id="t",
                requester=requester.to_message(),
                query=common_pb2.PersonQuery(**query),
            ),
            timeout=10,
        )
    return {hit.record_id: hit for hit in answer.hits}


def test_the_father_and_other_namesakes_leave_as_pointers_only(tiers: LocalFederation) -> None:
    hits = ask(tiers, "all", DETECTIVE, surname="DOE", given_name="JOHN", dob="1988-04-12")
    assert set(hits) == {"SON", "FATHER", "NO-DOB", "SAME-YEAR"}
    son = hits["SON"]
    assert {f.name for f in son.fields} >= {"surname", "dob", "address"}
    assert son.match_reasons[0] == "strong match"
    for namesake in ("FATHER", "NO-DOB", "SAME-YEAR"):
        pointer = hits[namesake]
        assert list(pointer.fields) == [], namesake
        assert (pointer.score, list(pointer.match_reasons)) == (0.0, [])
        assert pointer.contact.agency == "All"


def test_a_contract_may_refuse_pointers_on_possible_matches(tiers: LocalFederation) -> None:
    hits = ask(tiers, "strong", DETECTIVE, surname="DOE", given_name="JOHN", dob="1988-04-12")
    assert set(hits) == {"SON"}


def test_a_name_only_query_never_gets_fields(tiers: LocalFederation) -> None:
    hits = ask(tiers, "all", DETECTIVE, surname="DOE", given_name="JOHN")
    assert set(hits) == {"SON", "FATHER", "NO-DOB", "SAME-YEAR"}
    assert all(list(hit.fields) == [] for hit in hits.values())
    assert ask(tiers, "strong", DETECTIVE, surname="DOE", given_name="JOHN") == {}


def test_transliterated_and_particle_names_are_found_strongly(tiers: LocalFederation) -> None:
    dang = ask(tiers, "strong", DETECTIVE, surname="DANG", given_name="MINH", dob="1980-04-12")
    assert set(dang) == {"DANG"}
    assert dang["DANG"].fields
    cruz = ask(tiers, "strong", DETECTIVE, surname="CRUZ", given_name="ANA", dob="1985-02-03")
    assert set(cruz) == {"CRUZ"}
    # Known by the second given name.
    maria = ask(
        tiers, "strong", DETECTIVE, surname="DELACRUZ", given_name="MARIA", dob="1985-02-03"
    )
    assert set(maria) == {"CRUZ"}
