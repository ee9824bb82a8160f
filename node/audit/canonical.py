"""Canonical JSON and the hash chain every audit entry is part of.

An entry's canonical form is its JSON with sorted keys, no insignificant
whitespace and UTF-8 text (``ensure_ascii=False``). Floats are refused: a
number has one spelling only if it is an integer, and every time in an entry
is an ISO 8601 string. The chain hash of entry *n* is::

    hash_n = SHA-256( hash_{n-1} (64 hex characters, ASCII) || canonical_n )

with ``hash_0`` = :data:`GENESIS` (64 zeros).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from fieldgate.node.errors import NodeError

GENESIS = "0" * 64
"""The "previous hash" of the first entry of a log."""


class NotCanonicalError(NodeError, ValueError):
    """A value that has no canonical JSON form (a float, a set, an object).

    Also a ``ValueError``, as it was first: callers that read a log catch
    ``ValueError`` for every malformed value, this one included.
    """


def _check(value: object, where: str) -> None:
    if value is None or isinstance(value, bool | int | str):
        return
    if isinstance(value, float):
        raise NotCanonicalError(f"{where}: floats are not allowed in audit entries")
    if isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _check(item, f"{where}[{index}]")
        return
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise NotCanonicalError(f"{where}: object keys must be strings, not {key!r}")
            _check(item, f"{where}.{key}")
        return
    raise NotCanonicalError(f"{where}: a {type(value).__name__} has no canonical JSON form")


_PLAIN = frozenset({str, int, bool, type(None)})


def _plainly_canonical(value: object) -> bool:
    """True if ``value`` is built only of exact JSON types (no float), keys all strings.

    The fast walk every entry takes: no path is spelt out unless something is
    wrong, and scalars are checked in place rather than by a call each (an
    entry with two records' field verdicts holds about 300 values). It may say
    False for a value :func:`_check` accepts (a subclass), never True for one
    it refuses.
    """
    kind = type(value)
    if kind is dict:
        for key, item in value.items():  # type: ignore[attr-defined]
            if type(key) is not str:
                return False
            if type(item) not in _PLAIN and not _plainly_canonical(item):
                return False
        return True
    if kind is list or kind is tuple:
        for item in value:  # type: ignore[attr-defined]
            if type(item) not in _PLAIN and not _plainly_canonical(item):
                return False
        return True
    return kind in _PLAIN


def check_canonical(value: object, where: str = "$") -> None:
    """Check that ``value`` has a canonical JSON form.

    Raises:
        NotCanonicalError: naming where the float or non-JSON value is.
    """
    if not _plainly_canonical(value):
        _check(value, where)  # raises, naming where, unless the value is only unusual


def canonical_json(document: Mapping[str, Any]) -> str:
    """Return the canonical JSON text of ``document``.

    Raises:
        NotCanonicalError: the document holds a float or a non-JSON value.
    """
    check_canonical(document)
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def chain_hash(previous: str, canonical: str) -> str:
    """Return the chain hash of an entry whose canonical text is ``canonical``."""
    digest = hashlib.sha256()
    digest.update(previous.encode("ascii"))
    digest.update(canonical.encode("utf-8"))
    return digest.hexdigest()


def sha256_text(text: str) -> str:
    """Return the SHA-256 hex digest of ``text`` (UTF-8)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
