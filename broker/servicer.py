"""The broker's gRPC face: check the search, fan it out, return every agency's part.

The broker checks queries and claims with the same rules as the nodes so junk
is refused before any agency is asked, then forwards the requester's messages
unchanged: it never rewrites who is asking, why, or for whom.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid

import grpc

from broker.audit_log import BrokerLogError, BrokerSearchLog, query_digest
from broker.config import BrokerConfig
from broker.fanout import FanOut
from broker.limits import LimitExceeded, Limits
from broker.metrics import UNKNOWN_PURPOSE, BrokerMetrics
from fieldgate.claims import validate_requester
from fieldgate.errors import InvalidRequestError
from fieldgate.logs import request_id_var
from fieldgate.query import validate_query
from fieldgate.trust.verify import SearchVerifier, VerificationError
from fieldgate.v1 import broker_pb2, broker_pb2_grpc

log = logging.getLogger("fieldgate.broker")


class BrokerServicer(broker_pb2_grpc.BrokerServicer):
    """Serves searches across the federation in ``config``."""

    def __init__(
        self,
        config: BrokerConfig,
        fanout: FanOut,
        verifier: SearchVerifier | None,
        search_log: BrokerSearchLog | None = None,
        metrics: BrokerMetrics | None = None,
        limits: Limits | None = None,
    ) -> None:
        self._config = config
        self._limits = limits if limits is not None else Limits(config.limits)
        if metrics is not None:
            metrics.in_flight.set_function(lambda: self._limits.in_flight)
        self._metrics = metrics
        self._search_log = search_log
        self._fanout = fanout
        self._verifier = verifier

    def deadline_for(self, requested: float) -> float:
        """The deadline a search gets: the request's, else the default, capped at the max."""
        if requested != requested or requested < 0:  # NaN or negative
            raise InvalidRequestError("deadline_seconds", "must be a positive number of seconds")
        chosen = requested or self._config.default_deadline_seconds
        return min(chosen, self._config.max_deadline_seconds)

    async def Search(
        self,
        request: broker_pb2.SearchRequest,
        context: grpc.aio.ServicerContext[broker_pb2.SearchRequest, broker_pb2.SearchResponse],
    ) -> broker_pb2.SearchResponse:
        started = time.perf_counter()
        request_id = uuid.uuid4().hex
        # Every line logged for this search carries its id; each node logs the same id.
        request_id_var.set(request_id)
        requester, query = request.requester, request.query
        credential_id = ""
        if self._verifier is not None:
            try:
                verified = self._verifier.verify(
                    request.signed,
                    unsigned_requester=requester if request.HasField("requester") else None,
                    unsigned_query=query if request.HasField("query") else None,
                )
            except VerificationError as exc:
                log.warning("search refused: %s", exc)
                if self._metrics is not None:
                    self._metrics.rejected_search(
                        UNKNOWN_PURPOSE, exc.reason, time.perf_counter() - started
                    )
                await context.abort(
                    grpc.StatusCode.UNAUTHENTICATED,
                    f"search refused ({exc.reason}): {exc.detail}",
                )
            requester, query = verified.requester, verified.query
            credential_id = verified.credential_id
        try:
            validate_requester(requester)
            validated_query = validate_query(query)
            deadline = self.deadline_for(request.deadline_seconds)
        except InvalidRequestError as exc:
            if self._metrics is not None:
                reason = (
                    "invalid_deadline" if exc.field == "deadline_seconds" else "invalid_request"
                )
                self._metrics.rejected_search(
                    requester.purpose, reason, time.perf_counter() - started
                )
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        # Limits apply to the verified requester, before any agency is asked;
        # over one the search is refused at once, never queued.
        who = Limits.requester_key(requester.agency, requester.subject, credential_id)
        try:
            self._limits.admit(who, requester.agency, query_digest(validated_query))
            with self._limits.running(who):
                # Forward what the client sent, untouched: nodes verify the signed search.
                results = await self._fanout.search(
                    request_id,
                    request.requester,
                    request.query,
                    request.signed if request.HasField("signed") else None,
                    deadline,
                )
        except LimitExceeded as exc:
            log.warning("search refused (%s): %s", exc.reason, exc.message)
            if self._metrics is not None:
                self._metrics.rejected_search(
                    requester.purpose, exc.reason, time.perf_counter() - started
                )
            await context.abort(
                grpc.StatusCode.RESOURCE_EXHAUSTED, f"search refused ({exc.reason}): {exc.message}"
            )
        log.info(
            "search %s by %s/%s for %s: %s",
            request_id,
            requester.agency,
            requester.subject,
            requester.purpose,
            ", ".join(
                f"{r.node_id}={broker_pb2.NodeStatus.Name(r.status)}:{len(r.hits)}" for r in results
            ),
        )
        if self._search_log is not None:
            try:
                await asyncio.to_thread(
                    self._search_log.write,
                    request_id,
                    requester,
                    validated_query,
                    results,
                    credential_id,
                )
            except BrokerLogError as exc:
                # The nodes logged their disclosures before answering; the
                # broker's traffic log failing must be seen, not hidden.
                log.error("broker search log unavailable for search %s: %s", request_id, exc)
        if self._metrics is not None:
            self._metrics.search_done(requester.purpose, results, time.perf_counter() - started)
        return broker_pb2.SearchResponse(request_id=request_id, results=results)

    async def ListNodes(
        self,
        request: broker_pb2.ListNodesRequest,
        context: grpc.aio.ServicerContext[
            broker_pb2.ListNodesRequest, broker_pb2.ListNodesResponse
        ],
    ) -> broker_pb2.ListNodesResponse:
        return broker_pb2.ListNodesResponse(
            nodes=[
                broker_pb2.RegisteredNode(
                    node_id=n.node_id, agency_name=n.agency_name, address=n.address
                )
                for n in self._config.nodes
            ]
        )
