"""HPKE envelopes and padding: what the broker relays but cannot read.

Every sealed structure of the v2 protocol (docs/protocol.md) is made here:

* HPKE (RFC 9180) mode_base, single-shot, with the suite
  DHKEM(X25519, HKDF-SHA256) / HKDF-SHA256 / ChaCha20-Poly1305
  (ids 0x0020 / 0x0001 / 0x0003), through the ``pyhpke`` library;
* the padding that hides sizes: ``uint32_be(len(body)) || body || zeros`` up to
  the smallest bucket that holds it, so the ciphertext is a bucket size + 16;
* a query is sealed once: its padded plaintext (the ``body``) under
  ChaCha20-Poly1305 with a fresh 32-byte content key, nonce 12 zero bytes (the
  key is used once), ``aad`` = ``"fieldgate/v2 query body " + nonce``; the
  content key is HPKE-sealed to each addressed node (the key-encryption mode of
  JWE / draft-ietf-jose-hpke-encrypt);
* the ``info`` strings that bind an envelope to its purpose and recipient node
  (``"fieldgate/v2 query key " + node_id``, ``"fieldgate/v2 answer " + node_id``),
  and the ``aad``: the search's proof nonce, so an envelope moved to another
  search does not open.

No cryptography is written here: HPKE is pyhpke's, X25519 and ChaCha20-Poly1305
are ``cryptography``'s (OpenSSL). This module only fixes the parameters.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from pyhpke import AEADId, CipherSuite, KDFId, KEMId, KEMKey, PyHPKEError

from fieldgate.core.errors import FieldgateError

SUITE = CipherSuite.new(KEMId.DHKEM_X25519_HKDF_SHA256, KDFId.HKDF_SHA256, AEADId.CHACHA20_POLY1305)
"""The one HPKE suite of protocol v2."""

TAG_BYTES = 16
"""ChaCha20-Poly1305 tag: a ciphertext is its padded plaintext plus this."""
ENC_BYTES = 32
"""DHKEM(X25519) encapsulated key length."""
LENGTH_PREFIX = 4
"""The padded form starts with the body's length as a big-endian uint32."""

QUERY_BUCKETS = (4096, 16384, 65536)
"""Padded sizes of a sealed query (4096 x 4^k bytes)."""
ANSWER_BUCKETS = (8192, 32768, 131072, 524288, 2097152)
"""Padded sizes of a sealed answer (8192 x 4^k bytes): an absent person's answer and
a typical few-hit answer share the first."""

KEY_BYTES = 32
"""A query's content key (ChaCha20-Poly1305)."""
WRAPPED_BYTES = KEY_BYTES + TAG_BYTES
"""A content key HPKE-sealed to one node."""
BODY_NONCE = bytes(12)
"""The body's AEAD nonce: all zero, because each content key seals exactly one body."""

QUERY_KEY_INFO = b"fieldgate/v2 query key "
QUERY_BODY_AAD = b"fieldgate/v2 query body "
ANSWER_INFO = b"fieldgate/v2 answer "


class SealingError(FieldgateError):
    """An envelope that cannot be made or opened.

    Attributes:
        reason: ``too_large`` (no bucket holds the body), ``unsealable`` (HPKE
            open failed: wrong key, info, aad or altered bytes) or ``malformed``
            (the padded form is wrong).
    """

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason


def pad(body: bytes, buckets: Sequence[int]) -> bytes:
    """``uint32_be(len(body)) || body || zeros`` up to the smallest bucket that holds it.

    Raises:
        SealingError: ``too_large``, the body does not fit the largest bucket.
    """
    needed = LENGTH_PREFIX + len(body)
    for size in buckets:
        if needed <= size:
            return struct.pack(">I", len(body)) + body + bytes(size - needed)
    raise SealingError("too_large", f"{len(body)} bytes do not fit {buckets[-1]} padded")


def unpad(padded: bytes, buckets: Sequence[int]) -> bytes:
    """The body of a padded plaintext.

    Raises:
        SealingError: ``malformed``: not a bucket size, a length prefix beyond
            the padded size, or padding that is not all zero.
    """
    if len(padded) not in buckets:
        raise SealingError("malformed", f"padded size {len(padded)} is not a bucket")
    (length,) = struct.unpack(">I", padded[:LENGTH_PREFIX])
    end = LENGTH_PREFIX + length
    if end > len(padded):
        raise SealingError("malformed", "length prefix beyond the padded size")
    if any(padded[end:]):
        raise SealingError("malformed", "padding is not zero")
    return padded[LENGTH_PREFIX:end]


def seal(
    recipient: X25519PublicKey, plaintext: bytes, *, info: bytes, aad: bytes
) -> tuple[bytes, bytes]:
    """HPKE single-shot seal (mode_base); returns ``(enc, ciphertext)``.

    RFC 9180 SealBase is SetupBaseS then one Seal at sequence 0: pyhpke's
    one-call ``CipherSuite.seal`` is not implemented, its contexts are.
    """
    enc, context = SUITE.create_sender_context(KEMKey.from_pyca_cryptography_key(recipient), info)
    return bytes(enc), bytes(context.seal(plaintext, aad))


