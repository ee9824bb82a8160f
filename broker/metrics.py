"""The broker's Prometheus metrics (``fieldgate_broker_*``); listed in docs/metrics.md.

Labels are bounded: purposes from the vocabulary, node ids only from the
broker's own config (one series per configured node, up to
:data:`MAX_NODE_SERIES` nodes), fixed outcome, status
and reason sets. Buckets follow measured latencies: on loopback a whole
search over three nodes takes 10–50 ms and one node call a few to 40 ms; the
default deadline is 3 s and no search may run past 10 s.

Per-node latency is for operators only: the metrics port is not reachable by
requesters (see docs/metrics.md), who are never told how long an agency
worked on their search.
"""

from __future__ import annotations

from collections.abc import Sequence

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from fieldgate.broker.limits import LIMIT_REASONS
from fieldgate.core.vocabulary import PURPOSES
from fieldgate.ops.metrics import OTHER, bounded
from fieldgate.trust.verify import REASONS
from fieldgate.v2 import broker_pb2

SEARCH_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0)
"""Seconds of one whole search or one node call (loopback p50 ≈ 20 ms; deadline 3–10 s)."""

NODES_ANSWERING_BUCKETS = (0, 1, 2, 3, 5, 10, 20, 50, 100, 200, 500, 1000)
"""Nodes that answered one search: a handful in a region, hundreds in a large federation."""

SEARCH_OUTCOMES = ("complete", "partial", "no_answer", "rejected", "cancelled")
"""``complete``: every node answered; ``partial``: some did; ``no_answer``: none did;
``rejected``: refused before any node was asked (see ``fieldgate_broker_rejected_total``);
``cancelled``: the requester went away (cancelled the call) before every node had ended."""

NODE_STATUSES = ("answered", "not_answering", "deadline", "unreachable", "error")
"""How one node call ended."""

REJECT_REASONS = (
    *REASONS,
    "invalid_request",
    "invalid_deadline",
    *LIMIT_REASONS,
    "unary_audience",
)
"""Why the broker refused a search: a verification reason, a malformed request, a limit
(``rate_limited_requester``, ``rate_limited_agency``, ``concurrency``, ``sweep``), or a
unary search addressed to more agencies than its answer may hold (``unary_audience``)."""

MAX_NODE_SERIES = 256
"""Most nodes given series of their own (8 each: a histogram, 5 status counters, 2 hedge
counters). A directory of 8,500 nodes would make 68,000: 10 s to create and 19 s and
12.8 MB per scrape on the (loaded) development machine. Above it, every node's calls
are counted under ``node="other"``; a node's own trouble is in the broker's log."""

UNKNOWN_PURPOSE = "unknown"
"""Purpose label of a search refused before its purpose could be trusted."""

_STATUS_OF: dict[int, str] = {
    broker_pb2.NODE_STATUS_ANSWERED: "answered",
    broker_pb2.NODE_STATUS_TIMED_OUT: "deadline",
    broker_pb2.NODE_STATUS_UNREACHABLE: "unreachable",
}


