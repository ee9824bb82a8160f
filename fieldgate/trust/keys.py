"""Keys: Ed25519 (signing) and X25519 (sealing): make, save (owner-only), load, public JWK form.

Ed25519 keys sign credentials, proofs, warrants and answers; X25519 keys
receive HPKE-sealed queries (a node's) and answers (an investigator's), see
:mod:`fieldgate.trust.sealing`. Both are kept as PKCS#8 / SubjectPublicKeyInfo
PEM by ``cryptography`` and published as RFC 8037 OKP JWKs.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from jwt.algorithms import OKPAlgorithm
from jwt.utils import base64url_decode, base64url_encode

from fieldgate.core.errors import FieldgateError


class KeyFileError(FieldgateError):
    """A key file that cannot be used."""


def generate_key() -> Ed25519PrivateKey:
    """A new Ed25519 private key."""
    return Ed25519PrivateKey.generate()


def save_private_key(key: Ed25519PrivateKey | X25519PrivateKey, path: Path) -> None:
    """Write ``key`` as unencrypted PKCS#8 PEM readable by the owner only."""
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)


def save_public_key(key: Ed25519PublicKey | X25519PublicKey, path: Path) -> None:
    """Write ``key`` as SubjectPublicKeyInfo PEM."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(
        key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """Read an Ed25519 private key PEM, naming the file in any error."""
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise KeyFileError(f"{path}: not a readable unencrypted private key PEM ({exc})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFileError(f"{path}: not an Ed25519 key")
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    """Read an Ed25519 public key PEM.

    A private key is refused where a public one is asked for: it would work,
    but a private key copied to where public keys go (a node, a bundle, a
    ticket) is a leaked key.
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise KeyFileError(f"{path}: {exc.strerror}") from None
    if b"PRIVATE KEY" in data:
        raise KeyFileError(
            f"{path}: is a PRIVATE key; give its public key (the .pub file keygen wrote "
            "beside it) — and keep the private one where it was"
        )
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError as exc:
        raise KeyFileError(f"{path}: not a public key PEM ({exc})") from None
    if not isinstance(key, Ed25519PublicKey):
        raise KeyFileError(f"{path}: not an Ed25519 key")
    return key


def public_jwk(key: Ed25519PublicKey) -> dict[str, Any]:
    """The public key as a JWK (``{"kty": "OKP", "crv": "Ed25519", "x": ...}``)."""
    return dict(OKPAlgorithm.to_jwk(key, as_dict=True))


def key_from_jwk(jwk: object) -> Ed25519PublicKey:
    """Parse a public Ed25519 JWK.

    Raises:
        ValueError: the JWK is not a public Ed25519 key.
    """
    if not isinstance(jwk, dict) or jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
        raise ValueError("not an Ed25519 public JWK")
    if "d" in jwk:
        raise ValueError("a private key was sent where a public key belongs")
    key = OKPAlgorithm.from_jwk(jwk)
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("not an Ed25519 public JWK")
    return key


def generate_enc_key() -> X25519PrivateKey:
    """A new X25519 private key (HPKE recipient key)."""
    return X25519PrivateKey.generate()


def load_enc_private_key(path: Path) -> X25519PrivateKey:
    """Read an X25519 private key PEM, naming the file in any error."""
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise KeyFileError(f"{path}: not a readable unencrypted private key PEM ({exc})") from None
    if not isinstance(key, X25519PrivateKey):
        raise KeyFileError(f"{path}: not an X25519 key")
    return key


def load_enc_public_key(path: Path) -> X25519PublicKey:
    """Read an X25519 public key PEM (or the public half of a private key PEM)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise KeyFileError(f"{path}: {exc.strerror}") from None
    if b"PRIVATE KEY" in data:
        return load_enc_private_key(path).public_key()
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError as exc:
        raise KeyFileError(f"{path}: not a public key PEM ({exc})") from None
    if not isinstance(key, X25519PublicKey):
        raise KeyFileError(f"{path}: not an X25519 key")
    return key


def enc_public_jwk(key: X25519PublicKey) -> dict[str, Any]:
    """The public X25519 key as a JWK (``{"kty": "OKP", "crv": "X25519", "x": ...}``)."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return {"kty": "OKP", "crv": "X25519", "x": base64url_encode(raw).decode("ascii")}


def enc_key_from_jwk(jwk: object) -> X25519PublicKey:
    """Parse a public X25519 JWK.

    Raises:
        ValueError: the JWK is not a public X25519 key.
    """
    if not isinstance(jwk, dict) or jwk.get("kty") != "OKP" or jwk.get("crv") != "X25519":
        raise ValueError("not an X25519 public JWK")
    if "d" in jwk:
        raise ValueError("a private key was sent where a public key belongs")
    x = jwk.get("x")
    if not isinstance(x, str):
        raise ValueError("X25519 JWK has no x")
    try:
        raw = base64url_decode(x)
    except (ValueError, TypeError):
        raise ValueError("X25519 JWK x is not base64url") from None
    if len(raw) != 32:
        raise ValueError("X25519 JWK x is not 32 bytes")
    return X25519PublicKey.from_public_bytes(raw)
