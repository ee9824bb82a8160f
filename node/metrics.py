"""A node's Prometheus metrics (``fieldgate_node_*``); every one is listed in docs/metrics.md.

:class:`NodeMetrics` owns the metric objects of one node, in two registries
(one pair per node: see :mod:`fieldgate.ops.metrics`):

- **public** (``[node.metrics] listen``, the federation's shared Prometheus):
  only series that move the same way for a held-but-denied person and an
  absent one — counted per search the requester sees (verified searches by
  agency type and purpose, verification refusals, limit refusals, audit
  write failures) or not about searches at all (readiness, contract in force,
  records held, bundles refused, tampering, witnesses) — and the gRPC server
  metrics, whose handling times are the held ones (node/answer_timing.py);
- **private** (``[node.metrics] private_listen``, scraped only by the agency's
  own Prometheus): everything that moves per *matching record*, and so only
  when the searched person is held — denied searches, hits found, disclosed
  and withheld, fields by outcome and class, contract evaluations (count and
  time), policy errors, decision-cache lookups, audit write time (a held
  person's entry is larger) — and the process's CPU and memory (a held person
  costs contract time). Issue 16: these told other agencies' operators, who
  read the shared Prometheus, whom the sanctuary county holds.

``tests/ops/test_ops_person_blind.py`` runs one requester's searches for a
held-but-denied person and an absent one against a real node and checks the
public scrape text is the same. The node's
core, trust gate and servicer report to it through a handful of methods;
nothing here sees a name, a record id or a subject, and every label comes
from a bounded set (vocabularies, verification reasons, catalog sensitivity
classes, fixed outcomes). Series with a known label set exist at zero from the
start, so rates and alerts work before the first event.

Histogram buckets follow measured latencies on the demo contracts (2 cores):
one contract evaluation takes 0.1–0.5 ms at the median and 10–40 ms at p99,
bounded by the engine's 1 s evaluation timeout; one audit write (SQLite WAL,
fsynced) 1.6 ms at the median, 18 ms at p99, bounded by the store's busy
timeout.
"""

from __future__ import annotations

import collections
import math
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

from fieldgate.core.vocabulary import AGENCY_TYPES, NOT_ANSWERING_REASONS, PURPOSES
from fieldgate.node.limits import NODE_LIMIT_REASONS
from fieldgate.ops.metrics import bounded
from fieldgate.policy.catalog import SENSITIVITY_CLASSES
from fieldgate.policy.contract_bundle import REJECT_REASONS
from fieldgate.policy.decision_cache import DecisionCache
from fieldgate.policy.engine import ContractEngine
from fieldgate.policy.verdict import RecordVerdict
from fieldgate.trust.verify import REASONS

POLICY_BUCKETS = (
    0.0001,
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
)
"""Seconds of one contract evaluation (median ≈ 0.3 ms, p99 ≈ 35 ms, timeout 1 s)."""

AUDIT_BUCKETS = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
)
"""Seconds of one audit write (median ≈ 1.6 ms, p99 ≈ 18 ms, busy timeout a few seconds)."""

HIT_OUTCOMES = ("found", "disclosed", "withheld")
FIELD_OUTCOMES = ("released", "masked", "withheld")
UNCLASSIFIED = "unclassified"
"""Sensitivity label of a field the catalog does not (or no longer) classifies."""


class _DecisionCacheLookups(Collector):
    """``fieldgate_node_decision_cache_lookups_total{result}``, read from the active contract.

    Each loaded contract has its own cache; the counts of contracts swapped out
    are carried over, so the series only grows.
    """

    def __init__(self) -> None:
        self.carried = (0, 0)
        self.cache: DecisionCache | None = None

    def swap(self, cache: DecisionCache | None) -> None:
        if self.cache is not None:
            self.carried = (
                self.carried[0] + self.cache.hits,
                self.carried[1] + self.cache.misses,
            )
        self.cache = cache

    def collect(self) -> Iterator[CounterMetricFamily]:
        hits, misses = self.carried
        if self.cache is not None:
            hits, misses = hits + self.cache.hits, misses + self.cache.misses
        family = CounterMetricFamily(
            "fieldgate_node_decision_cache_lookups",
            "Contract decisions looked up in the node's decision cache, by result: hit "
            "(the same input was decided before) or miss (the engine was asked).",
            labels=["result"],
        )
        family.add_metric(["hit"], hits)
        family.add_metric(["miss"], misses)
        yield family


