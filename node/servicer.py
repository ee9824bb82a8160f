"""The node's gRPC face: validate, run the search off the event loop, map errors.

Every error leaves as a gRPC status with a message a person can act on,
chosen in one place, :mod:`fieldgate.node.status`: bad queries and claims as
INVALID_ARGUMENT, a disclosure log that cannot be written as UNAVAILABLE
(raised for every search alike, so it says nothing about whether a record
exists). A node that cannot decide at all (no contract, stale or missing
trust data, a halted audit log) signs ``not_answering`` with its reason
(:mod:`fieldgate.node.readiness`) in the answer sealed to the requester, the
same for every search, never "0 hits"; the broker cannot read or forge it.
"""

from __future__ import annotations

import asyncio
import logging
import uuid

import grpc
import jwt
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey

from fieldgate.core.certs import caller_admitted, peer_roles
from fieldgate.core.errors import InvalidRequestError
from fieldgate.core.identifiers import MAX_REQUEST_ID_LENGTH, validate_request_id
from fieldgate.core.logs import request_id_var
from fieldgate.core.request_shape import check_search_shape
from fieldgate.core.tls import peer_name
from fieldgate.node.audit_budget import AuditBudget, AuditBudgetExceeded
from fieldgate.node.errors import DisclosureLogError
from fieldgate.node.health import NodeHealth
from fieldgate.node.limits import NodeLimitExceeded
from fieldgate.node.readiness import not_answering_reason
from fieldgate.node.request_ids import DuplicateRequestId
from fieldgate.node.search import AgencyNode
from fieldgate.node.status import CALLER_NOT_ALLOWED, abort, not_answering_status, status_for
from fieldgate.node.trust_gate import TrustGate
from fieldgate.trust.answers import ANSWERED, NOT_ANSWERING, AnswerSigner, unverified_nonce
from fieldgate.trust.keys import enc_key_from_jwk
from fieldgate.v2 import common_pb2, node_pb2, node_pb2_grpc

log = logging.getLogger("fieldgate.node")


