"""Where a node decides whom it is talking to: verified claims or, in development, stated ones.

A node with a trust bundle takes the requester's claims and the query only
from a signed search it has verified itself; anything that fails verification
gets the same answer as a search for a person the agency does not hold, and
the reason goes to the node's log and counters, never to the requester. A node
started with ``insecure = true`` and no trust bundle takes claims as stated
and says so loudly at start-up.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, replace

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from fieldgate.core.claims import RequesterClaims, validate_requester
from fieldgate.core.query import PersonQuery, validate_query
from fieldgate.node.metrics import NodeMetrics
from fieldgate.trust.verify import SearchVerifier, VerificationError
from fieldgate.v2 import node_pb2

log = logging.getLogger("fieldgate.node")


@dataclass(frozen=True)
class Admitted:
    """A request the node will answer: its claims and query."""

    claims: RequesterClaims
    query: PersonQuery
    answer_key: X25519PublicKey | None = None
    """The requester's X25519 key from the verified credential; the answer is sealed to it."""
    nonce: str = ""
    """The verified proof's nonce, which the signed answer is bound to (read once, here)."""


class TrustGate:
    """Turns a wire request into claims and a query the node may act on."""

    def __init__(
        self,
        verifier: SearchVerifier | None,
        metrics: NodeMetrics | None = None,
        *,
        node_id: str = "",
        enc_key: X25519PrivateKey | None = None,
    ) -> None:
        """Verify with ``verifier`` (None: insecure); only searches addressed to ``node_id``.

        ``enc_key`` is this node's X25519 key, which opens the query sealed to it;
        without one every signed search is refused (``unsealable``).
        """
        self.verifier = verifier
        self.node_id = node_id
        self._enc_key = enc_key
        """This node's id: a signed search must name it in its audience."""
        self.refused: Counter[str] = Counter()
        """Verification failures by reason (a bounded set: see ``REASONS``)."""
        self.metrics = metrics
        """Where failures are also counted for Prometheus, if anywhere."""
        self.last_refusal = ""
        """The reason of the latest refusal (read by the servicer, on the same event loop,
        right after :meth:`admit` returned None)."""

    def admit(self, request: node_pb2.NodeServiceSearchRequest) -> Admitted | None:
        """Verified claims and query, or None when the request must get a not-found answer.

        Raises:
            fieldgate.core.errors.InvalidRequestError: the (verified) query or claims are malformed.
        """
        if self.verifier is None:
            return Admitted(validate_requester(request.requester), validate_query(request.query))
        if not request.HasField("signed"):
            self._refuse(request.request_id, VerificationError("unsigned", "no signed search"))
            return None
        if request.HasField("requester") or request.HasField("query"):
            # Development fields at a node that verifies: never taken, never mixed.
            self._refuse(
                request.request_id,
                VerificationError("clear_fields", "a clear requester or query was sent"),
            )
            return None
        try:
            verified = self.verifier.verify(
                request.signed, node_id=self.node_id, enc_key=self._enc_key
            )
        except VerificationError as exc:
            self._refuse(request.request_id, exc)
            return None
        if verified.query is None:  # verify() opens the query whenever node_id is given
            self._refuse(request.request_id, VerificationError("unsealable", "no query opened"))
            return None
        claims = replace(
            validate_requester(verified.requester),
            credential_id=verified.credential_id,
            issuer=verified.issuer,
            allowed_purposes=verified.allowed_purposes,
        )
        return Admitted(claims, validate_query(verified.query), verified.answer_key, verified.nonce)

    def _refuse(self, request_id: str, exc: VerificationError) -> None:
        self.last_refusal = exc.reason
        self.refused[exc.reason] += 1
        if self.metrics is not None:
            self.metrics.verification_failed(exc.reason)
        log.warning("search %.64s refused, answered as not found: %.300s", request_id, exc)
