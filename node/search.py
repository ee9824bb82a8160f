"""The agency node's core: search the store, ask the contract, log, disclose.

:class:`AgencyNode` is transport-free so the same flow serves the gRPC
servicer, tests and tools. For each search it:

1. finds candidate records in its own store (fuzzy person matching);
2. asks the contract about each one, with the requester's claims;
3. writes the disclosure entry (the audit seam) — before anything leaves;
4. returns the hits of the disclosed records, and only those.

A record the contract withholds is dropped without trace, so the answer for a
requester who may not see a person is identical to the answer for a person
the agency does not hold.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry

from fieldgate.core.claims import RequesterClaims
from fieldgate.core.digests import KEY_BYTES, PersonDigester
from fieldgate.core.query import PersonQuery, query_digest
from fieldgate.node.disclosure_log import DisclosureEntry, DisclosureLog, RecordOutcome
from fieldgate.node.limits import NodeLimitExceeded, NodeLimits
from fieldgate.node.metrics import NodeMetrics
from fieldgate.node.references import disclosure_reference
from fieldgate.node.request_ids import MemoryRequestIds, RequestIds
from fieldgate.node.requester_view import (
    WITHHELD_EVIDENCE_REASON,
    blind_query,
    evidence_known,
    pointer_order,
)
from fieldgate.node.store import Candidate, RecordStore
from fieldgate.policy.authority import applied_ids
from fieldgate.policy.catalog import FieldCatalog
from fieldgate.policy.contract_bundle import BundleWatcher
from fieldgate.policy.decision_log import DecisionLog
from fieldgate.policy.engine import ContractEngine, MissingContract
from fieldgate.policy.evaluate import PolicyDecision, evaluate_record, requester_input
from fieldgate.policy.field_locality import adopt_field_locality, told_fields_by_kind
from fieldgate.policy.records import Record
from fieldgate.policy.verdict import RecordVerdict, build_hit, deny, withhold
from fieldgate.v2 import common_pb2

log = logging.getLogger("fieldgate.node")

__all__ = ["AgencyNode", "NodeCounters", "query_digest", "requester_input"]

MAX_CANDIDATES = 1000
"""Matching records considered per search, before any contract is asked.

The cut comes before the contract so that withheld records cannot crowd out
released ones: the contract is asked about candidates in score order until
enough are disclosed. Only a person with more than this many matching records
could see the cut, and then the same for held and withheld records alike.
"""

POLICY_BUDGET_SECONDS = 1.0
"""Contract time one search may spend; past it the remaining candidates are
withheld, so a slow contract never turns an answer into a timeout (which would
tell a held person from an absent one)."""


@dataclass
class NodeCounters:
    """Running counts an operator (and, later, Prometheus) reads."""

    requests: int = 0
    searches: int = 0
    candidates: int = 0
    disclosed: int = 0
    withheld: int = 0
    policy_errors: int = 0
    fields_released: int = 0
    fields_masked: int = 0
    fields_withheld: int = 0
    last_policy_error: str = field(default="")


@dataclass
class _Decided:
    """What deciding one search's candidates produced."""

    outcomes: list[RecordOutcome] = field(default_factory=list)
    hits: list[common_pb2.Hit] = field(default_factory=list)
    sent: list[tuple[str, str]] = field(default_factory=list)
    """(record id, reference) of each hit, in answer order: the audit entry maps them."""
    decisions: list[tuple[PolicyDecision, int]] = field(default_factory=list)
    """Each decision the contract was asked for, with its evaluation time (ns)."""


