"""Remembered contract decisions: one engine evaluation per distinct input, not per record.

A contract decides from its input document alone: the requester's claims, the
authority the node verified, and the record's kind, flags and field *names*
(never its values, never its id). Most of a search's matches share that
document -- the same requester, bookings that hold the same fields -- so the
node asks the engine once per distinct document and reuses the answer. The
engine's evaluation is the dominant cost of a disclosed hit (see
BENCHMARKS.md, "Policy evaluation"), and a cache keyed on the whole document
cannot change what is released: the same input gets the same decision the
engine gave for it.

That holds only while evaluation is a function of the input and the loaded
modules and data. A contract that reads the clock, draws random numbers or
asks the network is not, so :func:`deterministic_sources` keeps it uncached.
Each loaded contract has its own cache, so a new bundle starts empty.
Failures are never remembered: the next record asks the engine again.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from types import MappingProxyType

DEFAULT_DECISION_CACHE_SIZE = 4096
"""Distinct input documents a node remembers per contract (least recently used go first).

Keys are 32-byte digests and values small frozen decisions, so a full cache
holds well under a few megabytes.
"""

NONDETERMINISTIC_BUILTINS = (
    "time.now_ns",
    "rand.",
    "uuid.",
    "http.send",
    "opa.runtime",
    "net.lookup_ip_addr",
    "crypto.x509.parse_and_verify",
)
"""Builtins whose answer can change between two evaluations of the same input.

Matched as text anywhere in a module (a mention in a comment only turns the
cache off, which is the safe direction). Rego has no first-class functions, so
a builtin cannot be called without its name appearing in the source.
"""


def deterministic_sources(sources: Iterable[str]) -> bool:
    """True when no module calls a builtin listed in :data:`NONDETERMINISTIC_BUILTINS`."""
    return not any(name in text for text in sources for name in NONDETERMINISTIC_BUILTINS)


def freeze(value: object) -> object:
    """A read-only copy of an engine result: a remembered decision is shared by many records.

    Objects become read-only mappings, sets frozensets and arrays tuples, so no
    caller can change a decision another record will be given.
    """
    if isinstance(value, Mapping):
        return MappingProxyType({k: freeze(v) for k, v in value.items()})
    if isinstance(value, set | frozenset):
        return frozenset(freeze(v) for v in value)
    if isinstance(value, list | tuple):
        return tuple(freeze(v) for v in value)
    return value


class DecisionCache:
    """A bounded, thread-safe map from an input document (canonical JSON) to its decision."""

    def __init__(self, size: int = DEFAULT_DECISION_CACHE_SIZE) -> None:
        if size < 1:
            raise ValueError(f"decision cache size must be at least 1, not {size}")
        self.size = size
        self.hits = 0
        self.misses = 0
        self._entries: OrderedDict[bytes, object] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def _key(input_json: str) -> bytes:
        # SHA-256: two different documents sharing a key is not a practical event,
        # and the cache holds 32 bytes per document instead of the document.
        return hashlib.sha256(input_json.encode()).digest()

    def get(self, input_json: str) -> tuple[bool, object]:
        """``(True, decision)`` if this document was decided before, else ``(False, None)``."""
        key = self._key(input_json)
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                self.hits += 1
                return True, self._entries[key]
            self.misses += 1
            return False, None

    def put(self, input_json: str, decision: object) -> None:
        """Remember ``decision`` (frozen, see :func:`freeze`) for this document."""
        key = self._key(input_json)
        with self._lock:
            self._entries[key] = decision
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        """Forget every decision (the counts stay)."""
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)
