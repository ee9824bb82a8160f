"""Abuse limits at the broker: rate limits, concurrency caps and a sweep detector.

Checked after the search is verified and validated (so the requester is the
one the credential names) and before any node is asked. Over a limit the
search is refused at once with RESOURCE_EXHAUSTED; nothing is ever queued.

- **Rate** (token buckets): one per requester — the credential id of a
  signed search, else ``agency/subject`` — and one per agency.
- **Concurrency**: searches in flight per requester and over the whole broker.
- **Sweep**: one requester asking about many *distinct* persons (distinct
  query digests) within a sliding window, the pattern of bulk scraping. A
  repeat of a query already in the window is not a new person and passes.

State is bounded: a requester's sweep window holds at most ``sweep_max_distinct``
digests, and idle requesters and agencies are forgotten once their buckets are
full again and their windows empty (checked every ``PRUNE_EVERY`` searches).
"""

from __future__ import annotations

import collections
import math
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

# Defined with the broker's other errors; still importable from here.
from fieldgate.broker.errors import LimitExceeded as LimitExceeded
from fieldgate.core.config import ConfigError, Section

LIMIT_REASONS = (
    "rate_limited_requester",
    "rate_limited_agency",
    "concurrency",
    "sweep",
    "polling",
)
"""Why a search was refused by a limit (``fieldgate_broker_rejected_total{reason}``)."""

PRUNE_EVERY = 1024
"""Searches between two sweeps of idle state."""


@dataclass(frozen=True)
class LimitsConfig:
    """``[broker.limits]``. Defaults are generous: an investigator at work never meets them."""

    enabled: bool = True
    """False turns every limit off (load tests, benchmarks)."""
    requester_rate: float = 10.0
    """Searches per second one requester's bucket refills with."""
    requester_burst: int = 200
    """Searches one requester may make at once from a full bucket."""
    agency_rate: float = 100.0
    """Searches per second one agency's bucket refills with (all its requesters together)."""
    agency_burst: int = 2000
    """Searches one agency may make at once from a full bucket."""
    requester_concurrency: int = 16
    """Searches one requester may have in flight."""
    global_concurrency: int = 512
    """Searches the whole broker may have in flight."""
    sweep_window_seconds: float = 3600.0
    """The sliding window in which distinct persons are counted per requester."""
    sweep_max_distinct: int = 2000
    """Distinct queries one requester may make within the window."""
    poll_max_repeats: int = 60
    """Times one requester may repeat the same query within the window: polling one
    person (a release date, say) is the bulk-flow pattern the Los Angeles jail fed."""


def limits_config(section: Section) -> LimitsConfig:
    """Read ``[broker.limits]`` (every key optional)."""
    d = LimitsConfig()
    config = LimitsConfig(
        enabled=section.boolean("enabled", d.enabled),
        requester_rate=section.number("requester_rate", d.requester_rate, minimum=0.001),
        requester_burst=section.integer("requester_burst", d.requester_burst, minimum=1),
        agency_rate=section.number("agency_rate", d.agency_rate, minimum=0.001),
        agency_burst=section.integer("agency_burst", d.agency_burst, minimum=1),
        requester_concurrency=section.integer(
            "requester_concurrency", d.requester_concurrency, minimum=1
        ),
        global_concurrency=section.integer("global_concurrency", d.global_concurrency, minimum=1),
        sweep_window_seconds=section.number(
            "sweep_window_seconds", d.sweep_window_seconds, minimum=1.0
        ),
        sweep_max_distinct=section.integer("sweep_max_distinct", d.sweep_max_distinct, minimum=1),
        poll_max_repeats=section.integer("poll_max_repeats", d.poll_max_repeats, minimum=1),
    )
    if config.requester_concurrency > config.global_concurrency:
        raise ConfigError(
            "broker.limits.requester_concurrency", "must not exceed global_concurrency"
        )
    section.finish()
    return config


@dataclass
class _Bucket:
    tokens: float
    updated: float

    def refill(self, now: float, rate: float, burst: int) -> None:
        self.tokens = min(float(burst), self.tokens + (now - self.updated) * rate)
        self.updated = now


@dataclass
class _Window:
    seen: collections.OrderedDict[str, float] = field(default_factory=collections.OrderedDict)
    repeats: dict[str, collections.deque[float]] = field(default_factory=dict)

    def expire(self, now: float, window: float) -> None:
        while self.seen:
            digest, last = next(iter(self.seen.items()))
            if now - last < window:
                break
            del self.seen[digest]
            self.repeats.pop(digest, None)
        for times in self.repeats.values():
            while times and now - times[0] >= window:
                times.popleft()


