"""Keyed digests of persons: what logs hold instead of names, irreversible without the key.

An unkeyed SHA-256 of a name and a date of birth is no protection: names ×
dates of birth is a small space, and a dictionary over it recovered 126 of
127 searched persons from one broker log (issue 16). Every digest of a person
written to a log is therefore an HMAC-SHA256 under a **per-deployment
secret** that is kept apart from the logs (its own file, mode 0600, named in
the node's and broker's config). Whoever holds the key — the agency's
auditors — can still compute a person's digest and find their searches; whoever
holds only a log cannot.

The key is 32 random bytes (``secrets.token_bytes``) stored as hex; the
development federation and the demo make one in their work directory.
"""

from __future__ import annotations

import hmac
import json
import os
import secrets
import stat
from hashlib import sha256
from pathlib import Path

from fieldgate.core.errors import FieldgateError
from fieldgate.core.query import PersonQuery, corroboration

KEY_BYTES = 32


class DigestKeyError(FieldgateError):
    """The digest key file cannot be read, made, or is malformed."""


def canonical_query(query: PersonQuery) -> str:
    """The normalised query as canonical JSON: what a query digest is taken over."""
    return json.dumps(
        {
            "surname": query.surname,
            "given_name": query.given_name,
            "dob": query.dob.isoformat() if query.dob else "",
            "identifiers": sorted(query.identifiers),
            **corroboration(query),
        },
        sort_keys=True,
    )


class PersonDigester:
    """HMAC-SHA256 digests under one deployment's secret."""

    def __init__(self, key: bytes) -> None:
        """Digest with ``key`` (at least 16 bytes)."""
        if len(key) < 16:
            raise DigestKeyError(f"a digest key needs at least 16 bytes, got {len(key)}")
        self._key = key

    def digest(self, *parts: str) -> str:
        """The keyed digest of ``parts`` (joined unambiguously), as 64 hex digits."""
        message = json.dumps(list(parts), separators=(",", ":"))
        return hmac.new(self._key, message.encode(), sha256).hexdigest()

    def query(self, query: PersonQuery) -> str:
        """The keyed digest of a normalised query (what node and broker logs hold)."""
        return self.digest("query", canonical_query(query))


def load_digest_key(path: Path) -> PersonDigester:
    """Read the hex key at ``path``.

    Raises:
        DigestKeyError: naming the file and what is wrong with it.
    """
    try:
        text = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeError) as exc:
        raise DigestKeyError(f"{path}: cannot read the digest key: {exc}") from exc
    try:
        key = bytes.fromhex(text)
    except ValueError:
        raise DigestKeyError(f"{path}: the digest key must be hex digits") from None
    try:
        return PersonDigester(key)
    except DigestKeyError as exc:
        raise DigestKeyError(f"{path}: {exc}") from None


def ensure_digest_key(path: Path) -> PersonDigester:
    """Read the key at ``path``, making a new random one (mode 0600) if there is none.

    Raises:
        DigestKeyError: the file exists but is unusable, or cannot be made.
    """
    if path.exists():
        return load_digest_key(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(
            path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, stat.S_IRUSR | stat.S_IWUSR
        )
        with os.fdopen(descriptor, "w", encoding="ascii") as out:
            out.write(secrets.token_bytes(KEY_BYTES).hex() + "\n")
    except FileExistsError:
        pass  # made by another process in the meantime: use theirs
    except OSError as exc:
        raise DigestKeyError(f"{path}: cannot create the digest key: {exc}") from exc
    return load_digest_key(path)


def default_digest_key_path(database: Path) -> Path:
    """Where a component keeps its digest key when its config names none: beside its database."""
    return database.with_name(database.stem + ".digest.key")
