"""The maintenance port: standard gRPC health (and reflection) that follows the node's state.

A node reports NOT_SERVING while it has no usable contract, and from a failed
audit write until a later write succeeds; its liveness service stays SERVING
throughout (restarting would not mend either). Checked over real gRPC on the
real maintenance port.
"""

from __future__ import annotations

import urllib.error
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import grpc
import pytest
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)

from fieldgate.devkit.local_federation import NodeSpec, import_records, node_config
from fieldgate.devkit.synthetic import DEMO_AGENCIES, generate_agency_records, write_jsonl
from fieldgate.node.disclosure_log import DisclosureEntry, MemoryDisclosureLog
from fieldgate.node.errors import DisclosureLogError
from fieldgate.node.server import RunningNode, start_node
from fieldgate.ops.endpoints import LIVENESS_SERVICE, MaintenanceConfig, MetricsConfig
from fieldgate.policy.shipped import shipped_contract
from fieldgate.v2 import common_pb2, node_pb2
from tests.helpers.federation import LoopThread, node_stub
from tests.helpers.ops import OpsFederation, health, parse, run_ops_federation, scrape, value

REQUESTER = common_pb2.Requester(
    subject="det-1",
    agency="bellevue-pd",
    agency_type="local_law_enforcement",
    roles=["detective"],
    purpose="criminal_investigation",
    case_number="BPD-2026-1",
)
API = "fieldgate.v2.NodeService"


class SwitchableLog(MemoryDisclosureLog):
    """An in-memory audit log that can be made to fail, like a full disk."""

    def __init__(self) -> None:
        super().__init__()
        self.failing = False

    def write(self, entry: DisclosureEntry) -> None:
        if self.failing:
            raise DisclosureLogError("disk full (simulated)")
        super().write(entry)


def spec_for(workdir: Path, contract: str | None) -> NodeSpec:
    agency = DEMO_AGENCIES[0]
    path = workdir / "records.jsonl"
    write_jsonl(generate_agency_records(agency, count=30, seed=3), path)
    spec = NodeSpec(agency.node_id, agency.name, shipped_contract(contract) if contract else None)
    spec = replace(spec, records=path)
    import_records(spec, workdir)
    return spec


def start(loop: LoopThread, spec: NodeSpec, workdir: Path, log: MemoryDisclosureLog) -> RunningNode:
    config = replace(
        node_config(spec, workdir),
        metrics=MetricsConfig("127.0.0.1:0", "127.0.0.1:0"),
        maintenance=MaintenanceConfig("127.0.0.1:0", reflection=True),
    )
    return loop.run(start_node(config, log))


def search(running: RunningNode) -> node_pb2.NodeServiceSearchResponse:
    channel, stub = node_stub(running.address)
    with channel:
        return stub.Search(
            node_pb2.NodeServiceSearchRequest(
                request_id=f"health-check-{uuid.uuid4().hex}",
                requester=REQUESTER,
                query=common_pb2.PersonQuery(surname="HERNANDEZ", given_name="MIGUEL"),
            ),
            timeout=10,
        )


@pytest.fixture(scope="module")
def ops(loop: LoopThread, tmp_path_factory: pytest.TempPathFactory) -> Iterator[OpsFederation]:
    federation = run_ops_federation(loop, tmp_path_factory.mktemp("ops-health"))
    yield federation
    loop.run(federation.federation.stop())


def test_a_healthy_federation_is_serving_with_reflection(ops: OpsFederation) -> None:
    broker = ops.federation.broker
    assert broker.maintenance_port is not None
    assert health(broker.maintenance_port) == "SERVING"
    assert health(broker.maintenance_port, "fieldgate.v2.BrokerService") == "SERVING"
    for node_id, running in ops.federation.nodes.items():
        port = running.maintenance_port
        assert port is not None
        for service in ("", API, LIVENESS_SERVICE):
            assert health(port, service) == "SERVING", (node_id, service)
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            services = set(ProtoReflectionDescriptorDatabase(channel).get_services())
        assert {API, "grpc.health.v1.Health", "grpc.reflection.v1alpha.ServerReflection"} <= (
            services
        )
    with pytest.raises(grpc.RpcError) as unknown:
        health(broker.maintenance_port, "no.such.Service")
    assert unknown.value.code() == grpc.StatusCode.NOT_FOUND


