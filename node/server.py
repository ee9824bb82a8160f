"""Starting and stopping a node's gRPC server."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import grpc

from fieldgate.trust.config import build_verifier
from fieldgate.v1 import common_pb2, node_pb2_grpc
from node.catalog import load_catalog
from node.config import NodeConfig
from node.contract import MissingContract, load_contract
from node.disclosure_log import DisclosureLog, LoggingDisclosureLog
from node.service import AgencyNode
from node.servicer import AgencyNodeServicer
from node.store import RecordStore
from node.trust_gate import TrustGate

log = logging.getLogger("fieldgate.node")

MAX_MESSAGE_BYTES = 4 * 1024 * 1024
"""Largest request or answer accepted; bigger requests fail with RESOURCE_EXHAUSTED."""


@dataclass
class RunningNode:
    """A started node: its server, bound address and core."""

    server: grpc.aio.Server
    address: str
    node: AgencyNode
    store: RecordStore
    gate: TrustGate

    async def stop(self, grace: float | None = 1.0) -> None:
        """Stop serving (finishing in-flight searches within ``grace``) and close the store."""
        await self.server.stop(grace)
        self.node.contract.close()
        self.store.close()


def build_node(config: NodeConfig, disclosure_log: DisclosureLog | None = None) -> AgencyNode:
    """Open the store, load catalog and contract, and assemble the node core.

    A contract that is missing or broken does not stop the node: it serves and
    releases nothing, and says why in its log.
    """
    catalog = load_catalog(config.catalog)
    contract = load_contract(config.contract, config.rego_library, catalog.classes())
    if isinstance(contract, MissingContract):
        log.error(
            "node %s has no usable contract and releases nothing: %s",
            config.node_id,
            contract.reason,
        )
    else:
        log.info(
            "node %s runs contract %s (%s)", config.node_id, contract.name, contract.version[:12]
        )
    return AgencyNode(
        node_id=config.node_id,
        agency_name=config.agency_name,
        contact=common_pb2.PointerContact(
            agency=config.agency_name, unit=config.contact_unit, phone=config.contact_phone
        ),
        store=RecordStore.open(config.database),
        catalog=catalog,
        contract=contract,
        disclosure_log=disclosure_log or LoggingDisclosureLog(),
        max_hits=config.max_hits,
    )


async def start_node(
    config: NodeConfig, disclosure_log: DisclosureLog | None = None
) -> RunningNode:
    """Start a node's gRPC server on ``config.listen`` and return it running."""
    node = build_node(config, disclosure_log)
    server = grpc.aio.server(
        options=[
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
        ]
    )
    if config.trust is None:
        log.warning(
            "NODE %s IS INSECURE: no trust bundle, requester claims are taken as stated. "
            "Development only.",
            config.node_id,
        )
        gate = TrustGate(None)
    else:
        gate = TrustGate(build_verifier(config.trust))
    node_pb2_grpc.add_AgencyNodeServicer_to_server(AgencyNodeServicer(node, gate), server)
    host, _, _ = config.listen.rpartition(":")
    port = server.add_insecure_port(config.listen)
    if port == 0:
        raise OSError(f"cannot listen on {config.listen}")
    await server.start()
    return RunningNode(server, f"{host}:{port}", node, node.store, gate)