class NodeMetrics:
    """The ``fieldgate_node_*`` metrics of one node."""

    def __init__(
        self, registry: CollectorRegistry, private: CollectorRegistry | None = None
    ) -> None:
        """Register every metric at zero: person-blind in ``registry``, the rest in ``private``.

        ``private`` None: a registry of their own that no endpoint serves (tools, tests).
        """
        self.registry = registry
        """The public series (served on ``[node.metrics] listen``)."""
        self.private = private if private is not None else CollectorRegistry()
        """The person-dependent series (served only on ``private_listen``)."""
        public, private = registry, self.private
        self.queries = Counter(
            "fieldgate_node_queries",
            "Verified searches answered, by the requester's agency type and purpose.",
            ["agency_type", "purpose"],
            registry=public,
        )
        self.denied_queries = Counter(
            "fieldgate_node_denied_queries",
            "Verified searches in which the contract withheld at least one matching record, "
            "by the requester's agency type and purpose.",
            ["agency_type", "purpose"],
            registry=private,
        )
        self.hits = Counter(
            "fieldgate_node_hits",
            "Matching records: found (asked about), disclosed or withheld.",
            ["outcome"],
            registry=private,
        )
        self.fields = Counter(
            "fieldgate_node_fields",
            "Fields of matching records released whole, masked or withheld, by sensitivity class.",
            ["outcome", "sensitivity"],
            registry=private,
        )
        self.policy_seconds = Histogram(
            "fieldgate_node_policy_evaluation_seconds",
            "Time of one contract evaluation for one record.",
            buckets=POLICY_BUCKETS,
            registry=private,
        )
        self.policy_errors = Counter(
            "fieldgate_node_policy_errors",
            "Records withheld because the contract failed to decide "
            "(missing or broken contract, evaluation error, malformed decision, budget spent).",
            registry=private,
        )
        self.contract_info = Gauge(
            "fieldgate_node_contract_info",
            "The contract in force: 1 for its name and version (SHA-256); "
            'version="" means no usable contract.',
            ["name", "version"],
            registry=public,
        )
        self.contract_field_local = Gauge(
            "fieldgate_node_contract_field_local",
            "1 when the contract in force declared itself field-local and passed the node's "
            "check, so the engine is asked once per kind of record rather than per record.",
            registry=public,
        )
        self.verification_failures = Counter(
            "fieldgate_node_verification_failures",
            "Searches refused (answered as not found) because verification failed, by reason.",
            ["reason"],
            registry=public,
        )
        self.audit_seconds = Histogram(
            "fieldgate_node_audit_write_seconds",
            "Time to write one search's audit entry durably, failed writes included.",
            buckets=AUDIT_BUCKETS,
            registry=private,
        )
        self.audit_failures = Counter(
            "fieldgate_node_audit_write_failures",
            "Audit writes that failed; each such search released nothing.",
            registry=public,
        )
        self.audit_tamper = Counter(
            "fieldgate_node_audit_tamper_detected",
            "Times the node found its audit log changed by someone else (an entry inserted, "
            "altered, removed or reordered, the file deleted or replaced); it then discloses "
            "nothing until an operator acts.",
            registry=public,
        )
        self.audit_witness_missing = Gauge(
            "fieldgate_node_audit_witness_quorum_missing",
            "1 while the newest checkpoint pushed to the node's witnesses was cosigned by fewer "
            "than its quorum (unreachable, or refusing: a fork or a rewritten history), else 0.",
            registry=public,
        )
        self.audit_budget_refusals = Counter(
            "fieldgate_node_audit_budget_refusals",
            "Searches refused (RESOURCE_EXHAUSTED) because their requester's or agency's audit "
            "budget is spent, by budget: requester, agency. Each budget's first refusal in a "
            "window is written to the audit log, the rest only counted here.",
            ["budget"],
            registry=registry,
        )
        self.audit_volume = Gauge(
            "fieldgate_node_audit_volume_bytes",
            "Bytes the audit log uses on its volume (database and WAL), read at each scrape.",
            registry=registry,
        )
        self.audit_volume_capacity = Gauge(
            "fieldgate_node_audit_volume_capacity_bytes",
            "The audit volume's size as configured ([node.audit_budget] volume_bytes; 0: unset).",
            registry=registry,
        )
        self.audit_volume_alert_fraction = Gauge(
            "fieldgate_node_audit_volume_alert_fraction",
            "The fraction of the audit volume at which FieldgateAuditVolumeFilling fires "
            "([node.audit_budget] alert_fraction).",
            registry=registry,
        )
        for budget in ("requester", "agency"):
            self.audit_budget_refusals.labels(budget)
        self.ready = Gauge(
            "fieldgate_node_ready",
            "1 while the node can answer (usable contract, audit log writable), else 0; "
            "the same as its gRPC health status.",
            registry=public,
        )
        self.records = Gauge(
            "fieldgate_node_records",
            "Records in the node's store.",
            registry=public,
        )
        self.bundle_rejections = Counter(
            "fieldgate_node_bundle_rejected",
            "Contract bundles refused (the last good contract stays active), by reason: "
            "unreadable, signature, hash, compile, tests.",
            ["reason"],
            registry=public,
        )
        self.limit_refusals = Counter(
            "fieldgate_node_limit_refusals",
            "Searches this node refused (RESOURCE_EXHAUSTED) under its own limits, by reason: "
            "rate_requester, rate_agency, sweep, polling.",
            ["reason"],
            registry=public,
        )
        self.not_answering_searches = Counter(
            "fieldgate_node_not_answering",
            "Searches this node answered as 'not answering' because it could not decide any "
            "search (no_contract, trust_stale, trust_unavailable, audit_unavailable).",
            ["reason"],
            registry=registry,
        )
        for reason in NOT_ANSWERING_REASONS:
            self.not_answering_searches.labels(reason)
        for reason in NODE_LIMIT_REASONS:
            self.limit_refusals.labels(reason)
        for reason in REJECT_REASONS:
            self.bundle_rejections.labels(reason)
        for agency_type in AGENCY_TYPES:
            for purpose in PURPOSES:
                self.queries.labels(agency_type, purpose)
                self.denied_queries.labels(agency_type, purpose)
        for outcome in HIT_OUTCOMES:
            self.hits.labels(outcome)
        for outcome in FIELD_OUTCOMES:
            for sensitivity in SENSITIVITY_CLASSES:
                self.fields.labels(outcome, sensitivity)
        for reason in REASONS:
            self.verification_failures.labels(reason)
        self._contract: tuple[str, str] | None = None
        self._cache_lookups = _DecisionCacheLookups()
        private.register(self._cache_lookups)
        self._field_series: dict[tuple[str, str], Any] = {}
        # Every search counts one query: its series are looked up once per (bounded)
        # label pair, not on every search.
        self._children: dict[tuple[int, tuple[str, ...]], Any] = {}

    def track_records(self, count: Callable[[], int]) -> None:
        """Read the store size from ``count`` at each scrape (NaN if it fails)."""

        def read() -> float:
            try:
                return float(count())
            except Exception:  # a closed or busy store must not break the scrape
                return math.nan

        self.records.set_function(read)

    def track_audit_volume(
        self, used: Callable[[], int], capacity: int, alert_fraction: float
    ) -> None:
        """Read the audit volume in use from ``used`` at each scrape; export its limits."""

        def read() -> float:
            try:
                return float(used())
            except Exception:  # a missing file must not break the scrape
                return math.nan

        self.audit_volume.set_function(read)
        self.audit_volume_capacity.set(capacity)
        self.audit_volume_alert_fraction.set(alert_fraction)

    def audit_budget_refused(self, budget: str) -> None:
        """Count one search refused for a spent audit budget (``requester`` or ``agency``)."""
        self.audit_budget_refusals.labels(budget).inc()

    def set_contract(self, contract: ContractEngine) -> None:
        """Make ``contract`` the one ``fieldgate_node_contract_info`` names."""
        cache = getattr(contract, "cache", None)
        if cache is not self._cache_lookups.cache:
            self._cache_lookups.swap(cache if isinstance(cache, DecisionCache) else None)
        self.contract_field_local.set(1 if contract.field_local else 0)
        labels = (contract.name, contract.version)
        if labels == self._contract:
            return
        if self._contract is not None:
            self.contract_info.remove(*self._contract)
        self._contract = labels
        self.contract_info.labels(*self._contract).set(1)

    def bundle_rejected(self, reason: str) -> None:
        """Count one contract bundle refused."""
        self.bundle_rejections.labels(bounded(reason, REJECT_REASONS)).inc()

    def query(self, agency_type: str, purpose: str, *, denied: bool) -> None:
        """Count one verified search (``denied``: the contract withheld a matching record)."""
        labels = (bounded(agency_type, AGENCY_TYPES), bounded(purpose, PURPOSES))
        self._child(self.queries, labels).inc()
        if denied:  # the denied series appears only once a search was denied, as before
            self._child(self.denied_queries, labels).inc()

    def _child(self, family: Any, labels: tuple[str, ...]) -> Any:
        """``family.labels(*labels)``, looked up once per family and (bounded) labels."""
        child = self._children.get((id(family), labels))
        if child is None:
            child = self._children[(id(family), labels)] = family.labels(*labels)
        return child

    def verdict(self, verdict: RecordVerdict) -> None:
        """Count the verdict on one matching record and its fields."""
        self.hits.labels("found").inc()
        self.hits.labels("disclosed" if verdict.disclose else "withheld").inc()
        if verdict.error:
            self.policy_errors.inc()
        tally: collections.Counter[tuple[str, str]] = collections.Counter(
            (f.outcome, f.sensitivity) for f in verdict.fields
        )
        for (outcome, sensitivity), count in tally.items():
            child = self._field_series.get((outcome, sensitivity))
            if child is None:  # label lookups per field were a visible share of a hit's cost
                bucket = bounded(sensitivity, SENSITIVITY_CLASSES) if sensitivity else UNCLASSIFIED
                child = self._field_series[(outcome, sensitivity)] = self.fields.labels(
                    outcome, bucket
                )
            child.inc(count)

    def limit_refused(self, reason: str) -> None:
        """Count one search refused under the node's own limits."""
        self.limit_refusals.labels(bounded(reason, NODE_LIMIT_REASONS)).inc()

    def policy_evaluated(self, seconds: float) -> None:
        """Observe one contract evaluation."""
        self.policy_seconds.observe(seconds)

    def not_answering(self, reason: str) -> None:
        """Count one search answered as 'not answering' (the node's state, not the person's)."""
        self.not_answering_searches.labels(bounded(reason, tuple(NOT_ANSWERING_REASONS))).inc()

    def verification_failed(self, reason: str) -> None:
        """Count one search refused by verification."""
        self.verification_failures.labels(bounded(reason, REASONS)).inc()

    def audit_written(self, seconds: float, *, ok: bool) -> None:
        """Observe one audit write (``ok=False``: it failed)."""
        self.audit_seconds.observe(seconds)
        if not ok:
            self.audit_failures.inc()

    def audit_tampered(self, reason: str) -> None:
        """Count one detection of tampering with the audit log."""
        self.audit_tamper.inc()

    def witness_quorum(self, reached: bool) -> None:
        """Note whether the last checkpoint pushed reached its witness quorum."""
        self.audit_witness_missing.set(0 if reached else 1)

    def set_ready(self, ready: bool) -> None:
        """Mirror the node's health status."""
        self.ready.set(1 if ready else 0)
