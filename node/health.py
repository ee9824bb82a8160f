"""Whether a node can answer, told to its health service and its metrics.

A node is *ready* while it has a usable contract and its audit log can be
written (:attr:`fieldgate.node.search.AgencyNode.ready`). Without a contract it
releases nothing; with an audit log it cannot write it refuses every search.
Either way the standard gRPC health service on the maintenance port reports
NOT_SERVING (so a Kubernetes readiness probe and the on-call see it) and
``fieldgate_node_ready`` drops to 0. After a failed audit write the node stays
NOT_SERVING until a later write succeeds: the broker keeps sending searches
(nodes are reached by address, not through a load balancer), and the first
one the log accepts turns it back to SERVING.
"""

from __future__ import annotations

import logging

from fieldgate.node.search import AgencyNode
from fieldgate.ops.endpoints import MaintenanceServer
from fieldgate.policy.engine import MissingContract

log = logging.getLogger("fieldgate.node")


class NodeHealth:
    """Keeps a node's health status and ``fieldgate_node_ready`` in step with the node."""

    def __init__(self, node: AgencyNode, maintenance: MaintenanceServer | None) -> None:
        self.node = node
        self.maintenance = maintenance
        self._ready: bool | None = None

    def why_not_ready(self) -> str:
        """What keeps the node from answering ("" when it is ready)."""
        if isinstance(self.node.contract, MissingContract):
            return f"no usable contract ({self.node.contract.reason})"
        if self.node.audit_halted:
            return f"its audit log was tampered with ({self.node.audit_halted})"
        if not self.node.audit_ok:
            return "its audit log cannot be written"
        return ""

    async def refresh(self) -> None:
        """Re-read the node's state; tell the health service and metrics when it changed."""
        ready = self.node.ready
        self.node.metrics.set_contract(self.node.contract)
        if ready != self._ready:
            if ready and self._ready is not None:
                log.info("node %s is serving again", self.node.node_id)
            elif not ready:
                log.error(
                    "node %s reports NOT_SERVING: %s", self.node.node_id, self.why_not_ready()
                )
            self._ready = ready
            self.node.metrics.set_ready(ready)
        if self.maintenance is not None:
            await self.maintenance.set_serving(ready)
