"""One call to one node address, and what its outcome means for the requester.

A :class:`NodeChannel` is a channel to one address: an agency's node, or one
of its replicas. The broker holds them in a pool
(:mod:`fieldgate.broker.channel_pool`) that opens one on first use, reuses it
and closes it once idle. Its :meth:`NodeChannel.ask` never raises for a node
failure: it turns every ending into an ``AgencyResult`` (answered, timed out,
unreachable, error), and refuses an answer that names another node or another
search, so a misconfigured replica can never speak for an agency.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass

import grpc

from fieldgate.broker.answer_checks import answer_problem
from fieldgate.broker.config import NodeEntry
from fieldgate.broker.status import NODE_INTERNAL, NODE_TIMED_OUT, NODE_UNREACHABLE
from fieldgate.core.answer_caps import MAX_NODE_ANSWER_BYTES
from fieldgate.core.tls import TLSFiles
from fieldgate.v2 import broker_pb2, node_pb2

SEARCH_METHOD = "/fieldgate.v2.NodeService/Search"

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

_TRANSPORT = re.compile(r"\b(ipv4|ipv6|unix|dns|tcp):|connect|resolve|\d{1,3}(\.\d{1,3}){3}", re.I)
"""What gRPC transport errors look like: they name the address they dialled."""

log = logging.getLogger("fieldgate.broker")


@dataclass(frozen=True)
class NodeRequest:
    """A node request serialised once per search and sent as the same bytes to every node.

    Serialising it per node made the broker's CPU per search grow with the
    request's size times the node count (bench.federation's profile).
    """

    request_id: str
    wire: bytes

    @classmethod
    def of(cls, message: node_pb2.NodeServiceSearchRequest) -> NodeRequest:
        """``message``, serialised."""
        return cls(message.request_id, message.SerializeToString())


def node_deadline_detail(milliseconds: int) -> str:
    """Detail of a node cut off by the broker's per-node deadline (``node_deadline_ms``)."""
    return f"no answer within the node deadline ({milliseconds} ms)"


class NodeChannel:
    """A channel to one node address (a primary node or a replica)."""

    def __init__(
        self,
        address: str,
        tls: TLSFiles | grpc.ChannelCredentials | None,
        node_id: str = "",
    ) -> None:
        """Open (lazily connecting) a channel to ``address``, over mutual TLS with ``tls``.

        ``tls`` is the broker's TLS files, or credentials already read from
        them (the pool reads them once for every channel); None: plaintext.
        With TLS and a ``node_id``, the node's certificate must name that id (as a
        DNS subject alternative name): a process holding another party's
        certificate (an investigator's, another agency's node's) cannot answer
        as this agency.
        """
        self.address = address
        if tls is None:
            self._channel = grpc.aio.insecure_channel(address, options=CHANNEL_OPTIONS)
        else:
            credentials = tls.channel_credentials() if isinstance(tls, TLSFiles) else tls
            expected = [("grpc.ssl_target_name_override", node_id)] if node_id else []
            self._channel = grpc.aio.secure_channel(
                address, credentials, options=[*CHANNEL_OPTIONS, *expected]
            )
        # Bytes in (serialised once per search by NodeRequest), the answer parsed out.
        self._search: grpc.aio.UnaryUnaryMultiCallable[bytes, node_pb2.NodeServiceSearchResponse]
        self._search = self._channel.unary_unary(
            SEARCH_METHOD,
            request_serializer=None,
            response_deserializer=node_pb2.NodeServiceSearchResponse.FromString,
        )

    def _told(self, details: str | None) -> str:
        """What the requester may read of a failed call's details: never an address.

        gRPC's own transport errors name the address it dialled ("ipv4:10.0.3.7:
        50051: connection refused"); no requester sees a node's internal address
        (issue 16), so such details become a fixed sentence (the broker's log
        keeps them). A node's own refusal ("cannot record disclosures") is kept.
        """
        text = details or ""
        host = self.address.rpartition(":")[0]
        if not text or _TRANSPORT.search(text) or self.address in text or (host and host in text):
            return "the agency's node could not be reached"
        return text

    async def ask(
        self,
        entry: NodeEntry,
        request: NodeRequest,
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
            answer = await self._search(request.wire, timeout=max(seconds, 0.001))
        except grpc.aio.AioRpcError as exc:
            code = exc.code()
            if code in NODE_TIMED_OUT:
                result.status = broker_pb2.NODE_STATUS_TIMED_OUT
                result.detail = timeout_detail
            elif code in NODE_UNREACHABLE:
                result.status = broker_pb2.NODE_STATUS_UNREACHABLE
                result.detail = f"UNAVAILABLE: {self._told(exc.details())}"
                log.warning(
                    "node %s at %s unreachable: %s", entry.node_id, self.address, exc.details()
                )
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
                result.detail = f"{code.name}: {self._told(exc.details())[:300]}"
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
            else:
                result.status = broker_pb2.NODE_STATUS_ANSWERED
                if answer.HasField("answer"):
                    # Relayed untouched: only the requester can open it and check the
                    # node's signature inside.
                    result.answer.CopyFrom(answer.answer)
                # Development (insecure) nodes answer in the clear.
                result.hits.extend(answer.hits)
        return result

    async def ready(self, seconds: float) -> bool:
        """Connect now (TLS handshake included); True if ready within ``seconds``."""
        try:
            await asyncio.wait_for(self._channel.channel_ready(), seconds)
        except TimeoutError:
            return False
        return True

    async def close(self) -> None:
        """Close the channel."""
        await self._channel.close(None)
