"""Hostile requesters and floods through real gRPC: cheap refusals, clean errors, no lost nonce.

A federation of real nodes behind a real broker, all with trust bundles and
mutual TLS. The attacker holds a genuine credential and a genuine warrant and
sends what a client would never send: thousands of copies of the warrant,
non-ASCII tokens, bytes that are not a request at all.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest

from fieldgate.broker.config import BrokerConfig, NodeEntry
from fieldgate.broker.limits import LimitsConfig
from fieldgate.broker.server import RunningBroker, start_broker
from fieldgate.client.broker_client import Requester, build_request
from fieldgate.core.request_shape import MAX_AUDIENCE
from fieldgate.core.tls import DevPKI
from fieldgate.devkit.dev_trust import DevTrust
from fieldgate.devkit.local_federation import LocalFederation, start_federation
from fieldgate.devkit.synthetic import DEMO_SUBJECT
from fieldgate.trust.tokens import Identity
from fieldgate.v2 import broker_pb2, broker_pb2_grpc, common_pb2, node_pb2, node_pb2_grpc
from tests.helpers.brokers import import_two_agencies, start_test_broker
from tests.helpers.federation import LoopThread

CRIMINAL = Requester("", "", "", "criminal_investigation", "BPD-2026-018233")


class FakeClock:
    """Monotonic seconds that move only when the test says so (the limits' token buckets)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Hostile:
    federation: LocalFederation
    kit: DevTrust
    pki: DevPKI
    strict: RunningBroker
    """A second broker over the same nodes, one search per requester until the clock moves."""
    clock: FakeClock

    def identity(self) -> Identity:
        return self.kit.identity(
            "bellevue-pd", "det-4711", ["criminal_investigation"], roles=["detective"]
        )

    def warrant(self) -> str:
        return self.kit.warrant(
            "W-1",
            DEMO_SUBJECT.surname,
            DEMO_SUBJECT.given_name,
            DEMO_SUBJECT.dob,
            ["address"],
            dt.date.today() + dt.timedelta(days=30),
            applicant_agency="bellevue-pd",
            case_number=CRIMINAL.case_number,
        )

    def broker_channel(self, address: str | None = None) -> grpc.Channel:
        creds = self.pki.files("investigator").channel_credentials()
        return grpc.secure_channel(address or self.federation.broker_address, creds)

    def node_channel(self, node_id: str = "kcso") -> grpc.Channel:
        # With the broker's own certificate: what a compromised broker could send.
        creds = self.pki.files("broker").channel_credentials()
        return grpc.secure_channel(self.federation.nodes[node_id].address, creds)

    def nonces_at(self, node_id: str = "kcso") -> int:
        verifier = self.federation.nodes[node_id].gate.verifier
        assert verifier is not None
        return len(verifier.replay)


@pytest.fixture(scope="module")
def hostile(loop: LoopThread, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hostile]:
    workdir = tmp_path_factory.mktemp("hostile")
    kit = DevTrust(workdir / "trust")
    kit.add_issuer("bellevue-pd", "local_law_enforcement")
    pki = DevPKI.create(workdir / "pki", ["broker", "kcso", "spd", "investigator"])
    specs, _ = import_two_agencies(workdir)
    for spec in specs:
        kit.add_node(spec.node_id)
    kit.add_node("kcso-real")  # an id only the impostor test routes to
    kit.write()
    federation = loop.run(start_federation(specs, workdir, trust=kit.config(), pki=pki))
    clock = FakeClock()
    strict = loop.run(
        start_broker(
            BrokerConfig(
                listen="127.0.0.1:0",
                nodes=tuple(
                    NodeEntry(s.node_id, s.agency_name, federation.nodes[s.node_id].address)
                    for s in specs
                ),
                trust=kit.config(),
                tls=pki.files("broker"),
                search_log=workdir / "strict-broker.sqlite",
                limits=LimitsConfig(requester_rate=0.001, requester_burst=1),
            ),
            clock=clock,
        )
    )
    yield Hostile(federation, kit, pki, strict, clock)
    loop.run(strict.stop())
    loop.run(federation.stop())


def _request(
    hostile: Hostile,
    warrants: tuple[str, ...] = (),
    identity: Identity | None = None,
    audience: tuple[str, ...] | None = None,
) -> broker_pb2.SearchRequest:
    return build_request(
        CRIMINAL,
        surname=DEMO_SUBJECT.surname,
        given_name=DEMO_SUBJECT.given_name,
        dob=DEMO_SUBJECT.dob,
        identity=identity or hostile.identity(),
        warrant_tokens=warrants,
        audience=audience if audience is not None else tuple(hostile.federation.nodes),
        node_keys={n: k.public_key() for n, k in hostile.kit.node_enc.items()},
    )


def _broker_search(
    hostile: Hostile, request: broker_pb2.SearchRequest, address: str | None = None
) -> broker_pb2.SearchResponse:
    with hostile.broker_channel(address) as channel:
        return broker_pb2_grpc.BrokerServiceStub(channel).Search(request, timeout=20)


def _node_search(hostile: Hostile, request: node_pb2.NodeServiceSearchRequest) -> None:
    with hostile.node_channel() as channel:
        channel.unary_unary(
            "/fieldgate.v2.NodeService/Search",
            request_serializer=node_pb2.NodeServiceSearchRequest.SerializeToString,
            response_deserializer=node_pb2.NodeServiceSearchResponse.FromString,
        )(request, timeout=20)


@pytest.mark.parametrize("flood_of", ["one node's key repeated", "keys past the audience cap"])
def test_a_flood_of_query_keys_is_refused_before_verification(
    hostile: Hostile, flood_of: str
) -> None:
    """Warrants are sealed now; what a flood can still repeat is the wrapped keys."""
    honest = _request(hostile, (hostile.warrant(),))
    assert _broker_search(hostile, honest).results  # the search itself is genuine
    flood = broker_pb2.SearchRequest()
    flood.CopyFrom(honest)
    if flood_of == "one node's key repeated":
        flood.signed.keys.extend(list(honest.signed.keys) * 50)
    else:
        key = honest.signed.keys[0]
        flood.signed.keys.extend(
            common_pb2.QueryKey(node_id=f"n{i}", enc=key.enc, wrapped=key.wrapped)
            for i in range(MAX_AUDIENCE)
        )
    nonces = hostile.nonces_at()
    refused_before = sum(hostile.federation.nodes["kcso"].gate.refused.values())

    began = time.perf_counter()
    with pytest.raises(grpc.RpcError) as at_broker:
        _broker_search(hostile, flood)
    broker_seconds = time.perf_counter() - began
    assert at_broker.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "signed.keys" in (at_broker.value.details() or "")

    # A compromised broker forwarding it anyway: the node refuses it as cheaply.
    began = time.perf_counter()
    with pytest.raises(grpc.RpcError) as at_node:
        _node_search(
            hostile, node_pb2.NodeServiceSearchRequest(request_id="r7000", signed=flood.signed)
        )
    node_seconds = time.perf_counter() - began
    assert at_node.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    # No HPKE open, no signature check: the shape check takes milliseconds.
    assert broker_seconds < 1.0, broker_seconds
    assert node_seconds < 1.0, node_seconds
    # Nothing verified, nothing remembered.
    assert hostile.nonces_at() == nonces
    assert sum(hostile.federation.nodes["kcso"].gate.refused.values()) == refused_before


@pytest.mark.parametrize("token", ["ë.ÿ.ñ", "eyJ.abc.d\u202e", "a" * 20_000])
def test_bad_tokens_get_invalid_argument_not_unknown(hostile: Hostile, token: str) -> None:
    request = _request(hostile)
    request.signed.proof = token
    with pytest.raises(grpc.RpcError) as at_broker:
        _broker_search(hostile, request)
    assert at_broker.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "signed.proof" in (at_broker.value.details() or "")
    assert len(at_broker.value.details() or "") < 500
    with pytest.raises(grpc.RpcError) as at_node:
        _node_search(
            hostile, node_pb2.NodeServiceSearchRequest(request_id="r1", signed=request.signed)
        )
    assert at_node.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_a_huge_issuer_name_is_refused_with_a_bounded_message(hostile: Hostile) -> None:
    request = _request(hostile)
    request.requester.subject = "x" * 1_000_000
    with pytest.raises(grpc.RpcError) as raised:
        _broker_search(hostile, request)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "requester.subject" in (raised.value.details() or "")
    assert len(raised.value.details() or "") < 500


@pytest.mark.parametrize(
    ("target", "method"),
    [
        ("broker", "/fieldgate.v2.BrokerService/Search"),
        ("broker", "/fieldgate.v2.BrokerService/SearchStream"),
        ("node", "/fieldgate.v2.NodeService/Search"),
    ],
)
@pytest.mark.parametrize("payload", [b"\xff\xff\xff\xff", b"\x0a\x05\xff\xfe\xfd\xfc\xfb"])
def test_malformed_request_bytes_get_invalid_argument(
    hostile: Hostile, target: str, method: str, payload: bytes
) -> None:
    """Raw bytes through a real channel, with identity serializers: no UNKNOWN, no class names."""
    channel = hostile.broker_channel() if target == "broker" else hostile.node_channel()

    def identity(data: bytes) -> bytes:
        return data

    def call() -> None:
        if method.endswith("Stream"):
            list(channel.unary_stream(method, identity, identity)(payload, timeout=10))
        else:
            channel.unary_unary(method, identity, identity)(payload, timeout=10)

    with channel, pytest.raises(grpc.RpcError) as raised:
        call()
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT, raised.value
    details = raised.value.details() or ""
    assert "is not a valid" in details
    assert "Error" not in details
    assert "Exception" not in details


def test_a_search_refused_by_a_limit_keeps_no_nonce(hostile: Hostile) -> None:
    """The retry of a rate-limited search is served, not refused as a replay."""
    detective = hostile.identity()
    first = _request(hostile, identity=detective)
    assert _broker_search(hostile, first, hostile.strict.address).results
    second = _request(hostile, identity=detective)
    with pytest.raises(grpc.RpcError) as limited:
        _broker_search(hostile, second, hostile.strict.address)
    assert limited.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    hostile.clock.now += 2000.0  # the requester's bucket refills
    retried = _broker_search(hostile, second, hostile.strict.address)
    assert {r.node_id for r in retried.results} == {"kcso", "spd"}


class _Impostor(node_pb2_grpc.NodeServiceServicer):
    """Answers as King County with one hit, whoever it really is."""

    async def Search(
        self, request: node_pb2.NodeServiceSearchRequest, context: object
    ) -> node_pb2.NodeServiceSearchResponse:
        return node_pb2.NodeServiceSearchResponse(
            request_id=request.request_id,
            node_id="kcso",
            hits=[common_pb2.Hit(reference="FAKE-1", record_kind="booking", score=1.0)],
        )


@pytest.mark.parametrize("certificate", ["investigator", "spd"])
def test_a_process_with_another_partys_certificate_cannot_answer_as_a_node(
    hostile: Hostile, loop: LoopThread, tmp_path: Path, certificate: str
) -> None:
    """An investigator's (or another agency's node's) certificate cannot speak for kcso."""

    async def start_impostor() -> tuple[grpc.aio.Server, int]:
        server = grpc.aio.server()
        node_pb2_grpc.add_NodeServiceServicer_to_server(_Impostor(), server)
        port = server.add_secure_port(
            "127.0.0.1:0", hostile.pki.files(certificate).server_credentials()
        )
        await server.start()
        return server, port

    server, port = loop.run(start_impostor())
    real = hostile.federation.nodes["kcso"]
    try:
        broker = loop.run(
            start_test_broker(
                (
                    NodeEntry("kcso", real.node.agency_name, f"127.0.0.1:{port}"),
                    NodeEntry("kcso-real", real.node.agency_name, real.address),
                ),
                tmp_path,
                trust=hostile.kit.config(),
                tls=hostile.pki.files("broker"),
            )
        )
        try:
            request = _request(hostile, audience=("kcso", "kcso-real"))
            answer = _broker_search(hostile, request, broker.address)
        finally:
            loop.run(broker.stop())
    finally:
        loop.run(server.stop(0))
    by_node = {r.node_id: r for r in answer.results}
    assert by_node["kcso"].status != broker_pb2.NODE_STATUS_ANSWERED
    assert list(by_node["kcso"].hits) == []
    # The real node, listed under another id, fails the same check: its
    # certificate names kcso, not kcso-real (the check is by name, not by luck).
    assert by_node["kcso-real"].status != broker_pb2.NODE_STATUS_ANSWERED


def test_a_key_for_a_node_the_proof_does_not_address_is_refused(hostile: Hostile) -> None:
    """The broker cannot read a key, but forwards none a node was not addressed for."""
    narrow = _request(hostile, audience=("kcso",))
    wide = _request(hostile, audience=("kcso", "spd"))
    narrow.signed.keys.extend(k for k in wide.signed.keys if k.node_id == "spd")
    before = {n: r.node.counters.requests for n, r in hostile.federation.nodes.items()}
    with pytest.raises(grpc.RpcError) as refused:
        _broker_search(hostile, narrow)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "signed.keys" in (refused.value.details() or "")
    assert "spd" in (refused.value.details() or "")
    after = {n: r.node.counters.requests for n, r in hostile.federation.nodes.items()}
    assert after == before  # no node was asked
