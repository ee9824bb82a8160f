"""Cheap checks first: a search's size, counts and shape, before any costly work.

A search carrying 7,000 copies of one genuine warrant was once fully verified
(7,000 signature checks) before the "at most 8 warrants" rule saw it; a 1 MB
issuer name was written to the log whole. :func:`check_search_shape` runs at
the broker and at every node *before* any signature is verified, any limit is
consumed or any nonce is remembered; it looks only at lengths, counts and
characters, so its cost is bounded by the (already size-capped) message.

Every refusal is an :class:`~fieldgate.core.errors.InvalidRequestError`
naming the field, with no more than :data:`MAX_SHOWN` characters of what was
sent, so nothing a requester sends is logged at more than a bounded size.
"""

from __future__ import annotations

import re

from fieldgate.core.claims import MAX_AUTHORITIES, MAX_CLAIM_LENGTH, MAX_COVERS, MAX_ROLES
from fieldgate.core.errors import InvalidRequestError
from fieldgate.core.query import MAX_IDENTIFIER_LENGTH, MAX_IDENTIFIERS, MAX_NAME_LENGTH
from fieldgate.v2 import common_pb2

__all__ = [
    "MAX_AUDIENCE",
    "MAX_NAME_PARTS",
    "MAX_SHOWN",
    "MAX_TOKEN_LENGTH",
    "check_search_shape",
    "shown",
]

MAX_TOKEN_LENGTH = 16 * 1024
"""Longest credential, proof or warrant token (a compact JWS) accepted."""

MAX_NAME_PARTS = 8
"""Words in one surname or given name (DE LA CRUZ Y GARCIA is five)."""

MAX_SHOWN = 40
"""Characters of a refused value quoted back in a message or a log line."""

# A compact JWS is three base64url segments joined by dots: nothing else.
_JWS = re.compile(r"[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*")


def shown(value: str) -> str:
    """At most :data:`MAX_SHOWN` characters of ``value``, quoted, for messages and logs."""
    if len(value) <= MAX_SHOWN:
        return repr(value)
    return f"{value[:MAX_SHOWN]!r}... ({len(value)} characters)"


def _token(value: str, field: str) -> None:
    if len(value) > MAX_TOKEN_LENGTH:
        raise InvalidRequestError(
            field, f"is {len(value)} characters long; at most {MAX_TOKEN_LENGTH} are accepted"
        )
    if value and not _JWS.fullmatch(value):
        raise InvalidRequestError(
            field, "must be a compact JWS (base64url letters, digits, '-', '_' and two dots)"
        )


def _text(value: str, field: str, limit: int = MAX_CLAIM_LENGTH) -> None:
    if len(value) > limit:
        raise InvalidRequestError(
            field, f"is {len(value)} characters long; at most {limit} are accepted"
        )


def _name(value: str, field: str) -> None:
    _text(value, field, MAX_NAME_LENGTH)
    if len(value.split()) > MAX_NAME_PARTS:
        raise InvalidRequestError(field, f"has more than {MAX_NAME_PARTS} name parts")


def _requester(message: common_pb2.Requester) -> None:
    for name in ("subject", "agency", "agency_type", "purpose", "case_number"):
        _text(getattr(message, name), f"requester.{name}")
    if len(message.roles) > MAX_ROLES:
        raise InvalidRequestError("requester.roles", f"at most {MAX_ROLES} roles are accepted")
    for i, role in enumerate(message.roles):
        _text(role, f"requester.roles[{i}]")
    if len(message.authority) > MAX_AUTHORITIES:
        raise InvalidRequestError(
            "requester.authority", f"at most {MAX_AUTHORITIES} instruments are accepted"
        )
    for i, authority in enumerate(message.authority):
        where = f"requester.authority[{i}]"
        for name in ("kind", "id", "court", "subject_dob", "expires"):
            _text(getattr(authority, name), f"{where}.{name}")
        _name(authority.subject_surname, f"{where}.subject_surname")
        _name(authority.subject_given_name, f"{where}.subject_given_name")
        if len(authority.covers) > MAX_COVERS or len(authority.record_kinds) > MAX_COVERS:
            raise InvalidRequestError(where, f"covers at most {MAX_COVERS} fields and kinds")
        for j, text in enumerate([*authority.covers, *authority.record_kinds]):
            _text(text, f"{where}.covers[{j}]")


def _query(message: common_pb2.PersonQuery) -> None:
    _name(message.surname, "query.surname")
    _name(message.given_name, "query.given_name")
    _text(message.dob, "query.dob", 10)
    if len(message.identifiers) > MAX_IDENTIFIERS:
        raise InvalidRequestError("query.identifiers", f"at most {MAX_IDENTIFIERS} are accepted")
    for i, ident in enumerate(message.identifiers):
        _text(ident.kind, f"query.identifiers[{i}].kind", MAX_SHOWN)
        _text(ident.value, f"query.identifiers[{i}].value", MAX_IDENTIFIER_LENGTH)


MAX_AUDIENCE = 20_000
"""Most nodes one search may address (query keys it may carry, node ids an audience
or reach claim may list): well above a national directory of 8,500 agencies."""
MAX_NODE_ID_LENGTH = 128
"""Longest node id a query key may name."""
QUERY_BODY_SIZES = frozenset(size + 16 for size in (4096, 16384, 65536))
"""A query body is a query bucket plus the 16-byte tag (:mod:`fieldgate.trust.sealing`;
repeated here, the layer below it)."""
KEY_ENC_BYTES = 32
"""A query key's HPKE encapsulated key (DHKEM(X25519))."""
WRAPPED_KEY_BYTES = 48
"""A query key's wrapped content key: 32 bytes plus the 16-byte tag."""


def _keys(signed: common_pb2.SignedSearch) -> None:
    if signed.body and len(signed.body) not in QUERY_BODY_SIZES:
        raise InvalidRequestError(
            "signed.body", f"is {len(signed.body)} bytes; not a padded query size"
        )
    if len(signed.keys) > MAX_AUDIENCE:
        raise InvalidRequestError(
            "signed.keys", f"{len(signed.keys)} query keys; at most {MAX_AUDIENCE}"
        )
    seen: set[str] = set()
    for i, key in enumerate(signed.keys):
        where = f"signed.keys[{i}]"
        _text(key.node_id, f"{where}.node_id", MAX_NODE_ID_LENGTH)
        if key.node_id in seen:
            raise InvalidRequestError(
                f"{where}.node_id", f"names {shown(key.node_id)} twice: one key per node"
            )
        seen.add(key.node_id)
        if len(key.enc) != KEY_ENC_BYTES:
            raise InvalidRequestError(f"{where}.enc", f"must be {KEY_ENC_BYTES} bytes")
        if len(key.wrapped) != WRAPPED_KEY_BYTES:
            raise InvalidRequestError(f"{where}.wrapped", f"must be {WRAPPED_KEY_BYTES} bytes")


def check_search_shape(
    requester: common_pb2.Requester | None,
    query: common_pb2.PersonQuery | None,
    signed: common_pb2.SignedSearch | None,
) -> None:
    """Refuse a search whose sizes, counts or token shapes are out of bounds.

    Cheap by construction (lengths, counts, one regular expression per token),
    so it runs before signatures, limits and nonces. It does not replace the
    full validation of the verified claims and query that follows.

    Raises:
        InvalidRequestError: naming the first field out of bounds.
    """
    if signed is not None:
        _token(signed.credential, "signed.credential")
        _token(signed.proof, "signed.proof")
        _keys(signed)
    if requester is not None:
        _requester(requester)
    if query is not None:
        _query(query)
