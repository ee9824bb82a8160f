"""Fan one search out to every registered node under one deadline.

Each node is called concurrently on a long-lived channel. A node that does not
answer by the deadline is marked timed out, one that cannot be reached is
marked unreachable, one that answers with an error status is marked as such;
none of them holds up or fails the others. The broker copies the hits exactly
as each node sent them: it cannot add to what a node released.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence

import grpc

from broker.config import NodeEntry
from broker.metrics import BrokerMetrics
from fieldgate.tls import TLSFiles
from fieldgate.v1 import broker_pb2, common_pb2, node_pb2, node_pb2_grpc

# Reconnect quickly once a node comes back, rather than grpc's default backoff
# of up to two minutes.
CHANNEL_OPTIONS = [
    ("grpc.initial_reconnect_backoff_ms", 200),
    ("grpc.min_reconnect_backoff_ms", 200),
    ("grpc.max_reconnect_backoff_ms", 2000),
    ("grpc.max_receive_message_length", 4 * 1024 * 1024),
]

_UNREACHABLE = {grpc.StatusCode.UNAVAILABLE}
_TIMED_OUT = {grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.CANCELLED}
_INTERNAL = {grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL, grpc.StatusCode.DATA_LOSS}

log = logging.getLogger("fieldgate.broker")


class NodeClient:
    """A long-lived channel to one node."""

    def __init__(
        self, entry: NodeEntry, tls: TLSFiles | None, metrics: BrokerMetrics | None = None
    ) -> None:
        self.entry = entry
        self.last_elapsed_seconds = 0.0
        self._metrics = metrics
        if tls is None:
            self._channel = grpc.aio.insecure_channel(entry.address, options=CHANNEL_OPTIONS)
        else:
            self._channel = grpc.aio.secure_channel(
                entry.address, tls.channel_credentials(), options=CHANNEL_OPTIONS
            )
        self._stub = node_pb2_grpc.AgencyNodeStub(self._channel)

    async def search(
        self,
        request_id: str,
        requester: common_pb2.Requester,
        query: common_pb2.PersonQuery,
        signed: common_pb2.SignedSearch | None,
        deadline_seconds: float,
    ) -> broker_pb2.AgencyResult:
        """Ask this node; never raises for a node failure, it reports it."""
        started = time.monotonic()
        result = broker_pb2.AgencyResult(
            node_id=self.entry.node_id, agency_name=self.entry.agency_name
        )
        try:
            answer: node_pb2.NodeSearchResponse = await self._stub.Search(
                node_pb2.NodeSearchRequest(
                    request_id=request_id, requester=requester, query=query, signed=signed
                ),
                timeout=max(deadline_seconds, 0.001),
            )
        except grpc.aio.AioRpcError as exc:
            code = exc.code()
            if code in _TIMED_OUT:
                result.status = broker_pb2.NODE_STATUS_TIMED_OUT
                result.detail = "no answer before the search deadline"
            elif code in _UNREACHABLE:
                result.status = broker_pb2.NODE_STATUS_UNREACHABLE
                result.detail = f"UNAVAILABLE: {exc.details() or 'node unreachable'}"
            elif code in _INTERNAL:
                # The node's internal error text is for its operator, not the requester.
                result.status = broker_pb2.NODE_STATUS_ERROR
                result.detail = (
                    f"{code.name}: the agency's node failed; its operator has the details"
                )
                log.warning("node %s failed: %s %s", self.entry.node_id, code.name, exc.details())
            else:
                result.status = broker_pb2.NODE_STATUS_ERROR
                result.detail = f"{code.name}: {(exc.details() or '')[:300]}"
        else:
            if answer.request_id != request_id or answer.node_id != self.entry.node_id:
                # A node answering for someone else is misconfigured; its hits are
                # not trustworthy as this agency's.
                result.status = broker_pb2.NODE_STATUS_ERROR
                result.detail = (
                    f"answer came from node {answer.node_id!r} for request "
                    f"{answer.request_id!r}; check the broker's node list"
                )
            else:
                result.status = broker_pb2.NODE_STATUS_ANSWERED
                result.hits.extend(answer.hits)
        # Kept for the broker's log only: per-node latency would tell a requester
        # how long the contract worked on records it was then denied.
        elapsed = time.monotonic() - started
        self.last_elapsed_seconds = round(elapsed, 6)
        if self._metrics is not None:
            self._metrics.node_call(self.entry.node_id, result.status, elapsed)
        return result

    async def close(self) -> None:
        """Close the channel."""
        await self._channel.close(None)


class FanOut:
    """Calls every node of a federation concurrently."""

    def __init__(
        self,
        nodes: Sequence[NodeEntry],
        tls: TLSFiles | None = None,
        metrics: BrokerMetrics | None = None,
    ) -> None:
        self.clients = [NodeClient(entry, tls, metrics) for entry in nodes]

    async def search(
        self,
        request_id: str,
        requester: common_pb2.Requester,
        query: common_pb2.PersonQuery,
        signed: common_pb2.SignedSearch | None,
        deadline_seconds: float,
    ) -> list[broker_pb2.AgencyResult]:
        """Return one result per node, in configured order, within the deadline.

        ``signed`` goes to every node exactly as the client sent it.
        """
        calls = (
            c.search(request_id, requester, query, signed, deadline_seconds) for c in self.clients
        )
        return list(await asyncio.gather(*calls))

    async def close(self) -> None:
        """Close every channel."""
        await asyncio.gather(*(c.close() for c in self.clients))
