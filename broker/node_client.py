"""One call to one node address, and what its outcome means for the requester.

A :class:`NodeChannel` is a long-lived channel to one address: an agency's
node, or one of its replicas. Its :meth:`NodeChannel.ask` never raises for a
node failure: it turns every ending into an ``AgencyResult`` (answered, timed
out, unreachable, error), and refuses an answer that names another node or
another search, so a misconfigured replica can never speak for an agency.
"""

from __future__ import annotations

import logging

import grpc

from fieldgate.broker.config import NodeEntry
from fieldgate.core.tls import TLSFiles
from fieldgate.v1 import broker_pb2, node_pb2, node_pb2_grpc

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

SEARCH_DEADLINE_DETAIL = "no answer before the search deadline"
"""Detail of a node that was still silent when the search's deadline came."""

log = logging.getLogger("fieldgate.broker")


def node_deadline_detail(milliseconds: int) -> str:
    """Detail of a node cut off by the broker's per-node deadline (``node_deadline_ms``)."""
    return f"no answer within the node deadline ({milliseconds} ms)"


class NodeChannel:
    """A long-lived channel to one node address (a primary node or a replica)."""

    def __init__(self, address: str, tls: TLSFiles | None) -> None:
        """Open (lazily connecting) a channel to ``address``, over mutual TLS with ``tls``."""
        self.address = address
        if tls is None:
            self._channel = grpc.aio.insecure_channel(address, options=CHANNEL_OPTIONS)
        else:
            self._channel = grpc.aio.secure_channel(
                address, tls.channel_credentials(), options=CHANNEL_OPTIONS
            )
        self._stub = node_pb2_grpc.AgencyNodeStub(self._channel)

    async def ask(
        self,
        entry: NodeEntry,
        request: node_pb2.NodeSearchRequest,
        seconds: float,
        timeout_detail: str = SEARCH_DEADLINE_DETAIL,
    ) -> broker_pb2.AgencyResult:
        """Send ``request`` as agency ``entry`` and report how it ended; never raises for it.

        Args:
            entry: the agency this address must answer as.
            request: the node request, with the signed search exactly as the client sent it.
            seconds: how long this call may take (its gRPC deadline).
            timeout_detail: what to tell the requester if the call runs out of time.
        """
        result = broker_pb2.AgencyResult(node_id=entry.node_id, agency_name=entry.agency_name)
        try:
            answer: node_pb2.NodeSearchResponse = await self._stub.Search(
                request, timeout=max(seconds, 0.001)
            )
        except grpc.aio.AioRpcError as exc:
            code = exc.code()
            if code in _TIMED_OUT:
                result.status = broker_pb2.NODE_STATUS_TIMED_OUT
                result.detail = timeout_detail
            elif code in _UNREACHABLE:
                result.status = broker_pb2.NODE_STATUS_UNREACHABLE
                result.detail = f"UNAVAILABLE: {exc.details() or 'node unreachable'}"
            elif code in _INTERNAL:
                # The node's internal error text is for its operator, not the requester.
                result.status = broker_pb2.NODE_STATUS_ERROR
                result.detail = (
                    f"{code.name}: the agency's node failed; its operator has the details"
                )
                log.warning(
                    "node %s at %s failed: %s %s",
                    entry.node_id,
                    self.address,
                    code.name,
                    exc.details(),
                )
            else:
                result.status = broker_pb2.NODE_STATUS_ERROR
                result.detail = f"{code.name}: {(exc.details() or '')[:300]}"
        else:
            if answer.request_id != request.request_id or answer.node_id != entry.node_id:
                # A node (or replica) answering for someone else is misconfigured; its
                # hits are not trustworthy as this agency's.
                log.warning(
                    "node %s at %s answered as %r for request %r; answer refused",
                    entry.node_id,
                    self.address,
                    answer.node_id,
                    answer.request_id,
                )
                result.status = broker_pb2.NODE_STATUS_ERROR
                result.detail = (
                    f"answer came from node {answer.node_id!r} for request "
                    f"{answer.request_id!r}; check the broker's node list"
                )
            else:
                result.status = broker_pb2.NODE_STATUS_ANSWERED
                result.hits.extend(answer.hits)
                # Relayed untouched: the requester checks it against the node's key.
                result.answer_signature = answer.answer_signature
        return result

    async def close(self) -> None:
        """Close the channel."""
        await self._channel.close(None)
