"""The broker refuses junk before asking any agency, and keeps serving."""

from __future__ import annotations

import datetime as dt

import grpc
import pytest

from fieldgate.client.broker_client import build_request
from fieldgate.devkit.demo import demo_personas
from fieldgate.devkit.synthetic import DEMO_SUBJECT
from fieldgate.v2 import broker_pb2
from tests.conftest import DemoFederation
from tests.helpers.federation import broker_stub
from tests.node.test_node_grpc import BAD_QUERIES

DETECTIVE = demo_personas(dt.date.today())[0].requester


def searches_at_nodes(demo: DemoFederation) -> int:
    return sum(n.node.counters.requests for n in demo.federation.nodes.values())


@pytest.mark.parametrize("case", sorted(BAD_QUERIES))
def test_bad_queries_never_reach_a_node(demo: DemoFederation, case: str) -> None:
    before = searches_at_nodes(demo)
    channel, stub = broker_stub(demo.broker_address)
    with channel:
        request = broker_pb2.SearchRequest(
            requester=DETECTIVE.to_message(), query=BAD_QUERIES[case]
        )
        with pytest.raises(grpc.RpcError) as caught:
            stub.Search(request, timeout=10)
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert caught.value.details().startswith("query")
        assert searches_at_nodes(demo) == before
        good = build_request(
            DETECTIVE, surname=DEMO_SUBJECT.surname, dob=DEMO_SUBJECT.dob, deadline_seconds=5
        )
        assert len(stub.Search(good, timeout=10).results) == 3


@pytest.mark.parametrize(
    ("deadline", "message"), [(-1.0, "deadline_seconds"), (float("nan"), "deadline_seconds")]
)
def test_bad_deadlines_are_refused(demo: DemoFederation, deadline: float, message: str) -> None:
    channel, stub = broker_stub(demo.broker_address)
    request = build_request(
        DETECTIVE, surname=DEMO_SUBJECT.surname, dob=DEMO_SUBJECT.dob, deadline_seconds=deadline
    )
    with channel, pytest.raises(grpc.RpcError) as caught:
        stub.Search(request, timeout=10)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert message in caught.value.details()


def test_unknown_purpose_is_refused_by_the_broker(demo: DemoFederation) -> None:
    request = build_request(DETECTIVE, surname=DEMO_SUBJECT.surname, dob=DEMO_SUBJECT.dob)
    request.requester.purpose = "general_curiosity"
    channel, stub = broker_stub(demo.broker_address)
    with channel, pytest.raises(grpc.RpcError) as caught:
        stub.Search(request, timeout=10)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "requester.purpose" in caught.value.details()
    assert "criminal_investigation" in caught.value.details()


def test_list_nodes_names_no_internal_address(demo: DemoFederation) -> None:
    channel, stub = broker_stub(demo.broker_address)
    with channel:
        listed = stub.ListNodes(broker_pb2.ListNodesRequest(), timeout=10)
        request = build_request(DETECTIVE, surname=DEMO_SUBJECT.surname, dob=DEMO_SUBJECT.dob)
        # Read the stream to its end: an abandoned stream leaves node calls in
        # flight that later tests would count as theirs.
        streamed = list(
            stub.SearchStream(broker_pb2.SearchStreamRequest(search=request), timeout=10)
        )
    assert streamed[0].WhichOneof("event") == "started"
    assert [n.node_id for n in listed.nodes] == ["kcso", "spd", "pcso"]
    # No requester sees a node's internal address (issue 16): not listed, not streamed.
    addresses = {demo.node_address(n) for n in ("kcso", "spd", "pcso")}
    for message in (listed, *streamed):
        wire = message.SerializeToString()
        assert not any(a.encode() in wire for a in addresses), message
        assert b"127.0.0.1" not in wire


def test_two_instruments_with_one_id_are_refused(demo: DemoFederation) -> None:
    # The audit entry names the warrants that applied by id; a repeated id would
    # leave an auditor unable to tell which instrument was relied on.
    officer = demo_personas(dt.date.today())[2].requester
    request = build_request(officer, surname=DEMO_SUBJECT.surname, dob=DEMO_SUBJECT.dob)
    assert len(request.requester.authority) == 1
    twin = request.requester.authority.add()
    twin.CopyFrom(request.requester.authority[0])
    twin.covers[:] = ["citizenship"]
    before = searches_at_nodes(demo)
    channel, stub = broker_stub(demo.broker_address)
    with channel, pytest.raises(grpc.RpcError) as caught:
        stub.Search(request, timeout=10)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert caught.value.details().startswith("requester.authority[1].id: repeats the id of")
    assert searches_at_nodes(demo) == before
