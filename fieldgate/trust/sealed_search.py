"""The v2 signed search: a proof the broker can read, a query only the addressed nodes can.

The investigator's client builds one plaintext (UTF-8 JSON)::

    {"v": 2, "nonce": <the proof's nonce>, "salt": <b64url of 32 random bytes>,
     "query": {"surname", "given_name", "dob", "identifiers": [[kind, value]...], "max_hits"},
     "warrants": [<compact warrant JWS>, ...]}

encrypts it once (the ``body``) under a fresh 32-byte content key, wraps that
key to every audience node's X25519 key (one ``QueryKey`` each,
:mod:`fieldgate.trust.sealing`: ``info`` = ``"fieldgate/v2 query key " + node_id``,
``aad`` = the nonce), and signs a proof that commits to the plaintext::

    {"v": 2, "cid", "sub", "purpose", "case_number",
     "aud": [node ids] or {"dir": <serial>, "except": [node ids]},
     "iat": <epoch seconds, milliseconds>, "nonce": <32 hex>,
     "sealed": <b64url SHA-256 of the plaintext bytes>}

The audience takes whichever form is shorter (:mod:`fieldgate.trust.audience`).
The broker forwards each node the credential, proof and body with that node's
key only.

The broker sees who asks, why, for which case and which agencies — never
whom they ask about nor any warrant. The salt makes the commitment
unguessable from a list of likely names. Each node opens its own envelope,
checks the commitment and the nonce, and only then reads the query
(:mod:`fieldgate.trust.verify`). docs/protocol.md is the normative text.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from fieldgate.core.errors import FieldgateError
from fieldgate.trust.audience import Audience, Directory
from fieldgate.trust.sealing import (
    KEY_BYTES,
    SealingError,
    open_body,
    seal_body,
    unwrap_key,
    wrap_key,
)
from fieldgate.trust.tokens import ALGORITHM, PROOF_TYPE, query_from_payload, query_payload
from fieldgate.v2 import common_pb2

PROTOCOL_VERSION = 2
SALT_BYTES = 32


def b64url(data: bytes) -> str:
    """Base64url without padding (RFC 7515 section 2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def commitment(plaintext: bytes) -> str:
    """The proof's ``sealed`` claim: b64url SHA-256 of the exact plaintext bytes."""
    return b64url(hashlib.sha256(plaintext).digest())


def proof_digest(proof: str) -> str:
    """An answer's ``req`` claim: b64url SHA-256 of the proof JWS (its ASCII bytes)."""
    return b64url(hashlib.sha256(proof.encode("ascii", "replace")).digest())


def query_plaintext(
    query: common_pb2.PersonQuery, warrants: Sequence[str], nonce: str, salt: bytes
) -> bytes:
    """The sealed-query plaintext, as exact UTF-8 JSON bytes (compact separators)."""
    document = {
        "v": PROTOCOL_VERSION,
        "nonce": nonce,
        "salt": b64url(salt),
        "query": query_payload(query),
        "warrants": list(warrants),
    }
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def sign_search(
    *,
    credential: str,
    holder_key: Ed25519PrivateKey,
    query: common_pb2.PersonQuery,
    purpose: str,
    case_number: str,
    audience: Sequence[str] | Audience,
    node_keys: Mapping[str, X25519PublicKey],
    warrants: Sequence[str] = (),
    directory: Directory | None = None,
    now: dt.datetime | None = None,
    nonce: str | None = None,
    salt: bytes | None = None,
    content_key: bytes | None = None,
) -> common_pb2.SignedSearch:
    """Sign one search with the investigator's key, seal its query once, wrap its key per node.

    Args:
        credential: the investigator's credential (JWT).
        holder_key: the key the credential's ``cnf`` names.
        query: whom they look for (sealed, never in the proof).
        purpose: why (in the proof).
        case_number: for which case (in the proof; warrants bind to it).
        audience: node ids of the agencies asked; no other node answers it. An
            :class:`~fieldgate.trust.audience.Audience` is signed as given (either
            form), its keys wrapped to the nodes it names in ``directory``.
        node_keys: node id → its X25519 ``enc`` key from the signed trust bundle.
        warrants: warrant attestations (sealed with the query).
        directory: the signed trust bundle's directory; with it the proof's
            ``aud`` takes the compact form when that is shorter.
        now: the proof's time (tests).
        nonce: 32 hex characters (tests and vectors; fresh by default).
        salt: 32 bytes (tests and vectors; fresh by default).
        content_key: 32 bytes (vectors only; fresh by default, never reused).

    Raises:
        ValueError: the audience is empty, names a node twice, names a node
            without an ``enc`` key, or the query does not fit the largest bucket.
    """
    if isinstance(audience, Audience):
        claim = audience
        audience = audience.named(directory or Directory())
    else:
        claim = Audience.of(audience, directory)
    if not audience or len(set(audience)) != len(audience) or not all(audience):
        raise ValueError("a search is addressed to one or more distinct node ids")
    missing = [n for n in audience if n not in node_keys]
    if missing:
        raise ValueError(f"no encryption key in the trust bundle for: {', '.join(missing)}")
    claims = jwt.decode(credential, options={"verify_signature": False})
    nonce = nonce or secrets.token_hex(16)
    plaintext = query_plaintext(query, warrants, nonce, salt or secrets.token_bytes(SALT_BYTES))
    payload: dict[str, Any] = {
        "v": PROTOCOL_VERSION,
        "cid": claims.get("jti", ""),
        "sub": claims.get("sub", ""),
        "purpose": purpose,
        "case_number": case_number,
        "aud": claim.claim(),
        # Milliseconds: a node refuses proofs timed before it started (its nonce
        # memory begins then), and whole seconds would refuse a second's searches.
        "iat": round((now or dt.datetime.now(dt.UTC)).timestamp(), 3),
        "nonce": nonce,
        "sealed": commitment(plaintext),
    }
    proof = jwt.encode(payload, holder_key, algorithm=ALGORITHM, headers={"typ": PROOF_TYPE})
    key = content_key or secrets.token_bytes(KEY_BYTES)
    try:
        body = seal_body(key, plaintext, nonce)
    except SealingError as exc:
        raise ValueError(f"the query and warrants are too large to seal ({exc})") from None
    keys = []
    for node_id in audience:
        enc, wrapped = wrap_key(node_keys[node_id], key, node_id, nonce)
        keys.append(common_pb2.QueryKey(node_id=node_id, enc=enc, wrapped=wrapped))
    return common_pb2.SignedSearch(credential=credential, proof=proof, body=body, keys=keys)


@dataclass(frozen=True)
class OpenedQuery:
    """What a node's own envelope held, after the commitment and nonce checks."""

    query: common_pb2.PersonQuery
    warrants: tuple[str, ...]


class OpenError(FieldgateError):
    """An envelope that does not open to this search's query.

    Attributes:
        reason: ``unsealable``, ``commitment`` or ``malformed`` (a verification reason).
    """

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason


def open_query(
    signed: common_pb2.SignedSearch,
    *,
    node_id: str,
    enc_key: X25519PrivateKey,
    nonce: str,
    sealed_claim: str,
) -> OpenedQuery:
    """Unwrap this node's content key, open the body and check it against the (verified) proof.

    Raises:
        OpenError: not exactly one key for this node, it or the body does not
            open, the plaintext is not the one committed to, names another
            nonce, or is malformed.
    """
    mine = [k for k in signed.keys if k.node_id == node_id]
    if len(mine) != 1:
        raise OpenError("unsealable", f"{len(mine)} query keys for this node, not 1")
    try:
        key = unwrap_key(enc_key, mine[0].enc, mine[0].wrapped, node_id, nonce)
        plaintext = open_body(key, signed.body, nonce)
    except SealingError as exc:
        raise OpenError(exc.reason, str(exc)) from None
    # The bytes as decrypted, never re-encoded: both sides hash the same bytes.
    if commitment(plaintext) != sealed_claim:
        raise OpenError("commitment", "sealed query is not the one the proof commits to")
    try:
        document = json.loads(plaintext.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise OpenError("malformed", f"sealed query is not UTF-8 JSON ({exc})") from None
    if not isinstance(document, dict) or document.get("v") != PROTOCOL_VERSION:
        raise OpenError("malformed", "sealed query is not a version 2 object")
    if document.get("nonce") != nonce:
        raise OpenError("commitment", "sealed query names another search's nonce")
    warrants = document.get("warrants", [])
    if not isinstance(warrants, list) or not all(isinstance(w, str) for w in warrants):
        raise OpenError("malformed", "sealed query warrants are not a list of strings")
    try:
        query = query_from_payload(document.get("query"))
    except ValueError as exc:
        raise OpenError("malformed", f"sealed query: {exc}") from None
    return OpenedQuery(query, tuple(warrants))
