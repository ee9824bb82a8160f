"""A trust bundle signed by the federation authority, and how every party opens it.

A signed bundle file is the JSON object ``{"signed": "<compact JWS>"}``: a JWS
(EdDSA, ``typ`` ``fieldgate-trust-bundle+jwt``) by the federation authority
key whose payload is the bundle document itself (``issued_at``, ``issuers``,
``courts``, ``nodes``). Every party — node, broker, client — pins the
authority's public key (``[*.trust] authority_key``); with a pinned key an
unsigned bundle, or one signed by any other key, is refused and the party
releases nothing until it is fixed (fail closed).

A revocation list can be signed the same way; its payload carries ``"kind":
"revocations"`` so a signed bundle can never be passed off as a (nearly
empty) revocation list, nor a revocation list as a bundle
(:func:`open_revocations`). Lists fetched by ``fieldgate trust refresh`` must
be signed; a list an operator writes locally may be plain.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from fieldgate.core.errors import FieldgateError

BUNDLE_TYPE = "fieldgate-trust-bundle+jwt"
ALGORITHM = "EdDSA"


class BundleSignatureError(FieldgateError):
    """A trust bundle that is not signed by the pinned federation authority."""


def sign_bundle(document: Mapping[str, Any], authority: Ed25519PrivateKey) -> dict[str, str]:
    """The signed form of a bundle document (write it as the bundle file)."""
    token = jwt.encode(dict(document), authority, algorithm=ALGORITHM, headers={"typ": BUNDLE_TYPE})
    return {"signed": token}


def is_signed(document: Mapping[str, object]) -> bool:
    """Whether a bundle file holds the signed form."""
    return set(document) == {"signed"}


def unverified_payload(document: Mapping[str, object], where: Path) -> dict[str, Any]:
    """The bundle inside a signed file, read without checking (for the authority's own edits).

    Raises:
        BundleSignatureError: the signed form cannot be read.
    """
    token = document.get("signed")
    if not isinstance(token, str):
        raise BundleSignatureError(f"{where}: signed must be a compact JWS string")
    try:
        payload = jwt.decode(token, options={"verify_signature": False})
    except jwt.InvalidTokenError as exc:
        raise BundleSignatureError(f"{where}: signed bundle unreadable ({exc})") from None
    if not isinstance(payload, dict):
        raise BundleSignatureError(f"{where}: signed bundle payload is not an object")
    return payload


def open_bundle(
    document: Mapping[str, object], authority: Ed25519PublicKey | None, where: Path
) -> Mapping[str, object]:
    """The bundle document a party may use.

    With ``authority`` pinned, only a bundle it signed; without one (a party
    not yet pinning), a plain bundle, or a signed one's payload.

    Raises:
        BundleSignatureError: naming why the bundle is refused.
    """
    if authority is None:
        return unverified_payload(document, where) if is_signed(document) else document
    if not is_signed(document):
        raise BundleSignatureError(
            f"{where}: not signed, and this party pins a federation authority key"
        )
    token = document["signed"]
    if not isinstance(token, str):
        raise BundleSignatureError(f"{where}: signed must be a compact JWS string")
    try:
        header = jwt.get_unverified_header(token)
        if header.get("typ") != BUNDLE_TYPE or header.get("alg") != ALGORITHM:
            raise BundleSignatureError(f"{where}: not a {BUNDLE_TYPE} signed with {ALGORITHM}")
        payload = jwt.decode(token, authority, algorithms=[ALGORITHM])
    except jwt.InvalidSignatureError:
        raise BundleSignatureError(
            f"{where}: not signed by the pinned federation authority key"
        ) from None
    except jwt.InvalidTokenError as exc:
        raise BundleSignatureError(f"{where}: signed bundle unreadable ({exc})") from None
    if not isinstance(payload, dict):
        raise BundleSignatureError(f"{where}: signed bundle payload is not an object")
    return payload


REVOCATIONS_KIND = "revocations"
"""The ``kind`` of a signed revocation list's payload."""


def sign_revocations(document: Mapping[str, Any], authority: Ed25519PrivateKey) -> dict[str, str]:
    """The signed form of a revocation list (its payload marked ``kind: revocations``)."""
    return sign_bundle({**document, "kind": REVOCATIONS_KIND}, authority)


def open_revocations(
    document: Mapping[str, object],
    authority: Ed25519PublicKey | None,
    where: Path,
    *,
    require_signed: bool = False,
) -> Mapping[str, object]:
    """The revocation list a party may use: a signed one verified, a plain one as it is.

    Raises:
        BundleSignatureError: a signed list not signed by ``authority``, a signed
            bundle passed as a list, or a plain list where ``require_signed``.
    """
    if not is_signed(document):
        if require_signed:
            raise BundleSignatureError(f"{where}: revocation list not signed by the authority")
        return document
    payload = open_bundle(document, authority, where)
    if payload.get("kind") != REVOCATIONS_KIND:
        raise BundleSignatureError(f"{where}: a signed document that is not a revocation list")
    return payload