class NodeServicer(node_pb2_grpc.NodeServiceServicer):
    """Serves :class:`fieldgate.node.search.AgencyNode` over gRPC."""

    def __init__(
        self,
        node: AgencyNode,
        gate: TrustGate,
        *,
        allowed_clients: tuple[str, ...] = (),
        health: NodeHealth | None = None,
        budget: AuditBudget | None = None,
        signer: AnswerSigner | None = None,
    ) -> None:
        self._node = node
        self._budget = budget
        self._signer = signer
        self._gate = gate
        self._allowed = frozenset(allowed_clients)
        self._health = health

    async def _check_caller(self, context: grpc.aio.ServicerContext[object, object]) -> None:
        """Only the federation's brokers, by their certificate's role and name, may call."""
        roles = peer_roles(context.auth_context())
        if not caller_admitted("node", roles):
            # The CA bound another role in the caller's certificate (an investigator's).
            log.warning("call with certificate roles %s refused: not a broker", sorted(roles or ()))
            await abort(context, CALLER_NOT_ALLOWED)
        if not self._allowed:
            return
        caller = peer_name(context.auth_context())
        if caller not in self._allowed:
            log.warning("call from %r refused: not an allowed client", caller or "(no certificate)")
            await abort(context, CALLER_NOT_ALLOWED)

    async def Search(
        self,
        request: node_pb2.NodeServiceSearchRequest,
        context: grpc.aio.ServicerContext[
            node_pb2.NodeServiceSearchRequest, node_pb2.NodeServiceSearchResponse
        ],
    ) -> node_pb2.NodeServiceSearchResponse:
        await self._check_caller(context)  # type: ignore[arg-type]
        self._node.count_request()
        request_id = request.request_id or uuid.uuid4().hex
        # Every line logged for this search (here and in the worker thread) carries its id.
        # (repr'd until validated: a raw id could forge log lines)
        request_id_var.set(repr(request_id[:MAX_REQUEST_ID_LENGTH]))
        try:
            validate_request_id(request_id)
            request_id_var.set(request_id)
            # Sizes, counts and token shapes before any signature or nonce is spent.
            check_search_shape(
                request.requester if request.HasField("requester") else None,
                request.query if request.HasField("query") else None,
                request.signed if request.HasField("signed") else None,
            )
            # Inline, not in a worker thread: a few stat calls (~6 µs, bench/readiness_cost.py).
            reason = self._not_answering()
            if reason:
                # The node's state, the same for every search: says nothing about anyone.
                self._node.metrics.not_answering(reason)
                log.warning("search %s not answered: %s", request_id, reason)
                if self._gate.verifier is None:
                    # A development node has no signed answer to carry the reason:
                    # an error status, never "0 hits".
                    await abort(context, not_answering_status(reason))
                # Sealed to the key the credential claims: no hits, only the node's state.
                return self._refusal(request, request_id, reason)
            admitted = self._gate.admit(request)
        except InvalidRequestError as exc:
            await abort(context, status_for(exc))
        if admitted is None:
            # Unverifiable: exactly the answer for a person this agency does not hold
            # (signed and sealed alike, with the nonce and key the request claims) —
            # unless the node's own trust files are unusable: that is the same for every
            # search at this time, never person-dependent, so the node says it cannot
            # answer rather than let "no record" be read.
            reason = ""
            if self._gate.last_refusal == "trust_unavailable":
                # The reason as node.readiness words it (stale or missing trust data).
                reason = self._not_answering() or "trust_unavailable"
                self._node.metrics.not_answering(reason)
            return self._refusal(request, request_id, reason)
        if self._budget is not None:
            try:
                # Before any record is looked at: a spent requester causes no more audit.
                self._budget.admit(admitted.claims)
            except AuditBudgetExceeded as exc:
                if exc.first:
                    # Once per budget and window, so the refusals cannot fill the log either.
                    await asyncio.to_thread(self._budget.record_refusal, exc)
                await abort(context, status_for(exc))
        try:
            hits = await asyncio.to_thread(
                self._node.search, request_id, admitted.claims, admitted.query
            )
        except DuplicateRequestId as exc:
            # The broker's ids decided this; no record was looked at and nothing was written.
            log.warning("search %s refused: %s", request_id, exc)
            await abort(context, status_for(exc))
        except NodeLimitExceeded as exc:
            # The requester's own history decided this, never the store.
            log.warning("search %s refused (%s): %s", request_id, exc.reason, exc.message)
            await abort(context, status_for(exc))
        except DisclosureLogError as exc:
            log.error("disclosure log unavailable; search %s refused: %s", request_id, exc)
            await abort(context, status_for(exc))
        except Exception as exc:
            # Whatever went wrong, nothing is released and nothing internal is told.
            log.exception("search %s failed; nothing released", request_id)
            await abort(context, status_for(exc))
        finally:
            if self._health is not None:
                try:
                    await self._health.refresh()
                except Exception:
                    # Health is for probes: its failure must not replace the answer.
                    log.exception("health status could not be refreshed")
        log.info("node %s answered with %d hits", self._node.node_id, len(hits))
        return self._answer(request, request_id, hits, admitted.answer_key, admitted.nonce)

    def _not_answering(self) -> str:
        """Why this node cannot decide any search now ("" when it can)."""
        verifier = self._gate.verifier
        return not_answering_reason(self._node, verifier.trust if verifier else None)

    def _refusal(
        self, request: node_pb2.NodeServiceSearchRequest, request_id: str, reason: str
    ) -> node_pb2.NodeServiceSearchResponse:
        """No hits (``not_answering`` with ``reason`` when one is given), sealed alike:
        with the nonce and to the key the unverified request claims."""
        return self._answer(
            request,
            request_id,
            [],
            _claimed_answer_key(request),
            unverified_nonce(request.signed.proof),
            reason=reason,
        )

    def _answer(
        self,
        request: node_pb2.NodeServiceSearchRequest,
        request_id: str,
        hits: list[common_pb2.Hit],
        recipient: X25519PublicKey | None,
        nonce: str,
        *,
        reason: str = "",
    ) -> node_pb2.NodeServiceSearchResponse:
        """The answer: in the clear from an insecure node, else signed and sealed
        (``not_answering`` with ``reason`` when one is given).

        A verifying node with no answer key, or a requester with no ``enc``
        key, gets an empty sealed answer: the client shows it as failed
        verification, never as data or "no record".
        """
        answer = node_pb2.NodeServiceSearchResponse(
            request_id=request_id, node_id=self._node.node_id
        )
        if self._gate.verifier is None:
            answer.hits.extend(hits)
            return answer
        if self._signer is not None and recipient is not None:
            answer.answer.CopyFrom(
                self._signer.seal(
                    recipient=recipient,
                    nonce=nonce,
                    proof=request.signed.proof,
                    hits=hits,
                    status=NOT_ANSWERING if reason else ANSWERED,
                    reason=reason,
                )
            )
        else:
            answer.answer.SetInParent()
        return answer

    async def Describe(
        self,
        request: node_pb2.DescribeRequest,
        context: grpc.aio.ServicerContext[node_pb2.DescribeRequest, node_pb2.DescribeResponse],
    ) -> node_pb2.DescribeResponse:
        await self._check_caller(context)  # type: ignore[arg-type]
        return node_pb2.DescribeResponse(
            node_id=self._node.node_id,
            agency_name=self._node.agency_name,
            contact=self._node.contact,
            contract_version=self._node.contract.version,
        )


def _claimed_answer_key(request: node_pb2.NodeServiceSearchRequest) -> X25519PublicKey | None:
    """The ``enc`` key a refused search's credential names, read without verifying it.

    Sealing zero hits to whatever key is claimed discloses nothing, and keeps a
    refusal the same shape as an absent person's answer.
    """
    if not request.signed.credential:
        return None
    try:
        claims = jwt.decode(request.signed.credential, options={"verify_signature": False})
        return enc_key_from_jwk(claims.get("enc") if isinstance(claims, dict) else None)
    except (jwt.InvalidTokenError, ValueError):
        return None
