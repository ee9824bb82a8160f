"""Signed, sealed answers: each node signs its answer and seals it to the requester.

A node signs every answer (hits or none, and every refusal alike) with its own
Ed25519 key as a compact JWS (``typ`` ``fieldgate-answer+jwt``, EdDSA) whose
payload is::

    {"v": 2,
     "node": "<node id>",            # who answers: a swapped answer fails
     "nonce": "<the proof's nonce>", # which search: a replayed answer fails
     "req": "<b64url SHA-256 of the proof JWS>",
     "iat": <epoch seconds>,         # when: an old answer fails
     "status": "answered" | "not_answering",
     "reason": "" | "<bounded reason, the same for every search at that time>",
     "hits": [<Hit in proto3 JSON, original field names>]}

then pads the JWS to an answer bucket and seals it with HPKE to the X25519
key the requester's credential names (``enc``), ``info`` =
``"fieldgate/v2 answer " + node_id``, ``aad`` = the nonce
(:mod:`fieldgate.trust.sealing`). The broker relays bytes it can neither read
nor alter unseen, and whose size says nothing about whether there were hits.

The client opens and verifies every answer (:func:`open_answer`); anything
else — unsealable, unsigned, forged, altered, swapped between agencies or
replayed — is a "failed verification" for that agency, never data and never
"no record".
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from google.protobuf import json_format

from fieldgate.core.errors import FieldgateError
from fieldgate.trust.proto_json import message_dict
from fieldgate.trust.sealed_search import PROTOCOL_VERSION, proof_digest
from fieldgate.trust.sealing import (
    ANSWER_BUCKETS,
    SealingError,
    answer_info,
    open_padded,
    seal_padded,
)
from fieldgate.v2 import common_pb2

ANSWER_TYPE = "fieldgate-answer+jwt"
ALGORITHM = "EdDSA"

ANSWERED = "answered"
NOT_ANSWERING = "not_answering"

ANSWER_REASONS = (
    "unsealable",
    "unknown_node",
    "malformed",
    "signature",
    "wrong_node",
    "wrong_search",
    "stale",
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


def unverified_claim(proof: str, name: str) -> str:
    """A string claim of a proof, read without checking it ("" if unreadable).

    A node seals even the answers to searches it refused (with the nonce they
    claim), so a refusal has exactly the shape of an absent person's answer.
    """
    try:
        claims = jwt.decode(proof, options={"verify_signature": False})
    except jwt.InvalidTokenError:
        return ""
    value = claims.get(name, "") if isinstance(claims, dict) else ""
    return value if isinstance(value, str) else ""


def unverified_nonce(proof: str) -> str:
    """The nonce a proof names, read without checking it ("" if unreadable)."""
    return unverified_claim(proof, "nonce")


def hit_json(hit: common_pb2.Hit) -> dict[str, object]:
    """One hit in the proto3 JSON mapping with the .proto field names
    (:func:`fieldgate.trust.proto_json.message_dict`: ``MessageToDict``'s dict, faster)."""
    return message_dict(hit)


class AnswerSigner:
    """A node's answer key: signs and seals its answers."""

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

    def sign(
        self,
        *,
        nonce: str,
        proof: str,
        hits: Sequence[common_pb2.Hit],
        status: str = ANSWERED,
        reason: str = "",
    ) -> str:
        """The answer JWS for the search whose proof is ``proof``."""
        payload = {
            "v": PROTOCOL_VERSION,
            "node": self.node_id,
            "nonce": nonce,
            "req": proof_digest(proof),
            # Whole seconds: every answer's signature has the same length.
            "iat": int(self._clock().timestamp()),
            "status": status,
            "reason": reason,
            "hits": [hit_json(h) for h in hits],
        }
        return jwt.encode(payload, self._key, algorithm=ALGORITHM, headers={"typ": ANSWER_TYPE})

    def seal(
        self,
        *,
        recipient: X25519PublicKey,
        nonce: str,
        proof: str,
        hits: Sequence[common_pb2.Hit],
        status: str = ANSWERED,
        reason: str = "",
    ) -> common_pb2.SealedAnswer:
        """Sign the answer and seal it to ``recipient``.

        Hits are kept best first; if they do not fit the largest answer bucket
        the last ones are dropped until they do (the protocol's caps make this
        all but impossible; it never fails an answer).
        """
        kept = list(hits)
        while True:
            token = self.sign(nonce=nonce, proof=proof, hits=kept, status=status, reason=reason)
            try:
                enc, ciphertext = seal_padded(
                    recipient,
                    token.encode("ascii"),
                    ANSWER_BUCKETS,
                    info=answer_info(self.node_id),
                    nonce=nonce,
                )
            except SealingError:
                if not kept:
                    raise
                kept = kept[: len(kept) // 2]
                continue
            return common_pb2.SealedAnswer(enc=enc, ciphertext=ciphertext)


@dataclass(frozen=True)
class VerifiedAnswer:
    """What an answer that verified says."""

    status: str
    """``answered`` or ``not_answering``."""
    reason: str
    """Why not answering ("" when answered)."""
    hits: tuple[common_pb2.Hit, ...]


def _hits(value: object) -> tuple[common_pb2.Hit, ...]:
    if not isinstance(value, list):
        raise AnswerVerificationError("malformed", "hits is not a list")
    hits = []
    for item in value:
        hit = common_pb2.Hit()
        try:
            json_format.ParseDict(item, hit)
        except (json_format.ParseError, TypeError, ValueError) as exc:
            raise AnswerVerificationError("malformed", f"a hit does not parse ({exc})") from None
        hits.append(hit)
    return tuple(hits)


def open_answer(
    sealed: common_pb2.SealedAnswer,
    *,
    enc_key: X25519PrivateKey,
    node_id: str,
    nonce: str,
    proof: str,
    node_keys: Mapping[str, Ed25519PublicKey],
    now: dt.datetime,
    skew_seconds: float = 60.0,
    max_age_seconds: float = 120.0,
) -> VerifiedAnswer:
    """Open and check one relayed answer; see the module docstring.

    Args:
        sealed: the answer as relayed.
        enc_key: the requester's X25519 private key.
        node_id: the agency the broker says answered.
        nonce: the nonce of the requester's own proof.
        proof: the requester's own proof JWS.
        node_keys: node id → its answer key, from the trust bundle.
        now: the client's clock.
        skew_seconds: tolerance for a node clock running ahead.
        max_age_seconds: oldest answer accepted (the search's deadline and skew).

    Raises:
        AnswerVerificationError: naming the first check that failed.
    """
    if not sealed.enc or not sealed.ciphertext:
        raise AnswerVerificationError("unsealable", f"{node_id} sent no sealed answer")
    try:
        body = open_padded(
            enc_key,
            sealed.enc,
            sealed.ciphertext,
            ANSWER_BUCKETS,
            info=answer_info(node_id),
            nonce=nonce,
        )
    except SealingError as exc:
        reason = "unsealable" if exc.reason == "unsealable" else "malformed"
        raise AnswerVerificationError(reason, str(exc)) from None
    key = node_keys.get(node_id)
    if key is None:
        raise AnswerVerificationError("unknown_node", f"no answer key for {node_id!r}")
    try:
        token = body.decode("ascii")
        header = jwt.get_unverified_header(token)
    except (UnicodeDecodeError, jwt.InvalidTokenError) as exc:
        raise AnswerVerificationError("malformed", str(exc)) from None
    if header.get("typ") != ANSWER_TYPE or header.get("alg") != ALGORITHM:
        raise AnswerVerificationError("malformed", f"not a {ANSWER_TYPE} signed with {ALGORITHM}")
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            options={"require": ["iat"], "verify_iat": False},
        )
    except jwt.InvalidSignatureError:
        raise AnswerVerificationError("signature", f"not signed by {node_id}'s key") from None
    except jwt.InvalidTokenError as exc:
        raise AnswerVerificationError("malformed", str(exc)) from None
    if claims.get("v") != PROTOCOL_VERSION:
        raise AnswerVerificationError("malformed", "not a version 2 answer")
    if claims.get("node") != node_id:
        raise AnswerVerificationError("wrong_node", f"answer of {claims.get('node')!r}")
    if claims.get("nonce") != nonce or claims.get("req") != proof_digest(proof):
        raise AnswerVerificationError("wrong_search", "answer to another search")
    iat = claims["iat"]
    age = now.timestamp() - iat if isinstance(iat, int | float) else None
    if age is None or age > max_age_seconds or age < -skew_seconds:
        raise AnswerVerificationError("stale", f"answer time {iat} is not this search's")
    status, reason = claims.get("status"), claims.get("reason", "")
    if status not in (ANSWERED, NOT_ANSWERING) or not isinstance(reason, str):
        raise AnswerVerificationError("malformed", f"status {status!r} is not known")
    hits = _hits(claims.get("hits"))
    if status == NOT_ANSWERING and hits:
        raise AnswerVerificationError("malformed", "a node not answering sent hits")
    return VerifiedAnswer(str(status), reason[:64], hits)
