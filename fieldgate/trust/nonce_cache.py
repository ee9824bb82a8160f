"""A bounded memory of the proofs already seen, so none can be used twice."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable


class ReplayCache:
    """Remembers (credential id, nonce) pairs for ``window`` seconds, at most ``capacity``.

    A proof older than the freshness window is refused by its timestamp, so a
    nonce only needs remembering that long. When the cache is full of live
    entries, new proofs are refused: under a flood the node fails closed
    rather than forgetting and admitting a replay.
    """

    def __init__(
        self,
        window: float,
        capacity: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.window = window
        self.capacity = capacity
        self._clock = clock
        self._seen: OrderedDict[tuple[str, str], float] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._seen)

    def first_use(self, credential_id: str, nonce: str) -> bool:
        """Record the pair; True the first time it is seen, False for a replay or when full."""
        now = self._clock()
        key = (credential_id, nonce)
        with self._lock:
            # Entries are in insertion order, so expired ones sit at the front.
            while self._seen:
                oldest, expiry = next(iter(self._seen.items()))
                if expiry > now:
                    break
                del self._seen[oldest]
            if key in self._seen or len(self._seen) >= self.capacity:
                return False
            self._seen[key] = now + self.window
            return True

    def forget(self, credential_id: str, nonce: str) -> None:
        """Drop a pair recorded for a search that was then refused before any agency saw it.

        A refused search was never used, so its proof may be sent again: a rate
        limit must not turn an honest retry into a "replay".
        """
        with self._lock:
            self._seen.pop((credential_id, nonce), None)
