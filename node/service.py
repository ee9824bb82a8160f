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

import datetime as dt
import hashlib
import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from fieldgate.claims import RequesterClaims
from fieldgate.query import PersonQuery
from fieldgate.v1 import common_pb2
from node.authority import authority_input
from node.catalog import FieldCatalog
from node.contract import ContractEngine
from node.disclosure import RecordVerdict, build_hit, decide_fields, deny, withhold
from node.disclosure_log import DisclosureEntry, DisclosureLog, RecordOutcome
from node.errors import ContractError
from node.records import Record
from node.store import RecordStore

log = logging.getLogger("fieldgate.node")

CANDIDATE_FACTOR = 4
"""Candidates fetched per hit wanted: withheld records must not crowd out released ones."""


@dataclass
class NodeCounters:
    """Running counts an operator (and, later, Prometheus) reads."""

    searches: int = 0
    candidates: int = 0
    disclosed: int = 0
    withheld: int = 0
    policy_errors: int = 0
    fields_released: int = 0
    fields_masked: int = 0
    fields_withheld: int = 0
    last_policy_error: str = field(default="")


def requester_input(claims: RequesterClaims) -> dict[str, object]:
    """``input.requester`` as contracts see it."""
    return {
        "subject": claims.subject,
        "agency": claims.agency,
        "agency_type": claims.agency_type,
        "roles": list(claims.roles),
        "purpose": claims.purpose,
        "case_number": claims.case_number,
    }


def query_digest(query: PersonQuery) -> str:
    """SHA-256 of the normalised query, so logs can correlate without holding names."""
    canonical = json.dumps(
        {
            "surname": query.surname,
            "given_name": query.given_name,
            "dob": query.dob.isoformat() if query.dob else "",
            "identifiers": sorted(query.identifiers),
        },
        sort_keys=True,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


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
        # The store and the contract engine are used from worker threads one
        # search at a time.
        self._lock = threading.Lock()

    def _contact_for(self, record: Record) -> common_pb2.PointerContact:
        unit = record.fields.get("contact_unit")
        phone = record.fields.get("contact_phone")
        return common_pb2.PointerContact(
            agency=self.agency_name,
            unit=unit if isinstance(unit, str) else self.contact.unit,
            phone=phone if isinstance(phone, str) else self.contact.phone,
        )

    def decide(self, claims: RequesterClaims, record: Record) -> RecordVerdict:
        """Ask the contract about one record; any failure withholds everything.

        Sealed, juvenile and expunged records are withheld here, before any
        contract is asked: no contract, however written, can release them.
        """
        if record.sealed or record.juvenile or record.expunged:
            return withhold(record, self.catalog, "sealed, juvenile or expunged record")
        policy_input = {
            "requester": requester_input(claims),
            "authority": authority_input(claims.authority, record, self._today()),
            "record": {
                "id": record.record_id,
                "kind": record.kind,
                "agency": self.node_id,
                "sealed": record.sealed,
                "juvenile": record.juvenile,
                "expunged": record.expunged,
                "fields": list(record.fields),
            },
        }
        try:
            raw = self.contract.evaluate(policy_input)
        except ContractError as exc:
            return deny(record, self.catalog, str(exc))
        return decide_fields(raw, record, self.catalog)

    def search(
        self, request_id: str, claims: RequesterClaims, query: PersonQuery
    ) -> list[common_pb2.Hit]:
        """Answer one search with the hits this requester may see, best first.

        Raises:
            node.errors.DisclosureLogError: the disclosure entry could not be
                written; nothing may be released.
        """
        wanted = min(query.max_hits, self._max_hits)
        with self._lock:
            candidates = self.store.search(query, limit=wanted * CANDIDATE_FACTOR)
            verdicts = [(c, self.decide(claims, c.record)) for c in candidates]
        outcomes: list[RecordOutcome] = []
        hits: list[common_pb2.Hit] = []
        for candidate, verdict in verdicts:
            self._count(verdict)
            outcomes.append(RecordOutcome(candidate.record.record_id, verdict))
            if verdict.disclose and len(hits) < wanted:
                hits.append(
                    build_hit(
                        candidate.record,
                        candidate.match,
                        verdict,
                        self._contact_for(candidate.record),
                    )
                )
        self.counters.searches += 1
        self._log.write(
            DisclosureEntry(
                request_id=request_id,
                node_id=self.node_id,
                time=dt.datetime.now(dt.UTC),
                requester=claims,
                query_digest=query_digest(query),
                contract_version=self.contract.version,
                records=tuple(outcomes),
                disclosed_record_ids=tuple(h.record_id for h in hits),
            )
        )
        return hits

    def _count(self, verdict: RecordVerdict) -> None:
        c = self.counters
        c.candidates += 1
        if verdict.error:
            c.policy_errors += 1
            c.last_policy_error = verdict.error
            log.warning("contract failed to decide; record withheld: %s", verdict.error)
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
