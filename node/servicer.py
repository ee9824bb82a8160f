"""The node's gRPC face: validate, run the search off the event loop, map errors.

Every error leaves as a gRPC status with a message a person can act on:
bad queries and claims as INVALID_ARGUMENT, a disclosure log that cannot be
written as UNAVAILABLE (raised for every search alike, so it says nothing
about whether a record exists).
"""

from __future__ import annotations

import asyncio
import logging
import uuid

import grpc

from fieldgate.core.errors import InvalidRequestError
from fieldgate.core.logs import request_id_var
from fieldgate.core.tls import peer_name
from fieldgate.node.errors import DisclosureLogError
from fieldgate.node.health import NodeHealth
from fieldgate.node.search import AgencyNode
from fieldgate.node.trust_gate import TrustGate
from fieldgate.trust.answers import AnswerSigner, unverified_nonce
from fieldgate.v1 import common_pb2, node_pb2, node_pb2_grpc

log = logging.getLogger("fieldgate.node")

MAX_REQUEST_ID_LENGTH = 64


class AgencyNodeServicer(node_pb2_grpc.AgencyNodeServicer):
    """Serves :class:`node.service.AgencyNode` over gRPC."""

    def __init__(
        self,
        node: AgencyNode,
        gate: TrustGate,
        *,
        allowed_clients: tuple[str, ...] = (),
        health: NodeHealth | None = None,
        signer: AnswerSigner | None = None,
    ) -> None:
        self._node = node
        self._signer = signer
        self._gate = gate
        self._allowed = frozenset(allowed_clients)
        self._health = health

    async def _check_caller(self, context: grpc.aio.ServicerContext[object, object]) -> None:
        """Only the federation's brokers, named by their TLS certificate, may call."""
        if not self._allowed:
            return
        caller = peer_name(context.auth_context())
        if caller not in self._allowed:
            log.warning("call from %r refused: not an allowed client", caller or "(no certificate)")
            await context.abort(
                grpc.StatusCode.PERMISSION_DENIED,
                "this node answers only its federation's brokers",
            )

    async def Search(
        self,
        request: node_pb2.NodeSearchRequest,
        context: grpc.aio.ServicerContext[node_pb2.NodeSearchRequest, node_pb2.NodeSearchResponse],
    ) -> node_pb2.NodeSearchResponse:
        await self._check_caller(context)  # type: ignore[arg-type]
        self._node.count_request()
        request_id = request.request_id or uuid.uuid4().hex
        # Every line logged for this search (here and in the worker thread) carries its id.
        request_id_var.set(request_id[:MAX_REQUEST_ID_LENGTH])
        try:
            if len(request_id) > MAX_REQUEST_ID_LENGTH:
                raise InvalidRequestError(
                    "request_id", f"is longer than {MAX_REQUEST_ID_LENGTH} characters"
                )
            admitted = self._gate.admit(request)
        except InvalidRequestError as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        if admitted is None:
            # Unverifiable: exactly the answer for a person this agency does not hold
            # (signed alike, with the nonce the request claims).
            return self._answer(request, request_id, [])
        try:
            hits = await asyncio.to_thread(
                self._node.search, request_id, admitted.claims, admitted.query
            )
        except DisclosureLogError as exc:
            log.error("disclosure log unavailable; search %s refused: %s", request_id, exc)
            await context.abort(
                grpc.StatusCode.UNAVAILABLE,
                "this node cannot record disclosures right now, so it answers nothing; "
                "try again later or call the agency",
            )
        except Exception:
            # Whatever went wrong, nothing is released and nothing internal is told.
            log.exception("search %s failed; nothing released", request_id)
            await context.abort(
                grpc.StatusCode.INTERNAL, "the node failed to answer; its operator has the details"
            )
        finally:
            if self._health is not None:
                try:
                    await self._health.refresh()
                except Exception:
                    # Health is for probes: its failure must not replace the answer.
                    log.exception("health status could not be refreshed")
        log.info("node %s answered with %d hits", self._node.node_id, len(hits))
        return self._answer(request, request_id, hits)

    def _answer(
        self,
        request: node_pb2.NodeSearchRequest,
        request_id: str,
        hits: list[common_pb2.Hit],
    ) -> node_pb2.NodeSearchResponse:
        """The answer, signed with this node's answer key if it has one."""
        answer = node_pb2.NodeSearchResponse(
            request_id=request_id,
            node_id=self._node.node_id,
            agency_name=self._node.agency_name,
            hits=hits,
        )
        if self._signer is not None:
            answer.answer_signature = self._signer.sign(
                unverified_nonce(request.signed.proof), hits
            )
        return answer

    async def Describe(
        self,
        request: node_pb2.DescribeRequest,
        context: grpc.aio.ServicerContext[node_pb2.DescribeRequest, node_pb2.NodeDescription],
    ) -> node_pb2.NodeDescription:
        await self._check_caller(context)  # type: ignore[arg-type]
        return node_pb2.NodeDescription(
            node_id=self._node.node_id,
            agency_name=self._node.agency_name,
            contact=self._node.contact,
            contract_version=self._node.contract.version,
        )
