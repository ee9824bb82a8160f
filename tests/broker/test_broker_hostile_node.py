"""One hostile node cannot sink a search: its answer is refused, every other agency's kept.

The demo federation's three real nodes plus a hostile one (a real gRPC server
that answers whatever the test tells it to) behind one real broker: 5,000 hits,
an answer just under the old 4 MiB limit, hits claiming another agency's
records, values nested deeper than the protocol allows.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import struct_pb2

from fieldgate.broker.config import NodeEntry
from fieldgate.broker.server import RunningBroker
from fieldgate.client.broker_client import SearchClient
from fieldgate.core.answer_caps import MAX_HITS_PER_ANSWER
from fieldgate.devkit.demo import demo_personas
from fieldgate.devkit.synthetic import DEMO_SUBJECT
from fieldgate.v2 import common_pb2, node_pb2, node_pb2_grpc
from tests.conftest import DemoFederation
from tests.helpers.brokers import start_test_broker
from tests.helpers.federation import LoopThread

DETECTIVE = demo_personas(dt.date.today())[0].requester
SUBJECT = {
    "surname": DEMO_SUBJECT.surname,
    "given_name": DEMO_SUBJECT.given_name,
    "dob": DEMO_SUBJECT.dob,
}
HOSTILE_NAME = "Hostile County Records"

Hits = Callable[[], list[common_pb2.Hit]]


def _hit(number: int, agency: str = HOSTILE_NAME, **field: Any) -> common_pb2.Hit:
    hit = common_pb2.Hit(
        record_id=f"H-{number}",
        record_kind="booking",
        score=1.0,
        contact=common_pb2.PointerContact(agency=agency, unit="Records", phone="555"),
    )
    if field:
        hit.fields.append(common_pb2.ReleasedField(name="note", sensitivity="public", **field))
    return hit


def _nested(depth: int) -> struct_pb2.Value:
    value = struct_pb2.Value(string_value="deep")
    for _ in range(depth):
        value = struct_pb2.Value(list_value=struct_pb2.ListValue(values=[value]))
    return value


ANSWERS: dict[str, Hits] = {
    "5,000 hits": lambda: [_hit(i) for i in range(5000)],
    "just under 4 MiB": lambda: [
        _hit(i, value=struct_pb2.Value(string_value="x" * 80_000)) for i in range(50)
    ],
    "another agency's records": lambda: [_hit(1, agency="King County Sheriff's Office")],
    "values nested 30 deep": lambda: [_hit(1, value=_nested(30))],
}


class HostileNode(node_pb2_grpc.NodeServiceServicer):
    """Answers every search with ``self.hits()``, as the node it claims to be."""

    def __init__(self) -> None:
        self.hits: Hits = list

    async def Search(
        self, request: node_pb2.NodeServiceSearchRequest, context: Any
    ) -> node_pb2.NodeServiceSearchResponse:
        return node_pb2.NodeServiceSearchResponse(
            request_id=request.request_id,
            node_id="hostile",
            hits=self.hits(),
        )


@pytest.fixture(scope="module")
def federation(
    loop: LoopThread, demo: DemoFederation, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[HostileNode, RunningBroker]]:
    hostile = HostileNode()

    async def start_hostile() -> tuple[grpc.aio.Server, int]:
        server = grpc.aio.server(options=[("grpc.max_send_message_length", 64 * 1024 * 1024)])
        node_pb2_grpc.add_NodeServiceServicer_to_server(hostile, server)
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        return server, port

    server, port = loop.run(start_hostile())
    real = [
        NodeEntry(node_id, running.node.agency_name, running.address)
        for node_id, running in demo.federation.nodes.items()
    ]
    workdir: Path = tmp_path_factory.mktemp("hostile-node")
    broker = loop.run(
        start_test_broker(
            (*real, NodeEntry("hostile", HOSTILE_NAME, f"127.0.0.1:{port}")),
            workdir,
            default_deadline_seconds=8.0,
        )
    )
    yield hostile, broker
    loop.run(broker.stop())
    loop.run(server.stop(0))


def test_a_well_behaved_answer_is_passed_on(
    federation: tuple[HostileNode, RunningBroker],
) -> None:
    hostile, broker = federation
    hostile.hits = lambda: [_hit(1)]
    with SearchClient(broker.address) as client:
        result = client.search(DETECTIVE, **SUBJECT)
    by_node = {a.node_id: a for a in result.agencies}
    assert by_node["hostile"].status == "answered"
    assert [h.record_id for h in by_node["hostile"].hits] == ["H-1"]


@pytest.mark.parametrize("case", sorted(ANSWERS))
def test_one_hostile_answer_fails_that_node_alone(
    federation: tuple[HostileNode, RunningBroker], demo: DemoFederation, case: str
) -> None:
    hostile, broker = federation
    hostile.hits = ANSWERS[case]
    with SearchClient(demo.broker_address) as client:
        honest = client.search(DETECTIVE, **SUBJECT)
    with SearchClient(broker.address) as client:
        result = client.search(DETECTIVE, **SUBJECT)
    by_node = {a.node_id: a for a in result.agencies}
    assert by_node["hostile"].status == "error", case
    assert by_node["hostile"].hits == ()
    # Every real agency's part is exactly what it is without the hostile node.
    for agency in honest.agencies:
        kept = by_node[agency.node_id]
        assert kept.status == agency.status == "answered"
        assert [h.record_id for h in kept.hits] == [h.record_id for h in agency.hits]
    assert any(a.hits for a in honest.agencies)
    assert sum(len(a.hits) for a in result.agencies) <= MAX_HITS_PER_ANSWER * len(result.agencies)


def test_a_sealed_answer_off_the_padded_sizes_is_refused() -> None:
    """The broker cannot read a sealed answer, but can hold it to the protocol's sizes."""
    from fieldgate.broker.answer_checks import answer_problem
    from fieldgate.trust.sealing import ANSWER_BUCKETS
    from fieldgate.v2 import common_pb2

    def sealed(enc: int, ciphertext: int) -> node_pb2.NodeServiceSearchResponse:
        return node_pb2.NodeServiceSearchResponse(
            answer=common_pb2.SealedAnswer(enc=bytes(enc), ciphertext=bytes(ciphertext))
        )

    assert answer_problem(sealed(32, ANSWER_BUCKETS[0] + 16), "x") is None
    # One byte more tells sizes apart; a short enc is no HPKE envelope.
    assert "padded answer size" in (answer_problem(sealed(32, ANSWER_BUCKETS[0] + 17), "x") or "")
    assert "padded answer size" in (answer_problem(sealed(31, ANSWER_BUCKETS[0] + 16), "x") or "")
    beside = sealed(32, ANSWER_BUCKETS[0] + 16)
    beside.hits.add(record_id="R-1")
    assert "clear hits" in (answer_problem(beside, "x") or "")
