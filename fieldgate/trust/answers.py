"""Signed answers: each node signs what it released, the client checks every one.

A node signs each answer (hits or none) with its own Ed25519 key as a compact
JWS (``typ`` ``fieldgate-answer+jwt``, EdDSA) whose payload is::

    {"node": "<node id>",            # who answers: a swapped answer fails
     "nonce": "<the proof's nonce>", # which search: a replayed answer fails
     "iat": <epoch seconds>,         # when: an old answer fails
     "hits": "<SHA-256 hex>",        # what: over the deterministic protobuf
                                     # encoding of NodeSearchResponse{hits}
     "reason": "<why not answering>"} # only when the node could not decide
                                     # (NodeSearchResponse.not_answering_reason)

The node's public key is published in the trust bundle (``nodes``). The
client verifies every answer the broker relays against that key, its own
search's nonce and the agency the broker says answered; anything else —
unsigned, forged, altered, swapped between agencies or replayed — is a
"failed verification" for that agency, never data and never "no record".
The not-answering reason is signed too: a broker cannot strip it to make
"this agency could not answer" read as "no record", nor add one.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Mapping, Sequence

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from fieldgate.core.errors import FieldgateError
from fieldgate.v1 import common_pb2, node_pb2

ANSWER_TYPE = "fieldgate-answer+jwt"
ALGORITHM = "EdDSA"

ANSWER_REASONS = (
    "unsigned",
    "unknown_node",
    "malformed",
    "signature",
    "wrong_node",
    "wrong_search",
    "stale",
    "altered",
)
"""Every reason an answer can fail verification (bounded, for counters)."""


class AnswerVerificationError(FieldgateError):
    """An answer that does not verify.

    Attributes:
        reason: one of :data:`ANSWER_REASONS`.
    """

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason


def hits_digest(hits: Sequence[common_pb2.Hit]) -> str:
    """SHA-256 (hex) of the deterministic encoding of ``NodeSearchResponse{hits}``."""
    wrapper = node_pb2.NodeSearchResponse(hits=list(hits))
    return hashlib.sha256(wrapper.SerializeToString(deterministic=True)).hexdigest()


def unverified_nonce(proof: str) -> str:
    """The nonce a proof names, read without checking it ("" if unreadable).

    A node signs even the answers to searches it refused (with the nonce they
    claim), so a refusal has exactly the shape of an absent person's answer.
    """
    try:
        claims = jwt.decode(proof, options={"verify_signature": False})
    except jwt.InvalidTokenError:
        return ""
    nonce = claims.get("nonce", "") if isinstance(claims, dict) else ""
    return nonce if isinstance(nonce, str) else ""


class AnswerSigner:
    """A node's answer key."""

    def __init__(
        self,
        node_id: str,
        key: Ed25519PrivateKey,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        """Sign as ``node_id`` with ``key``."""
        self.node_id = node_id
        self._key = key
        self._clock = clock

    def sign(self, nonce: str, hits: Sequence[common_pb2.Hit], reason: str = "") -> str:
        """The signature over this answer to the search with ``nonce``.

        ``reason`` is the node's not-answering reason ("" for an answer).
        """
        payload: dict[str, object] = {
            "node": self.node_id,
            "nonce": nonce,
            # Whole seconds: every answer's signature has the same length.
            "iat": int(self._clock().timestamp()),
            "hits": hits_digest(hits),
        }
        if reason:
            payload["reason"] = reason
        return jwt.encode(payload, self._key, algorithm=ALGORITHM, headers={"typ": ANSWER_TYPE})


def verify_answer(
    signature: str,
    *,
    node_id: str,
    nonce: str,
    hits: Sequence[common_pb2.Hit],
    node_keys: Mapping[str, Ed25519PublicKey],
    now: dt.datetime,
    skew_seconds: float = 60.0,
    max_age_seconds: float = 120.0,
    reason: str = "",
) -> None:
    """Check one relayed answer; see the module docstring.

    Args:
        signature: the answer's JWS as relayed.
        node_id: the agency the broker says answered.
        nonce: the nonce of the requester's own proof.
        hits: the hits as relayed.
        node_keys: node id → its answer key, from the trust bundle.
        now: the client's clock.
        skew_seconds: tolerance for a node clock running ahead.
        max_age_seconds: oldest answer accepted (the search's deadline and skew).
        reason: the not-answering reason as relayed ("" for an answer).

    Raises:
        AnswerVerificationError: naming the first check that failed.
    """
    if not signature:
        raise AnswerVerificationError("unsigned", f"{node_id} sent no signature")
    key = node_keys.get(node_id)
    if key is None:
        raise AnswerVerificationError("unknown_node", f"no answer key for {node_id!r}")
    try:
        header = jwt.get_unverified_header(signature)
    except jwt.InvalidTokenError as exc:
        raise AnswerVerificationError("malformed", str(exc)) from None
    if header.get("typ") != ANSWER_TYPE or header.get("alg") != ALGORITHM:
        raise AnswerVerificationError("malformed", f"not a {ANSWER_TYPE} signed with {ALGORITHM}")
    try:
        claims = jwt.decode(
            signature,
            key,
            algorithms=[ALGORITHM],
            options={"require": ["iat"], "verify_iat": False},
        )
    except jwt.InvalidSignatureError:
        raise AnswerVerificationError("signature", f"not signed by {node_id}'s key") from None
    except jwt.InvalidTokenError as exc:
        raise AnswerVerificationError("malformed", str(exc)) from None
    if claims.get("node") != node_id:
        raise AnswerVerificationError("wrong_node", f"answer of {claims.get('node')!r}")
    if claims.get("nonce") != nonce:
        raise AnswerVerificationError("wrong_search", "answer to another search")
    iat = claims["iat"]
    age = now.timestamp() - iat if isinstance(iat, int | float) else None
    if age is None or age > max_age_seconds or age < -skew_seconds:
        raise AnswerVerificationError("stale", f"answer time {iat} is not this search's")
    if claims.get("hits") != hits_digest(hits):
        raise AnswerVerificationError("altered", "hits differ from those the node signed")
    if claims.get("reason", "") != reason:
        raise AnswerVerificationError("altered", "not-answering reason differs from the signed one")
