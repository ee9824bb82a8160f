"""One call to one node address, and what its outcome means for the requester.

A :class:`NodeChannel` is a long-lived channel to one address: an agency's
node, or one of its replicas. Its :meth:`NodeChannel.ask` never raises for a
node failure: it turns every ending into an ``AgencyResult`` (answered, not
answering, timed out, unreachable, error), and refuses an answer that names another node or
another search, so a misconfigured replica can never speak for an agency.
"""

from __future__ import annotations

import logging

import grpc

from fieldgate.broker.answer_checks import answer_problem
from fieldgate.broker.config import NodeEntry
from fieldgate.broker.status import NODE_INTERNAL, NODE_TIMED_OUT, NODE_UNREACHABLE
from fieldgate.core.answer_caps import MAX_NODE_ANSWER_BYTES
from fieldgate.core.tls import TLSFiles
from fieldgate.core.vocabulary import NOT_ANSWERING_REASONS, not_answering_words
from fieldgate.v1 import broker_pb2, node_pb2, node_pb2_grpc

# Reconnect quickly once a node comes back, rather than grpc's default backoff
# of up to two minutes.
CHANNEL_OPTIONS = [
    ("grpc.initial_reconnect_backoff_ms", 200),
    ("grpc.min_reconnect_backoff_ms", 200),
    ("grpc.max_reconnect_backoff_ms", 2000),
    # One node's answer is capped by the protocol: a bigger one fails that node
    # alone (RESOURCE_EXHAUSTED), never the search.
    ("grpc.max_receive_message_length", MAX_NODE_ANSWER_BYTES),
]

SEARCH_DEADLINE_DETAIL = "no answer before the search deadline"
"""Detail of a node that was still silent when the search's deadline came."""

log = logging.getLogger("fieldgate.broker")


def node_deadline_detail(milliseconds: int) -> str:
    """Detail of a node cut off by the broker's per-node deadline (``node_deadline_ms``)."""
    return f"no answer within the node deadline ({milliseconds} ms)"


class NodeChannel:
    """A long-lived channel to one node address (a primary node or a replica)."""

    def __init__(self, address: str, tls: TLSFiles | None, node_id: str = "") -> None:
        """Open (lazily connecting) a channel to ``address``, over mutual TLS with ``tls``.

        With TLS and a ``node_id``, the node's certificate must name that id (as a
        DNS subject alternative name): a process holding another party's
        certificate (an investigator's, another agency's node's) cannot answer
        as this agency.
        """
        self.address = address
        if tls is None:
            self._channel = grpc.aio.insecure_channel(address, options=CHANNEL_OPTIONS)
        else:
            expected = [("grpc.ssl_target_name_override", node_id)] if node_id else []
            self._channel = grpc.aio.secure_channel(
                address, tls.channel_credentials(), options=[*CHANNEL_OPTIONS, *expected]
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
            if code in NODE_TIMED_OUT:
                result.status = broker_pb2.NODE_STATUS_TIMED_OUT
                result.detail = timeout_detail
            elif code in NODE_UNREACHABLE:
                result.status = broker_pb2.NODE_STATUS_UNREACHABLE
                result.detail = f"UNAVAILABLE: {exc.details() or 'node unreachable'}"
            elif code in NODE_INTERNAL:
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
            elif (problem := answer_problem(answer, entry.agency_name)) is not None:
                # Over a protocol cap, or hits held by another agency: none of it is passed on.
                log.warning(
                    "node %s at %s answer refused: %s", entry.node_id, self.address, problem
                )
                result.status = broker_pb2.NODE_STATUS_ERROR
                result.detail = f"the agency's answer was refused: {problem}"
            elif answer.not_answering_reason:
                # The node says it cannot decide any search: shown as such, never as "no record".
                reason = answer.not_answering_reason
                if reason not in NOT_ANSWERING_REASONS or answer.hits:
                    result.status = broker_pb2.NODE_STATUS_ERROR
                    result.detail = "the agency's answer was refused: malformed not-answering"
                else:
                    result.status = broker_pb2.NODE_STATUS_NOT_ANSWERING
                    result.not_answering_reason = reason
                    result.detail = f"{entry.agency_name}: {not_answering_words(reason)}"
                    result.answer_signature = answer.answer_signature
                    log.warning("node %s is not answering: %s", entry.node_id, reason)
            else:
                result.status = broker_pb2.NODE_STATUS_ANSWERED
                result.hits.extend(answer.hits)
                # Relayed untouched: the requester checks it against the node's key.
                result.answer_signature = answer.answer_signature
        return result

    async def close(self) -> None:
        """Close the channel."""
        await self._channel.close(None)
