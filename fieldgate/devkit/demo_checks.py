"""What ``fieldgate demo`` checks before it may call itself a success.

A demo that shows empty tables and exits 0 hides a broken install (a contract
the node cannot read, a node that never became ready) behind a green exit
status. So the demo asks every node's real gRPC health service whether it is
SERVING before it searches, insists that the detective — whom the shipped
contracts all let see something — is shown at least one record, and that every
node's audit log verifies. Any failure is a :class:`DemoFailed` naming the node
and the reason; ``fieldgate`` prints it and exits non-zero.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from fieldgate.client.results import SearchResult
from fieldgate.core.errors import FieldgateError
from fieldgate.node.audit.entries import SEARCH
from fieldgate.node.audit.schema import AuditReader
from fieldgate.node.audit.verify import VerifyReport
from fieldgate.node.health import NodeHealth
from fieldgate.node.server import RunningNode

HEALTH_TIMEOUT_SECONDS = 5.0
"""How long one health check may take on loopback before the node counts as down."""


class DemoFailed(FieldgateError):
    """The demo ran but showed nothing it promises: a node not serving, no disclosure."""


async def health_status(running: RunningNode) -> str:
    """The node's overall status as its gRPC health service reports it (e.g. ``SERVING``)."""
    if running.maintenance is None:
        raise DemoFailed(f"node {running.node.node_id} was started without a health service")
    async with grpc.aio.insecure_channel(running.maintenance.address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        reply = await stub.Check(
            health_pb2.HealthCheckRequest(service=""), timeout=HEALTH_TIMEOUT_SECONDS
        )
    return str(health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status))


async def check_serving(nodes: Mapping[str, RunningNode]) -> None:
    """Raise :class:`DemoFailed` naming every node that does not report SERVING, and why.

    The status comes from the node's health service over gRPC (what a
    Kubernetes probe sees); the reason from the node itself.
    """
    problems: list[str] = []
    for node_id, running in nodes.items():
        try:
            status = await health_status(running)
        except grpc.RpcError as exc:
            problems.append(f"node {node_id}: its health service did not answer ({exc.code()})")
            continue
        if status != "SERVING":
            why = NodeHealth(running.node, None).why_not_ready() or "no reason given"
            problems.append(f"node {node_id} reports {status}: {why}")
    if problems:
        raise DemoFailed("the demo federation is not ready; " + "; ".join(problems))


def records_disclosed(result: SearchResult) -> int:
    """How many records the search showed its requester, over every agency."""
    return sum(len(agency.hits) for agency in result.agencies)


def check_disclosed(label: str, result: SearchResult) -> None:
    """Raise :class:`DemoFailed` when ``result`` disclosed no record at all.

    Names each agency's answer, so a node that failed or denied shows why.
    """
    if records_disclosed(result) > 0:
        return
    answers = ", ".join(
        f"{a.node_id} {a.status}" + (f" ({a.detail})" if a.detail else "") for a in result.agencies
    )
    who = label.replace("\n", " ")
    raise DemoFailed(
        f"the {who} was shown no record at all, though every shipped contract "
        f"discloses to them (agencies answered: {answers or 'none'})"
    )


def check_audit(reports: list[VerifyReport]) -> None:
    """Raise :class:`DemoFailed` naming every node whose audit log does not verify."""
    bad = [r.node_id for r in reports if not r.ok]
    if bad:
        raise DemoFailed(f"audit log verification failed at node(s) {', '.join(bad)}")


def searches_audited(audit_db: Path) -> Counter[str]:
    """How many searches a node's audit log records, by requesting agency.

    Every search a node answers is audited before its answer leaves, hits or
    none: an agency missing here never had a search reach that node.
    """
    counts: Counter[str] = Counter()
    with AuditReader(audit_db) as reader:
        for row in reader.entries(SEARCH):
            data = row.document().get("data")
            requester = data.get("requester") if isinstance(data, dict) else None
            if isinstance(requester, dict):
                counts[str(requester.get("agency", ""))] += 1
    return counts


def check_not_reached(node_id: str, agency: str, audited: Counter[str]) -> None:
    """Raise :class:`DemoFailed` when ``agency``'s searches reached ``node_id`` after all."""
    if audited[agency]:
        raise DemoFailed(
            f"{audited[agency]} search(es) from {agency} reached node {node_id}, "
            "which its agency's outbound policy keeps out"
        )
