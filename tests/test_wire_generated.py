"""The committed wire code in fieldgate/v2 is exactly what proto/ generates."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from google.protobuf import descriptor_pb2

from fieldgate.v2 import broker_pb2, broker_pb2_grpc, node_pb2, node_pb2_grpc

ROOT = Path(__file__).resolve().parents[1]


def test_generated_code_matches_proto(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_proto.py"), str(tmp_path)],
        check=True,
        capture_output=True,
    )
    fresh = {
        p.name: p.read_text() for p in (tmp_path / "fieldgate" / "v2").iterdir() if p.is_file()
    }
    committed = {
        p.name: p.read_text() for p in (ROOT / "fieldgate" / "v2").iterdir() if p.is_file()
    }
    assert set(fresh) == set(committed), "files differ: run `make proto` and commit"
    for name, text in fresh.items():
        assert committed[name] == text, f"fieldgate/v2/{name} is stale: run `make proto` and commit"


def _commented_fields(proto: Path) -> list[str]:
    """Field lines in a .proto file that have no comment line directly above them."""
    missing = []
    lines = proto.read_text().splitlines()
    for i, line in enumerate(lines):
        stripped = line.strip()
        is_field = (
            stripped.endswith(";")
            and "=" in stripped
            and not stripped.startswith(("option", "syntax", "package", "import", "//"))
        )
        if is_field and not lines[i - 1].strip().startswith("//"):
            missing.append(f"{proto.name}:{i + 1}: {stripped}")
    return missing


def test_every_proto_field_is_documented() -> None:
    missing = [m for p in sorted((ROOT / "proto").rglob("*.proto")) for m in _commented_fields(p)]
    assert missing == []


def test_every_rpc_has_a_handler() -> None:
    """Each service method in the descriptors is implemented by our servicers."""
    from fieldgate.broker.servicer import BrokerServicer
    from fieldgate.node.servicer import NodeServicer

    pairs = [
        (
            node_pb2.DESCRIPTOR.services_by_name["NodeService"],
            NodeServicer,
            node_pb2_grpc.NodeServiceServicer,
        ),
        (
            broker_pb2.DESCRIPTOR.services_by_name["BrokerService"],
            BrokerServicer,
            broker_pb2_grpc.BrokerServiceServicer,
        ),
    ]
    for service, ours, generated in pairs:
        proto = descriptor_pb2.ServiceDescriptorProto()
        service.CopyToProto(proto)
        for method in proto.method:
            assert getattr(ours, method.name) is not getattr(generated, method.name), (
                f"{service.full_name}.{method.name} has no handler"
            )