def test_the_maintenance_port_carries_no_data(ops: OpsFederation) -> None:
    port = ops.federation.nodes["kcso"].maintenance_port
    channel, stub = node_stub(f"127.0.0.1:{port}")
    with channel, pytest.raises(grpc.RpcError) as refused:
        stub.Search(node_pb2.NodeServiceSearchRequest(request_id="x"), timeout=5)
    assert refused.value.code() == grpc.StatusCode.UNIMPLEMENTED


def test_a_node_without_a_contract_is_not_serving(loop: LoopThread, tmp_path: Path) -> None:
    running = start(loop, spec_for(tmp_path, None), tmp_path, MemoryDisclosureLog())
    try:
        port = running.maintenance_port
        assert port is not None
        assert health(port) == "NOT_SERVING"
        assert health(port, API) == "NOT_SERVING"
        assert health(port, LIVENESS_SERVICE) == "SERVING"
        assert running.metrics_port is not None
        samples = parse(scrape(running.metrics_port))
        assert value(samples, "fieldgate_node_ready") == 0
        assert value(samples, "fieldgate_node_contract_info", version="") == 1
        # It says it cannot decide (a development node has no signed answer to carry the
        # reason: a FAILED_PRECONDITION status naming it, never "0 hits"); NOT_SERVING.
        with pytest.raises(grpc.RpcError) as not_answering:
            search(running)
        assert not_answering.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert "no_contract" in (not_answering.value.details() or "")
        assert health(port) == "NOT_SERVING"
        samples = parse(scrape(running.metrics_port))
        assert value(samples, "fieldgate_node_not_answering_total", reason="no_contract") >= 1
    finally:
        loop.run(running.stop(0))


def test_a_failed_audit_write_is_not_serving_until_a_write_succeeds(
    loop: LoopThread, tmp_path: Path
) -> None:
    log = SwitchableLog()
    running = start(loop, spec_for(tmp_path, "permissive"), tmp_path, log)
    try:
        port = running.maintenance_port
        assert port is not None
        assert running.metrics_port is not None
        assert health(port) == "SERVING"
        search(running)
        log.failing = True
        with pytest.raises(grpc.RpcError) as refused:
            search(running)
        assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
        assert health(port) == "NOT_SERVING"
        assert health(port, API) == "NOT_SERVING"
        assert health(port, LIVENESS_SERVICE) == "SERVING"
        samples = parse(scrape(running.metrics_port))
        assert value(samples, "fieldgate_node_audit_write_failures_total") == 1
        assert running.private_metrics_port is not None
        private = parse(scrape(running.private_metrics_port))
        assert value(private, "fieldgate_node_audit_write_seconds_count") == 2
        assert value(samples, "fieldgate_node_ready") == 0
        assert (
            value(
                samples,
                "grpc_server_handled_total",
                grpc_method="Search",
                grpc_code="UNAVAILABLE",
            )
            == 1
        )
        log.failing = False
        search(running)
        assert health(port) == "SERVING"
        assert value(parse(scrape(running.metrics_port)), "fieldgate_node_ready") == 1
    finally:
        loop.run(running.stop(0))


def test_stopping_reports_not_serving_and_frees_the_ports(loop: LoopThread, tmp_path: Path) -> None:
    running = start(loop, spec_for(tmp_path, "permissive"), tmp_path, MemoryDisclosureLog())
    port, metrics_port = running.maintenance_port, running.metrics_port
    assert port is not None
    assert metrics_port is not None
    assert health(port) == "SERVING"
    loop.run(running.stop(0))
    with pytest.raises(grpc.RpcError):
        health(port)
    with pytest.raises(urllib.error.URLError, match="refused"):
        scrape(metrics_port)
