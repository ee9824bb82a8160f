"""The audit seam: every answer is recorded here before it leaves the node.

:class:`DisclosureLog` is the interface the tamper-evident audit log
implements (:class:`fieldgate.node.audit.store.AuditStore`); ``write`` must
return only once the entry is durable and raise
:class:`~fieldgate.node.errors.DisclosureLogError` otherwise, in which case the
node releases nothing. :class:`MemoryDisclosureLog` keeps entries in memory for
tools, benchmarks and tests.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from dataclasses import asdict, dataclass
from typing import Protocol

from fieldgate.core.claims import RequesterClaims
from fieldgate.policy.verdict import RecordVerdict


@dataclass(frozen=True)
class RecordOutcome:
    """The verdict on one matching record of one search.

    Attributes:
        record_id: the record.
        verdict: what the node did with it.
        warrants_applied: the ids of the requester's warrants that applied to
            this record (unexpired, naming its person, covering its kind), as
            the node judged them; never whom they name.
        match_tier: the match's tier (``strong``, ``possible``; "" for
            entries written before tiers were logged).
        match_evidence: the match's evidence codes (``dob:exact``,
            ``name:common``, ...: :attr:`fieldgate.matching.matcher.Match.evidence`),
            never a value.
    """

    record_id: str
    verdict: RecordVerdict
    warrants_applied: tuple[str, ...]
    match_tier: str = ""
    match_evidence: tuple[str, ...] = ()


@dataclass(frozen=True)
class DisclosureEntry:
    """What one search at one node found and released.

    Attributes:
        request_id: the broker's request id.
        node_id: this node.
        time: when the answer was decided (UTC).
        requester: the claims the contract was given.
        query_digest: keyed digest (HMAC-SHA256) of the normalised query.
        contract_version: SHA-256 of the contract that decided.
        records: the verdict on every matching record, disclosed or not.
        disclosed_record_ids: the records actually sent, in answer order.
        disclosed_references: the opaque reference each of them was sent under
            (:mod:`fieldgate.node.references`), in the same order: how the
            agency maps a reference its investigator quotes back to the record.
        catalog_version: SHA-256 of the field catalog the contract was given
            (:attr:`fieldgate.policy.catalog.FieldCatalog.version`); "" in entries
            written before it was recorded.
    """

    request_id: str
    node_id: str
    time: dt.datetime
    requester: RequesterClaims
    query_digest: str
    contract_version: str
    records: tuple[RecordOutcome, ...]
    disclosed_record_ids: tuple[str, ...]
    disclosed_references: tuple[str, ...] = ()
    catalog_version: str = ""

    def to_json(self) -> str:
        """The entry as one JSON line; withheld values are never in it."""
        document = {
            "request_id": self.request_id,
            "node_id": self.node_id,
            "time": self.time.isoformat(),
            "requester": asdict(self.requester),
            "query_digest": self.query_digest,
            "contract_version": self.contract_version,
            **({"catalog_version": self.catalog_version} if self.catalog_version else {}),
            "disclosed": list(self.disclosed_record_ids),
            "references": list(self.disclosed_references),
            "records": [
                {
                    "record_id": r.record_id,
                    "disclose": r.verdict.disclose,
                    "error": r.verdict.error,
                    "warrants_applied": list(r.warrants_applied),
                    "tier": r.match_tier,
                    "evidence": list(r.match_evidence),
                    "released": [f.name for f in r.verdict.fields if f.outcome == "released"],
                    "masked": [f.name for f in r.verdict.fields if f.outcome == "masked"],
                    "withheld": [f.name for f in r.verdict.fields if f.outcome == "withheld"],
                }
                for r in self.records
            ],
        }
        return json.dumps(document, default=str, sort_keys=True)


class DisclosureLog(Protocol):
    """Where disclosure entries go before an answer leaves the node."""

    def write(self, entry: DisclosureEntry) -> int | None:
        """Record ``entry`` durably or raise :class:`~fieldgate.node.errors.DisclosureLogError`.

        A log that knows how many bytes it kept for the entry may return them
        (the audit budget charges that instead of measuring the entry again).
        """
        ...


class MemoryDisclosureLog:
    """Keeps entries in memory, for tests and in-process tools."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.entries: list[DisclosureEntry] = []

    def write(self, entry: DisclosureEntry) -> None:
        with self._lock:
            self.entries.append(entry)
