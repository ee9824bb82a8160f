"""Small statistics: percentiles, summaries and least-squares slopes."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


def percentile(samples: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0..100) by linear interpolation between order statistics."""
    if not samples:
        return math.nan
    ordered = sorted(samples)
    if len(ordered) == 1:
        return ordered[0]
    rank = (len(ordered) - 1) * q / 100.0
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True)
class Summary:
    """Latency summary of one series, in milliseconds."""

    n: int
    p50: float
    p90: float
    p99: float
    mean: float
    minimum: float
    maximum: float

    def as_dict(self) -> dict[str, float]:
        """JSON-ready form."""
        return {
            "n": self.n,
            "p50_ms": self.p50,
            "p90_ms": self.p90,
            "p99_ms": self.p99,
            "mean_ms": self.mean,
            "min_ms": self.minimum,
            "max_ms": self.maximum,
        }


def summarize(seconds: Sequence[float]) -> Summary:
    """Summarise latencies given in seconds (the summary is in milliseconds)."""
    ms = [s * 1000.0 for s in seconds]
    if not ms:
        nan = math.nan
        return Summary(0, nan, nan, nan, nan, nan, nan)
    return Summary(
        n=len(ms),
        p50=percentile(ms, 50),
        p90=percentile(ms, 90),
        p99=percentile(ms, 99),
        mean=sum(ms) / len(ms),
        minimum=min(ms),
        maximum=max(ms),
    )


def slope(xs: Sequence[float], ys: Sequence[float]) -> float:
    """Least-squares slope of ``ys`` against ``xs`` (NaN with fewer than two distinct xs)."""
    if len(xs) != len(ys) or len(set(xs)) < 2:
        return math.nan
    mean_x = sum(xs) / len(xs)
    mean_y = sum(ys) / len(ys)
    sxx = sum((x - mean_x) ** 2 for x in xs)
    sxy = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True))
    return sxy / sxx


def ratio(value: float, limit: float) -> float:
    """``value / limit``, NaN when the limit is zero or either is NaN."""
    if limit == 0 or math.isnan(limit) or math.isnan(value):
        return math.nan
    return value / limit