def open_sealed(
    recipient: X25519PrivateKey, enc: bytes, ciphertext: bytes, *, info: bytes, aad: bytes
) -> bytes:
    """HPKE single-shot open (mode_base).

    Raises:
        SealingError: ``unsealable`` — wrong key, info or aad, or altered bytes.
    """
    if len(enc) != ENC_BYTES:
        raise SealingError("unsealable", f"enc is {len(enc)} bytes, not {ENC_BYTES}")
    try:
        private = KEMKey.from_pyca_cryptography_key(recipient)
        context = SUITE.create_recipient_context(enc, private, info)
        return bytes(context.open(ciphertext, aad))
    except (PyHPKEError, ValueError) as exc:
        raise SealingError("unsealable", f"HPKE open failed ({type(exc).__name__})") from None


def query_key_info(node_id: str) -> bytes:
    """HPKE ``info`` of the content key wrapped to ``node_id``."""
    return QUERY_KEY_INFO + node_id.encode("utf-8")


def body_aad(nonce: str) -> bytes:
    """AEAD ``aad`` of a query body: binds it to its search's proof nonce."""
    return QUERY_BODY_AAD + nonce.encode("utf-8")


def seal_body(key: bytes, plaintext: bytes, nonce: str) -> bytes:
    """Pad ``plaintext`` to its query bucket and encrypt it with the content ``key``.

    Raises:
        SealingError: ``too_large``.
    """
    return ChaCha20Poly1305(key).encrypt(BODY_NONCE, pad(plaintext, QUERY_BUCKETS), body_aad(nonce))


def open_body(key: bytes, body: bytes, nonce: str) -> bytes:
    """Check the body is a query bucket + 16, decrypt it with ``key`` and unpad it.

    Raises:
        SealingError: ``malformed`` (size, prefix or padding) or ``unsealable``.
    """
    if len(body) - TAG_BYTES not in QUERY_BUCKETS:
        raise SealingError("malformed", f"query body of {len(body)} bytes is not a bucket")
    try:
        padded = ChaCha20Poly1305(key).decrypt(BODY_NONCE, body, body_aad(nonce))
    except InvalidTag:
        raise SealingError("unsealable", "query body does not open with its content key") from None
    return unpad(padded, QUERY_BUCKETS)


def wrap_key(
    recipient: X25519PublicKey, key: bytes, node_id: str, nonce: str
) -> tuple[bytes, bytes]:
    """HPKE-seal the content ``key`` to ``node_id``'s X25519 key: ``(enc, wrapped)``."""
    return seal(recipient, key, info=query_key_info(node_id), aad=nonce.encode("utf-8"))


def unwrap_key(
    recipient: X25519PrivateKey, enc: bytes, wrapped: bytes, node_id: str, nonce: str
) -> bytes:
    """Open this node's wrapped content key.

    Raises:
        SealingError: ``unsealable`` — wrong sizes, key, node id or nonce, or altered bytes.
    """
    if len(wrapped) != WRAPPED_BYTES:
        raise SealingError(
            "unsealable", f"wrapped key is {len(wrapped)} bytes, not {WRAPPED_BYTES}"
        )
    key = open_sealed(
        recipient, enc, wrapped, info=query_key_info(node_id), aad=nonce.encode("utf-8")
    )
    if len(key) != KEY_BYTES:
        raise SealingError("unsealable", f"content key is {len(key)} bytes, not {KEY_BYTES}")
    return key


def answer_info(node_id: str) -> bytes:
    """HPKE ``info`` of the answer ``node_id`` seals."""
    return ANSWER_INFO + node_id.encode("utf-8")


def seal_padded(
    recipient: X25519PublicKey,
    body: bytes,
    buckets: Sequence[int],
    *,
    info: bytes,
    nonce: str,
) -> tuple[bytes, bytes]:
    """Pad ``body`` to its bucket and seal it; ``aad`` is the ASCII nonce.

    Raises:
        SealingError: ``too_large``.
    """
    return seal(recipient, pad(body, buckets), info=info, aad=nonce.encode("utf-8"))


def open_padded(
    recipient: X25519PrivateKey,
    enc: bytes,
    ciphertext: bytes,
    buckets: Sequence[int],
    *,
    info: bytes,
    nonce: str,
) -> bytes:
    """Check the ciphertext is a bucket size + 16, open it and unpad it.

    Raises:
        SealingError: ``malformed`` (size, prefix or padding) or ``unsealable``.
    """
    if len(ciphertext) - TAG_BYTES not in buckets:
        raise SealingError("malformed", f"ciphertext of {len(ciphertext)} bytes is not a bucket")
    padded = open_sealed(recipient, enc, ciphertext, info=info, aad=nonce.encode("utf-8"))
    return unpad(padded, buckets)