class BrokerMetrics:
    """The ``fieldgate_broker_*`` metrics of one broker."""

    def __init__(self, registry: CollectorRegistry, node_ids: Sequence[str]) -> None:
        """Register every metric in ``registry``, with a series per node in ``node_ids``
        (up to :data:`MAX_NODE_SERIES` nodes; above it every node counts as ``other``)."""
        self.registry = registry
        self._nodes = frozenset(node_ids) if len(node_ids) <= MAX_NODE_SERIES else frozenset()
        self.searches = Counter(
            "fieldgate_broker_searches",
            "Searches by purpose and outcome (complete, partial, no_answer, rejected).",
            ["purpose", "outcome"],
            registry=registry,
        )
        self.search_seconds = Histogram(
            "fieldgate_broker_search_seconds",
            "End-to-end time of one search, from arrival to answer (rejected ones included).",
            buckets=SEARCH_BUCKETS,
            registry=registry,
        )
        self.node_call_seconds = Histogram(
            "fieldgate_broker_node_call_seconds",
            "Time of one call to one node, whatever its outcome.",
            ["node"],
            buckets=SEARCH_BUCKETS,
            registry=registry,
        )
        self.node_calls = Counter(
            "fieldgate_broker_node_calls",
            "Calls to each node by how they ended (answered, deadline, unreachable, error).",
            ["node", "status"],
            registry=registry,
        )
        self.nodes_answering = Histogram(
            "fieldgate_broker_nodes_answering",
            "How many nodes answered one search (fanned-out searches only).",
            buckets=NODES_ANSWERING_BUCKETS,
            registry=registry,
        )
        self.rejected = Counter(
            "fieldgate_broker_rejected",
            "Searches refused before fan-out, by reason (verification reasons, invalid_request, "
            "invalid_deadline, and the limits: rate_limited_requester, rate_limited_agency, "
            "concurrency, sweep).",
            ["reason"],
            registry=registry,
        )
        self.in_flight = Gauge(
            "fieldgate_broker_searches_in_flight",
            "Searches being fanned out now (bounded by the broker's global concurrency cap).",
            registry=registry,
        )
        self.node_channels = Gauge(
            "fieldgate_broker_node_channels_open",
            "Channels to nodes open now (opened on a node's first search, closed once idle).",
            registry=registry,
        )
        self.hedges_sent = Counter(
            "fieldgate_broker_hedges_sent",
            "Calls to a replica of a node that lagged past hedge_after_ms or failed.",
            ["node"],
            registry=registry,
        )
        self.hedges_won = Counter(
            "fieldgate_broker_hedges_won",
            "Agency answers that came from a replica rather than the node itself.",
            ["node"],
            registry=registry,
        )
        for purpose in PURPOSES:
            for outcome in SEARCH_OUTCOMES:
                self.searches.labels(purpose, outcome)
        self.searches.labels(UNKNOWN_PURPOSE, "rejected")
        # Each node's series, looked up once: node_call runs for every node of every search.
        self._node_series = {node: self._series_of(node) for node in self._nodes}
        for node in self._nodes:
            self.hedges_sent.labels(node)
            self.hedges_won.labels(node)
        for reason in REJECT_REASONS:
            self.rejected.labels(reason)

    def _series_of(self, node: str) -> tuple[Histogram, dict[str, Counter]]:
        calls = {status: self.node_calls.labels(node, status) for status in NODE_STATUSES}
        return self.node_call_seconds.labels(node), calls

    def node_call(self, node_id: str, status: int, seconds: float) -> None:
        """Observe one node call that ended with ``status`` (a ``NodeStatus``)."""
        series = self._node_series.get(node_id)
        if series is None:  # not a configured node: one shared series, made when first needed
            series = self._node_series.get(OTHER)
            if series is None:
                series = self._node_series[OTHER] = self._series_of(OTHER)
        seconds_of, calls = series
        seconds_of.observe(seconds)
        calls[_STATUS_OF.get(status, "error")].inc()

    def hedge_sent(self, node_id: str) -> None:
        """Count one call to a replica of ``node_id``."""
        self.hedges_sent.labels(bounded(node_id, self._nodes)).inc()

    def hedge_won(self, node_id: str) -> None:
        """Count one answer for ``node_id`` taken from a replica."""
        self.hedges_won.labels(bounded(node_id, self._nodes)).inc()

    def search_cancelled(self, purpose: str) -> None:
        """Count one search whose requester went away before every node had ended."""
        self.searches.labels(bounded(purpose, PURPOSES), "cancelled").inc()

    def search_done(
        self, purpose: str, results: Sequence[broker_pb2.AgencyResult], seconds: float
    ) -> None:
        """Count one fanned-out search and how many nodes answered it."""
        answered = sum(1 for r in results if r.status == broker_pb2.NODE_STATUS_ANSWERED)
        if results and answered == len(results):
            outcome = "complete"
        elif answered:
            outcome = "partial"
        else:
            outcome = "no_answer"
        self.searches.labels(bounded(purpose, PURPOSES), outcome).inc()
        self.nodes_answering.observe(answered)
        self.search_seconds.observe(seconds)

    def rejected_search(self, purpose: str, reason: str, seconds: float) -> None:
        """Count one search refused before fan-out."""
        label = purpose if purpose in PURPOSES else UNKNOWN_PURPOSE
        self.searches.labels(label, "rejected").inc()
        self.rejected.labels(bounded(reason, REJECT_REASONS)).inc()
        self.search_seconds.observe(seconds)
