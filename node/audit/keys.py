"""The node's own Ed25519 key, which signs its audit checkpoints.

The private key is an unencrypted PKCS#8 PEM file readable by its owner only
(mode 0600); it is made by ``fieldgate node keygen`` or, failing that, at the
node's first start. Its public half is written into the audit database when
the database is created and can be exported (``fieldgate audit
export-checkpoints`` puts it in the export's header) for whoever verifies.
"""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from fieldgate.trust.keys import (
    KeyFileError,
    generate_key,
    load_private_key,
    load_public_key,
    save_private_key,
)

__all__ = [
    "KeyFileError",
    "create_key",
    "ensure_key",
    "key_id",
    "load_verify_key",
    "public_from_hex",
    "public_hex",
]


def public_hex(key: Ed25519PublicKey) -> str:
    """The raw 32-byte public key as hex."""
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex()


def public_from_hex(text: str) -> Ed25519PublicKey:
    """Parse a hex public key.

    Raises:
        KeyFileError: ``text`` is not 64 hex characters.
    """
    try:
        raw = bytes.fromhex(text)
        return Ed25519PublicKey.from_public_bytes(raw)
    except ValueError as exc:
        raise KeyFileError(f"not an Ed25519 public key in hex: {text[:20]!r}") from exc


def key_id(key: Ed25519PublicKey) -> str:
    """A short identifier of a public key: the first 16 hex digits of its SHA-256."""
    return hashlib.sha256(bytes.fromhex(public_hex(key))).hexdigest()[:16]


def create_key(path: Path, *, overwrite: bool = False) -> Ed25519PrivateKey:
    """Make a new key and write it to ``path`` (mode 0600).

    Raises:
        KeyFileError: ``path`` exists and ``overwrite`` is false.
    """
    if path.exists() and not overwrite:
        raise KeyFileError(f"{path}: already exists; a node keeps its audit key for life")
    key = generate_key()
    save_private_key(key, path)
    return key


def ensure_key(path: Path) -> Ed25519PrivateKey:
    """Load the key at ``path``, creating it if the file does not exist.

    Raises:
        KeyFileError: the file cannot be read, is not an Ed25519 key, or is
            readable by others than its owner (a read-only file of this
            process's own group, a Kubernetes Secret, is accepted).
    """
    if not path.exists():
        return create_key(path)
    status = path.stat()
    if not _private_enough(status):
        raise KeyFileError(
            f"{path}: the audit signing key is readable by others (mode "
            f"{stat.S_IMODE(status.st_mode):o}); run chmod 600 {path}"
        )
    return load_private_key(path)


def _private_enough(status: os.stat_result) -> bool:
    """Owner-only (0600, 0400); or read-only for the owner and this process's own group.

    The second is how Kubernetes mounts a Secret into a pod that does not run
    as root: the file belongs to root, its group is the pod's ``fsGroup``
    (this process's group) and its mode is 0440 whatever ``defaultMode`` says.
    Nobody may write it, and no one outside the pod's group may read it.
    """
    mode = stat.S_IMODE(status.st_mode)
    if not mode & (stat.S_IRWXG | stat.S_IRWXO):
        return True
    read_only_group = mode & ~(stat.S_IRUSR | stat.S_IRGRP) == 0
    return read_only_group and status.st_gid in {os.getegid(), *os.getgroups()}


def load_verify_key(path: Path) -> Ed25519PublicKey:
    """Read a public key to verify with: a PEM file, or a file holding the hex key.

    Raises:
        KeyFileError: the file holds neither.
    """
    try:
        text = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise KeyFileError(f"{path}: cannot read: {exc}") from None
    if text.startswith("-----BEGIN"):
        return load_public_key(path)
    return public_from_hex(text)
