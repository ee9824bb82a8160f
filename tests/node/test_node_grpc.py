"""The node over real gRPC: denial looks like absence, bad input, fail closed."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from fieldgate.client.broker_client import Requester
from fieldgate.core.query import validate_query
from fieldgate.devkit.demo import demo_personas
from fieldgate.devkit.local_federation import (
    LocalFederation,
    NodeSpec,
    import_records,
    start_federation,
)
from fieldgate.devkit.synthetic import (
    DEMO_AGENCIES,
    DEMO_SUBJECT,
    generate_agency_records,
    write_jsonl,
)
from fieldgate.v2 import common_pb2, node_pb2
from tests.conftest import DemoFederation, write_contract
from tests.helpers.federation import LoopThread, node_stub

PERSONAS = {p.label.split("\n")[0]: p.requester for p in demo_personas(dt.date.today())}
SUBJECT_QUERY = common_pb2.PersonQuery(
    surname=DEMO_SUBJECT.surname, given_name=DEMO_SUBJECT.given_name, dob=DEMO_SUBJECT.dob
)
NOBODY_QUERY = common_pb2.PersonQuery(
    surname="QUIZZLEWICK", given_name="ZEBEDIAH", dob="1950-01-01"
)


def node_search(
    address: str,
    requester: Requester,
    query: common_pb2.PersonQuery,
    request_id: str | None = None,
) -> node_pb2.NodeServiceSearchResponse:
    channel, stub = node_stub(address)
    # A new id per search unless one is given: the node refuses an id it has seen.
    request_id = request_id or f"req-{uuid.uuid4().hex}"
    with channel:
        return stub.Search(
            node_pb2.NodeServiceSearchRequest(
                request_id=request_id, requester=requester.to_message(), query=query
            ),
            timeout=10,
        )


def test_denied_answer_is_byte_for_byte_the_not_found_answer(demo: DemoFederation) -> None:
    kcso = demo.node_address("kcso")
    officer = PERSONAS["Immigration officer"]
    denied = node_search(kcso, officer, SUBJECT_QUERY, request_id="denied-vs-absent")
    absent = node_search(kcso, officer, NOBODY_QUERY, request_id="absent-vs-denied")
    # Each answer echoes its own request id (a node answers each id once); with
    # ids of one length, and the id set aside, the bytes are the same.
    assert len(denied.SerializeToString()) == len(absent.SerializeToString())
    absent.request_id = denied.request_id
    assert denied.SerializeToString(deterministic=True) == absent.SerializeToString(
        deterministic=True
    )
    # The same search by a detective shows the node does hold the person: the
    # equality above is a denial, not an empty database.
    allowed = node_search(kcso, PERSONAS["Detective"], SUBJECT_QUERY)
    assert len(allowed.hits) >= 1
    assert allowed.SerializeToString() != denied.SerializeToString()
    # The disclosure log saw the withheld candidates even though the answer is empty.
    logged = demo.federation.disclosure_logs["kcso"].entries
    entries = [e for e in logged if e.request_id == "denied-vs-absent"]
    assert any(e.records and not e.disclosed_record_ids for e in entries)


BAD_QUERIES = {
    "empty": common_pb2.PersonQuery(),
    "wildcard surname": common_pb2.PersonQuery(surname="*", given_name="JOHN"),
    "percent wildcard": common_pb2.PersonQuery(surname="HERN%", dob="1986-03-07"),
    "surname alone": common_pb2.PersonQuery(surname="HERNANDEZ"),
    "one letter": common_pb2.PersonQuery(surname="H", given_name="M"),
    "1 MB name": common_pb2.PersonQuery(surname="A" * 1_000_000, given_name="JOHN"),
    "invalid date": common_pb2.PersonQuery(surname="DOE", dob="1980-02-31"),
    "not a date": common_pb2.PersonQuery(surname="DOE", dob="last tuesday"),
    "future dob": common_pb2.PersonQuery(surname="DOE", dob="2999-01-01"),
    "unknown identifier": common_pb2.PersonQuery(
        identifiers=[common_pb2.Identifier(kind="ssn", value="123456789")]
    ),
    "wildcard identifier": common_pb2.PersonQuery(
        identifiers=[common_pb2.Identifier(kind="state_id", value="WA*")]
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_QUERIES))
def test_bad_queries_are_refused_with_invalid_argument(demo: DemoFederation, case: str) -> None:
    address = demo.node_address("pcso")
    with pytest.raises(grpc.RpcError) as caught:
        node_search(address, PERSONAS["Detective"], BAD_QUERIES[case])
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    details = caught.value.details()
    assert details
    assert details.startswith("query")
    assert len(details) < 300  # a readable message, not an echo of the input
    # The node keeps serving.
    assert node_search(address, PERSONAS["Detective"], SUBJECT_QUERY).hits


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"purpose": "curiosity"}, "requester.purpose"),
        ({"agency_type": "fan_club"}, "requester.agency_type"),
        ({"subject": ""}, "requester.subject"),
    ],
)
def test_bad_claims_are_refused_naming_the_claim(
    demo: DemoFederation, change: dict[str, str], field: str
) -> None:
    requester = PERSONAS["Detective"].to_message()
    for key, value in change.items():
        setattr(requester, key, value)
    channel, stub = node_stub(demo.node_address("kcso"))
    with channel, pytest.raises(grpc.RpcError) as caught:
        stub.Search(
            node_pb2.NodeServiceSearchRequest(requester=requester, query=SUBJECT_QUERY), timeout=10
        )
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert caught.value.details().startswith(field)


BROKEN_SYNTAX = """package fieldgate.contracts.broken
import rego.v1
decision := {"disclose": true, "release": {"surname"}  # unclosed
"""

CONFLICTING = """package fieldgate.contracts.conflicting
import rego.v1
# Two complete definitions that disagree: evaluation raises a conflict error.
decision := {"disclose": true, "release": {"surname", "citizenship"}, "mask": {}} if true
decision := {"disclose": true, "release": {"given_name"}, "mask": {}} if true
"""

MALFORMED = """package fieldgate.contracts.malformed
import rego.v1
# Releases by naming fields in a string instead of a set: malformed, so nothing.
decision := {"disclose": true, "release": "surname,citizenship", "mask": {}}
"""

RELEASE_ALL = """package fieldgate.contracts.release_all
import rego.v1
decision := {"disclose": true, "release": {f | some f in input.record.fields}, "mask": {}}
"""


@pytest.fixture(scope="module")
def broken_federation(
    loop: LoopThread, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalFederation]:
    """Five nodes holding the same records; only the last has a working contract."""
    workdir = tmp_path_factory.mktemp("broken")
    records = workdir / "kcso.jsonl"
    write_jsonl(generate_agency_records(DEMO_AGENCIES[0], count=50, seed=3), records)
    contracts: dict[str, Path | None] = {
        "broken": write_contract(workdir, "broken.rego", BROKEN_SYNTAX),
        "missing": workdir / "does-not-exist.rego",
        "conflicting": write_contract(workdir, "conflicting.rego", CONFLICTING),
        "malformed": write_contract(workdir, "malformed.rego", MALFORMED),
        "none": None,
        "good": write_contract(workdir, "release_all.rego", RELEASE_ALL),
    }
    specs = [NodeSpec(node_id, node_id, path, records) for node_id, path in contracts.items()]
    for spec in specs:
        import_records(spec, workdir)
    federation = loop.run(start_federation(specs, workdir))
    yield federation
    loop.run(federation.stop())


def test_broken_contracts_release_nothing_and_the_search_goes_on(
    broken_federation: LocalFederation,
) -> None:
    from fieldgate.client.broker_client import SearchClient

    with SearchClient(broken_federation.broker_address) as client:
        result = client.search(
            PERSONAS["Detective"],
            surname=DEMO_SUBJECT.surname,
            given_name=DEMO_SUBJECT.given_name,
            dob=DEMO_SUBJECT.dob,
        )
    by_node = {a.node_id: a for a in result.agencies}
    # Without a usable contract a node says it cannot decide: never "no record".
    # (Development nodes: no signed answer to carry the reason, so an error status
    # naming it; a verifying node signs `not_answering` inside its sealed answer,
    # tests/trust/test_not_answering.py.)
    for node_id in ("broken", "missing", "none"):
        assert by_node[node_id].status == "error", node_id
        assert "not answering — no usable contract" in by_node[node_id].detail
    # A contract that loads but fails on a record withholds that record (the node decided).
    for node_id in ("conflicting", "malformed", "good"):
        assert by_node[node_id].status == "answered", node_id
    for node_id in ("broken", "missing", "conflicting", "malformed", "none"):
        assert by_node[node_id].hits == (), node_id
    # The working node holds the same records and does release them.
    assert by_node["good"].hits
    assert "citizenship" in by_node["good"].hits[0].fields
    # Each failure is visible to the operator.
    nodes = broken_federation.nodes
    for node_id in ("broken", "missing", "none"):
        assert nodes[node_id].node.contract.version == ""
    for node_id in ("conflicting", "malformed"):
        counters = nodes[node_id].node.counters
        assert counters.policy_errors >= 1
        assert counters.disclosed == 0
        assert counters.fields_released == 0
    assert "rule conflicts" in nodes["conflicting"].node.counters.last_policy_error
    assert "release" in nodes["malformed"].node.counters.last_policy_error


def test_sealed_records_never_leave_even_under_a_release_all_contract(
    broken_federation: LocalFederation,
) -> None:
    from fieldgate.devkit.synthetic import SECOND_SUBJECT

    sealed = [r for r in SECOND_SUBJECT.records_at("kcso") if r.sealed]
    assert sealed, "the planted person has a sealed record at this agency"
    node = broken_federation.nodes["good"]
    answer = node_search(
        node.address,
        PERSONAS["Detective"],
        common_pb2.PersonQuery(
            surname=SECOND_SUBJECT.surname,
            given_name=SECOND_SUBJECT.given_name,
            dob=SECOND_SUBJECT.dob,
        ),
    )
    held = {
        c.record.record_id
        for c in node.store.search(
            validate_query(
                common_pb2.PersonQuery(
                    surname=SECOND_SUBJECT.surname,
                    given_name=SECOND_SUBJECT.given_name,
                    dob=SECOND_SUBJECT.dob,
                )
            ),
            limit=50,
        )
    }
    assert {r.record_id for r in sealed} <= held
    assert not {h.record_id for h in answer.hits} & {r.record_id for r in sealed}


class UnwritableLog:
    """A disclosure log whose disk is gone: every write fails."""

    def __init__(self) -> None:
        self.attempts = 0

    def write(self, entry: object) -> None:
        from fieldgate.node.errors import DisclosureLogError

        self.attempts += 1
        raise DisclosureLogError("disk full")


def test_no_disclosure_without_a_log_entry(
    loop: LoopThread, tmp_path_factory: pytest.TempPathFactory
) -> None:
    workdir = tmp_path_factory.mktemp("nolog")
    records = workdir / "kcso.jsonl"
    write_jsonl(generate_agency_records(DEMO_AGENCIES[0], count=20, seed=9), records)
    spec = NodeSpec(
        "kcso", "King County", write_contract(workdir, "all.rego", RELEASE_ALL), records
    )
    import_records(spec, workdir)
    log = UnwritableLog()
    federation = loop.run(start_federation([spec], workdir, disclosure_log=lambda _: log))
    try:
        address = federation.nodes["kcso"].address
        codes = []
        for query in (SUBJECT_QUERY, NOBODY_QUERY):
            with pytest.raises(grpc.RpcError) as caught:
                node_search(address, PERSONAS["Detective"], query)
            codes.append((caught.value.code(), caught.value.details()))
        # Held and not-held persons fail the same way: the failure reveals nothing.
        assert codes[0] == codes[1]
        assert codes[0][0] == grpc.StatusCode.UNAVAILABLE
        assert log.attempts == 2
    finally:
        loop.run(federation.stop())
