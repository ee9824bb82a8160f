"""The broker's gRPC face: check the search, fan it out, return every agency's part.

The broker checks queries and claims with the same rules as the nodes so junk
is refused before any agency is asked, then forwards the requester's messages
unchanged: it never rewrites who is asking, why, or for whom.

``Search`` answers once every agency has ended; ``SearchStream`` sends each
agency's result as it ends. Both pass the same admission (verification,
validation, limits) and the same run (concurrency slot, fan-out, broker log,
metrics); the stream only watches the results go by.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, NoReturn

import grpc

from fieldgate.broker.audit_log import BrokerLogError, BrokerSearchLog
from fieldgate.broker.config import BrokerConfig
from fieldgate.broker.errors import LimitExceeded
from fieldgate.broker.fanout import FanOut
from fieldgate.broker.limits import Limits
from fieldgate.broker.metrics import UNKNOWN_PURPOSE, BrokerMetrics
from fieldgate.broker.request_checks import forget_nonce, refuse_misshapen
from fieldgate.broker.status import CALLER_ROLE_REFUSED, abort, status_for
from fieldgate.broker.straggler import AgencyOutcome
from fieldgate.core.certs import caller_admitted, peer_roles
from fieldgate.core.claims import validate_requester
from fieldgate.core.errors import InvalidRequestError
from fieldgate.core.logs import request_id_var
from fieldgate.core.query import PersonQuery, query_digest, validate_query
from fieldgate.trust.verify import SearchVerifier, VerificationError, VerifiedSearch
from fieldgate.v2 import broker_pb2, broker_pb2_grpc, common_pb2

log = logging.getLogger("fieldgate.broker")


@dataclass(frozen=True)
class _Admitted:
    """A search that passed verification, validation and the rate limits."""

    request_id: str
    requester: common_pb2.Requester
    query: PersonQuery | None
    """The clear query of a development search; None when sealed (the broker cannot read it)."""
    credential_id: str
    deadline: float
    who: str
    started: float
    verified: VerifiedSearch | None = None
    """The verified signed search, whose nonce a refusal gives back."""
    audience: tuple[str, ...] | None = None
    """The node ids the signed search is addressed to; None (unsigned, insecure): every node."""


class BrokerServicer(broker_pb2_grpc.BrokerServiceServicer):
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
        search = await self._admit(request, context)
        try:
            results = await self._run(search, request)
        except LimitExceeded as exc:
            await self._refuse(context, search, exc)
        return broker_pb2.SearchResponse(request_id=search.request_id, results=results)

    async def SearchStream(
        self,
        stream_request: broker_pb2.SearchStreamRequest,
        context: grpc.aio.ServicerContext[
            broker_pb2.SearchStreamRequest, broker_pb2.SearchStreamResponse
        ],
    ) -> AsyncIterator[broker_pb2.SearchStreamResponse]:
        request = stream_request.search
        search = await self._admit(request, context)
        events: asyncio.Queue[broker_pb2.SearchStreamResponse | None] = asyncio.Queue()
        agencies = [
            # No address: no requester sees a node's internal address (issue 16).
            broker_pb2.RegisteredNode(node_id=a.entry.node_id, agency_name=a.entry.agency_name)
            for a in self._fanout.addressed(search.audience)
        ]

        def started() -> None:
            events.put_nowait(
                broker_pb2.SearchStreamResponse(
                    started=broker_pb2.SearchStarted(
                        request_id=search.request_id, agencies=agencies
                    )
                )
            )

        def ended(result: broker_pb2.AgencyResult) -> None:
            events.put_nowait(broker_pb2.SearchStreamResponse(agency=result))

        # The search runs as its own task so each agency's event can leave while
        # the others are still being asked; the queue ends with None.
        run = asyncio.create_task(self._run(search, request, started, ended))
        run.add_done_callback(lambda _: events.put_nowait(None))
        try:
            while (event := await events.get()) is not None:
                yield event
            results = run.result()
        except LimitExceeded as exc:
            # Only ever raised before the first event (see _run).
            await self._refuse(context, search, exc)
        finally:
            if not run.done():
                # The requester went away (Ctrl-C): stop asking; _run logs what was asked.
                run.cancel()
                await asyncio.wait({run})
        answered = sum(r.status == broker_pb2.NODE_STATUS_ANSWERED for r in results)
        yield broker_pb2.SearchStreamResponse(
            summary=broker_pb2.SearchSummary(
                request_id=search.request_id,
                agencies=len(results),
                answered=answered,
                failed=len(results) - answered,
                hits=sum(len(r.hits) for r in results),
            )
        )

    async def _admit(
        self, request: broker_pb2.SearchRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> _Admitted:
        """Verify, validate and rate-limit a search, or refuse it (the call ends)."""
        started = time.perf_counter()
        if not caller_admitted("broker", peer_roles(context.auth_context())):
            # The role the CA bound in the caller's certificate: a node or witness never searches.
            log.warning("search refused: the caller's certificate role is not investigator")
            await abort(context, CALLER_ROLE_REFUSED)
        request_id = uuid.uuid4().hex
        # Every line logged for this search carries its id; each node logs the same id.
        request_id_var.set(request_id)
        requester = request.requester
        query: PersonQuery | None = None
        credential_id = ""
        # Sizes, counts and token shapes first: junk costs no signature check,
        # no limit and no nonce memory.
        await refuse_misshapen(request, context, self._metrics, started)
        verified = None
        audience: tuple[str, ...] | None = None
        digest = ""
        if self._verifier is not None:
            try:
                if request.HasField("requester") or request.HasField("query"):
                    # Development fields beside a signed search: never read, never forwarded.
                    raise VerificationError("clear_fields", "a clear requester or query was sent")
                verified = self._verifier.verify(request.signed)
            except VerificationError as exc:
                log.warning("search refused: %.300s", exc)
                if self._metrics is not None:
                    self._metrics.rejected_search(
                        UNKNOWN_PURPOSE, exc.reason, time.perf_counter() - started
                    )
                await abort(context, status_for(exc))
            requester = verified.requester
            credential_id = verified.credential_id
            audience = verified.audience
            # The broker's only handle on a sealed query: its salted commitment.
            digest = f"sealed:{verified.sealed}"
        try:
            validate_requester(requester)
            if verified is None:
                query = validate_query(request.query)
                digest = query_digest(query)
            deadline = self.deadline_for(request.deadline_seconds)
            if verified is not None:
                self._check_audience(verified, request.signed)
        except InvalidRequestError as exc:
            if self._metrics is not None:
                reason = (
                    "invalid_deadline" if exc.field == "deadline_seconds" else "invalid_request"
                )
                self._metrics.rejected_search(
                    requester.purpose, reason, time.perf_counter() - started
                )
            forget_nonce(self._verifier, verified)
            await abort(context, status_for(exc))
        search = _Admitted(
            request_id=request_id,
            requester=requester,
            query=query,
            credential_id=credential_id,
            deadline=deadline,
            who=Limits.requester_key(requester.agency, requester.subject, credential_id),
            started=started,
            verified=verified,
            audience=audience,
        )
        # Limits apply to the verified requester, before any agency is asked;
        # over one the search is refused at once, never queued.
        try:
            self._limits.admit(search.who, requester.agency, digest)
        except LimitExceeded as exc:
            await self._refuse(context, search, exc)
        return search

    def _check_audience(self, verified: VerifiedSearch, signed: common_pb2.SignedSearch) -> None:
        """Every addressed node must be one this broker routes to, every key one addressed.

        The broker cannot read a content key; it checks only that each query
        key names a node the signed audience addresses (at most one per node is
        the shape check's), so it forwards no key a node was not meant to get.

        Raises:
            InvalidRequestError: naming the node ids it does not know, or a key
                for a node outside the audience.
        """
        known = {a.entry.node_id for a in self._fanout.agencies}
        unknown = sorted(set(verified.audience) - known)
        if unknown:
            raise InvalidRequestError(
                "audience",
                f"names {len(unknown)} nodes this broker does not route to: "
                f"{', '.join(unknown[:20])}",
            )
        addressed = set(verified.audience)
        stray = [k.node_id for k in signed.keys if k.node_id not in addressed]
        if stray:
            raise InvalidRequestError(
                "signed.keys", f"carries keys for nodes the proof does not address: {stray[:20]}"
            )

    async def _refuse(
        self, context: grpc.aio.ServicerContext[Any, Any], search: _Admitted, exc: LimitExceeded
    ) -> NoReturn:
        # No agency was asked: the proof was never used, so an honest retry must pass.
        forget_nonce(self._verifier, search.verified)
        log.warning("search refused (%s): %s", exc.reason, exc.message)
        if self._metrics is not None:
            self._metrics.rejected_search(
                search.requester.purpose, exc.reason, time.perf_counter() - search.started
            )
        await abort(context, status_for(exc))

    async def _run(
        self,
        search: _Admitted,
        request: broker_pb2.SearchRequest,
        on_start: Callable[[], None] | None = None,
        on_result: Callable[[broker_pb2.AgencyResult], None] | None = None,
    ) -> list[broker_pb2.AgencyResult]:
        """Fan an admitted search out, log it and count it; every result in configured order.

        ``on_start`` is called once the search holds its concurrency slot, just
        before the agencies are asked; ``on_result`` with each agency's result
        as it ends.

        Raises:
            LimitExceeded: no concurrency slot is free (before ``on_start``).
        """
        ended: dict[str, AgencyOutcome] = {}

        def record(outcome: AgencyOutcome) -> None:
            ended[outcome.result.node_id] = outcome
            if on_result is not None:
                on_result(outcome.result)

        with self._limits.running(search.who):
            if on_start is not None:
                on_start()
            try:
                # Forward what the client sent, untouched: nodes verify the signed search.
                outcomes = await self._fanout.search(
                    search.request_id,
                    request.requester if search.verified is None else None,
                    request.query if search.verified is None else None,
                    request.signed if search.verified is not None else None,
                    search.deadline,
                    record,
                    search.audience,
                )
            except asyncio.CancelledError:
                # Every agency was asked and may have logged the search: so does the broker.
                asked = [
                    ended.get(a.entry.node_id)
                    or AgencyOutcome(
                        broker_pb2.AgencyResult(
                            node_id=a.entry.node_id,
                            agency_name=a.entry.agency_name,
                            detail="the requester cancelled the search before this agency ended",
                        ),
                        (a.entry.address,),
                        "",
                    )
                    for a in self._fanout.addressed(search.audience)
                ]
                await asyncio.shield(self._finish(search, asked, cancelled=True))
                raise
        await self._finish(search, outcomes)
        return [o.result for o in outcomes]

    async def _finish(
        self, search: _Admitted, outcomes: list[AgencyOutcome], *, cancelled: bool = False
    ) -> None:
        """Log a fanned-out search (log line and broker search log) and count it."""
        results = [o.result for o in outcomes]
        requester = search.requester
        log.info(
            "search %s by %s/%s for %s%s: %s",
            search.request_id,
            requester.agency,
            requester.subject,
            requester.purpose,
            " (cancelled by the requester)" if cancelled else "",
            ", ".join(
                f"{r.node_id}={broker_pb2.NodeStatus.Name(r.status)}"
                + (f":{len(r.answer.ciphertext)}B" if r.HasField("answer") else f":{len(r.hits)}")
                for r in results
            ),
        )
        if self._search_log is not None:
            hedged = {
                o.result.node_id: (o.asked, o.answered_by) for o in outcomes if len(o.asked) > 1
            }
            try:
                await asyncio.to_thread(
                    self._search_log.write,
                    search.request_id,
                    requester,
                    search.query,
                    results,
                    search.credential_id,
                    hedged,
                    search.verified.sealed if search.verified is not None else "",
                )
            except BrokerLogError as exc:
                # The nodes logged their disclosures before answering; the
                # broker's traffic log failing must be seen, not hidden.
                log.error("broker search log unavailable for search %s: %s", search.request_id, exc)
        if self._metrics is not None:
            if cancelled:
                self._metrics.search_cancelled(requester.purpose)
            else:
                self._metrics.search_done(
                    requester.purpose, results, time.perf_counter() - search.started
                )

    async def ListNodes(
        self,
        request: broker_pb2.ListNodesRequest,
        context: grpc.aio.ServicerContext[
            broker_pb2.ListNodesRequest, broker_pb2.ListNodesResponse
        ],
    ) -> broker_pb2.ListNodesResponse:
        return broker_pb2.ListNodesResponse(
            nodes=[
                # No address: operators read them from the broker's config, never requesters.
                broker_pb2.RegisteredNode(node_id=n.node_id, agency_name=n.agency_name)
                for n in self._config.nodes
            ]
        )