class AgencyNode:
    """One agency's records, catalog and contract, answering person searches."""

    def __init__(
        self,
        *,
        node_id: str,
        agency_name: str,
        contact: common_pb2.PointerContact,
        store: RecordStore,
        catalog: FieldCatalog,
        contract: ContractEngine,
        disclosure_log: DisclosureLog,
        max_hits: int,
        today: Callable[[], dt.date] = dt.date.today,
        policy_budget_seconds: float = POLICY_BUDGET_SECONDS,
        metrics: NodeMetrics | None = None,
        bundle: BundleWatcher | None = None,
        decision_log: DecisionLog | None = None,
        digester: PersonDigester | None = None,
        limits: NodeLimits | None = None,
        request_ids: RequestIds | None = None,
    ) -> None:
        self.node_id = node_id
        self.agency_name = agency_name
        self.contact = contact
        self.catalog = catalog
        self.contract = contract
        self.counters = NodeCounters()
        self.store = store
        self._log = disclosure_log
        self._max_hits = max_hits
        self._today = today
        self._budget = policy_budget_seconds
        # The store is used from worker threads one search at a time; the
        # counters are shared by all of them.
        self._store_lock = threading.Lock()
        self._counter_lock = threading.Lock()
        self.audit_ok = True
        """False after an audit write failed, until one succeeds (health reports it)."""
        self.metrics = metrics if metrics is not None else NodeMetrics(CollectorRegistry())
        adopt_field_locality(contract, catalog)
        self.metrics.set_contract(contract)
        self.bundle = bundle
        """The signed bundle the contract comes from, re-checked on each search; or None."""
        self.decision_log = decision_log
        self.digester = digester or PersonDigester(secrets.token_bytes(KEY_BYTES))
        """Keys every person digest the node logs (never an unkeyed hash)."""
        self.limits = limits
        """The node's own abuse limits (node/limits.py), or None."""
        self.request_ids: RequestIds = request_ids or MemoryRequestIds()
        """Every request id this node answered, each claimed once (node/request_ids.py)."""
        # Hot reload: a search holds the engine it started with; an engine swapped
        # out is closed when its last search finishes.
        self._contract_lock = threading.Lock()
        self._users: dict[int, int] = {}
        self._retired: list[ContractEngine] = []
        self.metrics.track_records(self.record_count)

    @property
    def ready(self) -> bool:
        """Whether the node can answer: a usable contract and a writable audit log."""
        return (
            not isinstance(self.contract, MissingContract)
            and self.audit_ok
            and not self.audit_halted
        )

    @property
    def audit_halted(self) -> str:
        """Why the audit log refuses every write after tampering ("" when it does not)."""
        # Only the tamper-evident store halts; other logs have no such state.
        return str(getattr(self._log, "halted", ""))

    def record_count(self) -> int:
        """How many records the store holds."""
        with self._store_lock:
            return self.store.count()

    def _contact_for(self, record: Record, verdict: RecordVerdict) -> common_pb2.PointerContact:
        """The record's own unit and phone only where the contract released them whole."""
        whole = {f.name: f.value for f in verdict.fields if f.outcome == "released"}
        unit, phone = whole.get("contact_unit"), whole.get("contact_phone")
        return common_pb2.PointerContact(
            agency=self.agency_name,
            unit=unit if isinstance(unit, str) else self.contact.unit,
            phone=phone if isinstance(phone, str) else self.contact.phone,
        )

    def refresh_contract(self) -> bool:
        """Activate a new signed bundle if its file changed and it is good; True if one was.

        A refused bundle leaves the active contract in place (see
        :class:`fieldgate.policy.contract_bundle.BundleWatcher`).
        """
        if self.bundle is None:
            return False
        return self.bundle.poll(self._activate) is not None

    def _activate(self, engine: ContractEngine) -> None:
        """Swap in ``engine``; the old one closes once no search still uses it."""
        adopt_field_locality(engine, self.catalog)
        with self._contract_lock:
            old, self.contract = self.contract, engine
            close_now = self._users.get(id(old), 0) == 0
            if not close_now:
                self._retired.append(old)
        self.metrics.set_contract(engine)
        if close_now:
            old.close()

    def _acquire(self) -> ContractEngine:
        with self._contract_lock:
            contract = self.contract
            self._users[id(contract)] = self._users.get(id(contract), 0) + 1
            return contract

    def _release(self, contract: ContractEngine) -> None:
        with self._contract_lock:
            left = self._users[id(contract)] - 1
            if left:
                self._users[id(contract)] = left
                return
            del self._users[id(contract)]
            if contract not in self._retired:
                return
            self._retired.remove(contract)
        contract.close()

    def decide(
        self,
        claims: RequesterClaims,
        record: Record,
        contract: ContractEngine | None = None,
        told_fields: Sequence[str] | None = None,
    ) -> RecordVerdict:
        """Ask the contract about one record; any failure withholds everything.

        Sealed, juvenile and expunged records are withheld here, before any
        contract is asked: no contract, however written, can release them.
        ``told_fields``: see :func:`fieldgate.policy.evaluate.evaluate_record` (a search
        passes :func:`fieldgate.policy.field_locality.told_fields_by_kind` of its records).
        """
        return self._evaluate(claims, record, contract or self.contract, told_fields)[0].verdict

    def _evaluate(
        self,
        claims: RequesterClaims,
        record: Record,
        contract: ContractEngine,
        told_fields: Sequence[str] | None,
        match_tier: str = "strong",
        match_evidence: Sequence[str] = (),
    ) -> tuple[PolicyDecision, int]:
        started = time.perf_counter_ns()
        decision = evaluate_record(
            contract,
            claims,
            record,
            self.catalog,
            node_id=self.node_id,
            today=self._today(),
            told_fields=told_fields,
            match_tier=match_tier,
            match_evidence=match_evidence,
        )
        elapsed = time.perf_counter_ns() - started
        if decision.policy_input is not None:  # the contract was asked
            self.metrics.policy_evaluated(elapsed / 1e9)
        return decision, elapsed

    def search(
        self, request_id: str, claims: RequesterClaims, query: PersonQuery
    ) -> list[common_pb2.Hit]:
        """Answer one search with the hits this requester may see, best first.

        Raises:
            node.errors.DisclosureLogError: the disclosure entry could not be
                written; nothing may be released.
            node.request_ids.DuplicateRequestId: ``request_id`` was used here
                before; nothing was looked at, counted or written.
        """
        # First of all: a second search under one id would file two disclosures under it.
        self.request_ids.claim(request_id)
        if self.limits is not None:
            self._admit(request_id, claims, query)
        self.refresh_contract()
        contract = self._acquire()
        try:
            return self._search(request_id, claims, query, contract)
        finally:
            self._release(contract)

    def _admit(self, request_id: str, claims: RequesterClaims, query: PersonQuery) -> None:
        """Apply the node's limits; a refusal is counted and audited, then raised.

        Raises:
            node.limits.NodeLimitExceeded: over a limit (the servicer answers
                RESOURCE_EXHAUSTED).
            node.errors.DisclosureLogError: the refusal could not be audited.
        """
        assert self.limits is not None
        try:
            self.limits.admit(claims, query)
        except NodeLimitExceeded as exc:
            self._refused(request_id, claims, query, exc)
            raise

    def _refused(
        self, request_id: str, claims: RequesterClaims, query: PersonQuery, exc: NodeLimitExceeded
    ) -> None:
        """Count and audit a search refused under the node's limits (it released nothing)."""
        self.metrics.limit_refused(exc.reason)
        # Audited like a search that released nothing; no record is named.
        self._write_audit(
            DisclosureEntry(
                request_id=request_id,
                node_id=self.node_id,
                time=dt.datetime.now(dt.UTC),
                requester=claims,
                query_digest=self.digester.query(query),
                contract_version=f"refused:{exc.reason}",
                records=(),
                disclosed_record_ids=(),
                catalog_version=self.catalog.version,
            )
        )

    def _search(
        self,
        request_id: str,
        claims: RequesterClaims,
        query: PersonQuery,
        contract: ContractEngine,
    ) -> list[common_pb2.Hit]:
        wanted = min(query.max_hits, self._max_hits)
        blind = blind_query(query)
        with self._store_lock:
            candidates, blind_candidates = self.store.search_views(
                query, blind, limit=MAX_CANDIDATES
            )
        # All of the search's records in one job where the contract's
        # evaluations are direct calls (the embedded engine's own thread).
        decided = (
            contract.run(
                lambda: self._decide_all(
                    request_id, claims, query, candidates, blind_candidates, contract, wanted
                )
            )
            if candidates or blind_candidates
            else _Decided()
        )
        outcomes, hits, decisions = decided.outcomes, decided.hits, decided.decisions
        if self.limits is not None:
            # Polling on what this requester would be shown (node/limits.py):
            # withheld records are not counted, so held-but-denied stays absent.
            shown = [o.record_id for o in outcomes if o.verdict.disclose]
            try:
                self.limits.admit_disclosed(claims, shown)
            except NodeLimitExceeded as exc:
                self._refused(request_id, claims, query, exc)
                raise
        with self._counter_lock:
            self.counters.searches += 1
        self.metrics.query(
            claims.agency_type,
            claims.purpose,
            denied=any(not outcome.verdict.disclose for outcome in outcomes),
        )
        self._write_audit(
            DisclosureEntry(
                request_id=request_id,
                node_id=self.node_id,
                time=dt.datetime.now(dt.UTC),
                requester=claims,
                query_digest=self.digester.query(query),
                contract_version=contract.version,
                records=tuple(outcomes),
                disclosed_record_ids=tuple(record_id for record_id, _ in decided.sent),
                disclosed_references=tuple(reference for _, reference in decided.sent),
                catalog_version=self.catalog.version,
            )
        )
        if self.decision_log is not None:
            for decision, eval_ns in decisions:
                self.decision_log.write(decision, contract, eval_ns=eval_ns)
        return hits

    def _decide_all(
        self,
        request_id: str,
        claims: RequesterClaims,
        query: PersonQuery,
        candidates: Sequence[Candidate],
        blind_candidates: Sequence[Candidate],
        contract: ContractEngine,
        wanted: int,
    ) -> _Decided:
        """Ask the contract about candidates, best first, until ``wanted`` are disclosed.

        A candidate whose match rests on evidence the contract withholds from
        this requester is decided on its names alone, as a pointer at most
        (:mod:`fieldgate.node.requester_view`); such pointers follow the other
        hits in a keyed order.
        """
        decided = _Decided()
        deadline = time.monotonic() + self._budget
        full = {c.record.record_id for c in candidates}
        blind = {c.record.record_id: c for c in blind_candidates}
        # Names-only candidates the query's own evidence did not find come last.
        ordered = [*candidates, *(c for c in blind_candidates if c.record.record_id not in full)]
        # A field-local contract is asked once per kind of record in this search
        # rather than once per record (fieldgate/policy/field_locality.py).
        told = told_fields_by_kind(c.record for c in ordered) if contract.field_local else {}
        pointers: list[tuple[str, common_pb2.Hit, tuple[str, str]]] = []
        for candidate in ordered:
            if len(decided.hits) >= wanted:
                break
            record = candidate.record
            if time.monotonic() > deadline:
                if record.record_id not in full:
                    continue  # never asked about: not a candidate of this query
                verdict = deny(record, self.catalog, "search's policy budget spent")
                # Not asked, but judged as the contract would have been told: a
                # replay of the entry decides this record without a guess.
                applied = applied_ids(claims.authority, record, self._today())
                self._count(verdict)
                decided.outcomes.append(
                    RecordOutcome(
                        record.record_id,
                        verdict,
                        applied,
                        candidate.match.tier,
                        candidate.match.evidence,
                    )
                )
                continue
            in_full = record.record_id in full
            tier = candidate.match.tier if in_full else "possible"
            decision = self._ask(
                decided, claims, record, contract, told, tier, candidate.match.evidence
            )
            known = evidence_known(decision[0], record, self.catalog, query)
            if known and not in_full:
                continue  # known evidence rules it out: not a candidate of this query
            match = candidate.match
            if not known:
                names_only = blind.get(record.record_id)
                if names_only is None or names_only.match.tier != "possible":
                    verdict = withhold(record, self.catalog, WITHHELD_EVIDENCE_REASON)
                    decision = (dataclasses.replace(decision[0], verdict=verdict), decision[1])
                elif tier != "possible":
                    decision = self._ask(
                        decided, claims, record, contract, told, "possible",
                        names_only.match.evidence,
                    )  # fmt: skip
                match = names_only.match if names_only is not None else match
            verdict, applied = decision[0].verdict, decision[0].warrants_applied
            self._count(verdict)
            decided.outcomes.append(
                RecordOutcome(record.record_id, verdict, applied, match.tier, match.evidence)
            )
            if verdict.disclose:
                # Never the record id: a reference only this agency can map back.
                reference = disclosure_reference(
                    self.digester, self.node_id, request_id, record.record_id
                )
                hit = build_hit(
                    record, match, verdict, self._contact_for(record, verdict), reference=reference
                )
                if known:
                    decided.hits.append(hit)
                    decided.sent.append((record.record_id, reference))
                else:
                    order = pointer_order(self.digester, record.record_id)
                    pointers.append((order, hit, (record.record_id, reference)))
        pointers.sort(key=lambda pointer: pointer[0])
        decided.hits = [*decided.hits, *(hit for _, hit, _ in pointers)][:wanted]
        decided.sent = [*decided.sent, *(sent for _, _, sent in pointers)][:wanted]
        return decided

    def _ask(
        self,
        decided: _Decided,
        claims: RequesterClaims,
        record: Record,
        contract: ContractEngine,
        told: dict[str, tuple[str, ...]],
        tier: str,
        evidence: tuple[str, ...],
    ) -> tuple[PolicyDecision, int]:
        """Ask the contract about ``record`` at ``tier`` (on ``evidence``), noting the decision."""
        decision = self._evaluate(claims, record, contract, told.get(record.kind), tier, evidence)
        decided.decisions.append(decision)
        return decision

    def _write_audit(self, entry: DisclosureEntry) -> None:
        """Write ``entry`` durably, timing it and noting whether the log works."""
        started = time.perf_counter()
        try:
            self._log.write(entry)
        except Exception:
            self.audit_ok = False
            self.metrics.audit_written(time.perf_counter() - started, ok=False)
            raise
        self.audit_ok = True
        self.metrics.audit_written(time.perf_counter() - started, ok=True)

    def count_request(self) -> None:
        """Count one Search call as it arrives, before any check."""
        with self._counter_lock:
            self.counters.requests += 1

    def _count(self, verdict: RecordVerdict) -> None:
        self.metrics.verdict(verdict)
        if verdict.error:
            log.warning("contract failed to decide; record withheld: %s", verdict.error)
        with self._counter_lock:
            c = self.counters
            c.candidates += 1
            if verdict.error:
                c.policy_errors += 1
                c.last_policy_error = verdict.error
            if verdict.disclose:
                c.disclosed += 1
            else:
                c.withheld += 1
            for f in verdict.fields:
                if f.outcome == "released":
                    c.fields_released += 1
                elif f.outcome == "masked":
                    c.fields_masked += 1
                else:
                    c.fields_withheld += 1