class Limits:
    """The broker's abuse limits; thread-safe, time from ``clock`` (seconds, monotonic)."""

    def __init__(self, config: LimitsConfig, clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self._clock = clock
        self._lock = threading.Lock()
        self._requesters: dict[str, _Bucket] = {}
        self._agencies: dict[str, _Bucket] = {}
        self._windows: dict[str, _Window] = {}
        self._in_flight: dict[str, int] = {}
        self.in_flight = 0
        """Searches in flight now, over every requester."""
        self._checks = 0

    @staticmethod
    def requester_key(agency: str, subject: str, credential_id: str = "") -> str:
        """Who a requester is for the limits: the credential when signed, else agency/subject."""
        return f"credential:{credential_id}" if credential_id else f"{agency}/{subject}"

    def admit(self, requester: str, agency: str, digest: str) -> None:
        """Take one search's tokens and note its query, or raise :class:`LimitExceeded`."""
        c = self.config
        if not c.enabled:
            return
        with self._lock:
            now = self._clock()
            self._checks += 1
            if self._checks % PRUNE_EVERY == 0:
                self._prune(now)
            mine = self._requesters.setdefault(requester, _Bucket(float(c.requester_burst), now))
            mine.refill(now, c.requester_rate, c.requester_burst)
            theirs = self._agencies.setdefault(agency, _Bucket(float(c.agency_burst), now))
            theirs.refill(now, c.agency_rate, c.agency_burst)
            if mine.tokens < 1:
                wait = (1 - mine.tokens) / c.requester_rate
                raise LimitExceeded(
                    "rate_limited_requester",
                    f"too many searches by {requester}: at most {c.requester_burst} at once and "
                    f"{c.requester_rate:g} per second after that; retry in {_seconds(wait)}",
                )
            if theirs.tokens < 1:
                wait = (1 - theirs.tokens) / c.agency_rate
                raise LimitExceeded(
                    "rate_limited_agency",
                    f"too many searches from agency {agency!r}: at most {c.agency_burst} at once "
                    f"and {c.agency_rate:g} per second after that; retry in {_seconds(wait)}",
                )
            window = self._windows.setdefault(requester, _Window())
            window.expire(now, c.sweep_window_seconds)
            if digest not in window.seen and len(window.seen) >= c.sweep_max_distinct:
                oldest = next(iter(window.seen.values()))
                wait = c.sweep_window_seconds - (now - oldest)
                raise LimitExceeded(
                    "sweep",
                    f"{requester} searched {len(window.seen)} different persons in the last "
                    f"{_seconds(c.sweep_window_seconds)} (the limit is {c.sweep_max_distinct}); "
                    f"bulk searching is refused — a new person can be searched in "
                    f"{_seconds(wait)}; call the agency if this is legitimate work",
                )
            times = window.repeats.setdefault(digest, collections.deque())
            if len(times) >= c.poll_max_repeats:
                wait = c.sweep_window_seconds - (now - times[0])
                raise LimitExceeded(
                    "polling",
                    f"{requester} repeated the same search {len(times)} times in the last "
                    f"{_seconds(c.sweep_window_seconds)} (the limit is {c.poll_max_repeats}); "
                    f"polling one person is refused — retry in {_seconds(wait)}",
                )
            mine.tokens -= 1
            theirs.tokens -= 1
            window.seen[digest] = now
            window.seen.move_to_end(digest)
            times.append(now)

    @contextmanager
    def running(self, requester: str) -> Iterator[None]:
        """Hold one of ``requester``'s concurrency slots while the search runs.

        Raises:
            LimitExceeded: the requester or the broker has no slot free.
        """
        c = self.config
        with self._lock:
            mine = self._in_flight.get(requester, 0)
            if c.enabled and self.in_flight >= c.global_concurrency:
                raise LimitExceeded(
                    "concurrency",
                    f"the broker is running its maximum of {c.global_concurrency} searches; "
                    "retry in a moment",
                )
            if c.enabled and mine >= c.requester_concurrency:
                raise LimitExceeded(
                    "concurrency",
                    f"{requester} already has {mine} searches running (the limit is "
                    f"{c.requester_concurrency}); wait for one to finish",
                )
            self._in_flight[requester] = mine + 1
            self.in_flight += 1
        try:
            yield
        finally:
            with self._lock:
                self.in_flight -= 1
                left = self._in_flight[requester] - 1
                if left:
                    self._in_flight[requester] = left
                else:
                    del self._in_flight[requester]

    def tracked(self) -> int:
        """Requesters and agencies currently remembered (for tests of boundedness)."""
        with self._lock:
            return len(self._requesters) + len(self._agencies) + len(self._windows)

    def prune(self) -> None:
        """Forget idle requesters and agencies now."""
        with self._lock:
            self._prune(self._clock())

    def _prune(self, now: float) -> None:
        c = self.config
        for key, bucket in list(self._requesters.items()):
            bucket.refill(now, c.requester_rate, c.requester_burst)
            if bucket.tokens >= c.requester_burst:
                del self._requesters[key]
        for key, bucket in list(self._agencies.items()):
            bucket.refill(now, c.agency_rate, c.agency_burst)
            if bucket.tokens >= c.agency_burst:
                del self._agencies[key]
        for key, window in list(self._windows.items()):
            window.expire(now, c.sweep_window_seconds)
            if not window.seen:
                del self._windows[key]


def _seconds(value: float) -> str:
    value = max(value, 0.0)
    if value < 1:
        return f"{math.ceil(value * 1000)} ms"
    if value < 120:
        return f"{math.ceil(value)} s"
    return f"{math.ceil(value / 60)} min"
