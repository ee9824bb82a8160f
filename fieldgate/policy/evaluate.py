"""One record's policy input and the node's verdict on it: the single path every decision takes.

:class:`fieldgate.node.search.AgencyNode` decides every search hit through
:func:`decide_record`, and so do the authoring tools (``fieldgate contract
explain``, ``check``, ``diff``, ``render``, ``conformance``): what a tool says
a persona would see is computed by the very code that decides what leaves the
node, never by a copy of it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from fieldgate.core.claims import RequesterClaims
from fieldgate.policy.authority import applied_ids, authority_input
from fieldgate.policy.catalog import FieldCatalog
from fieldgate.policy.engine import ContractEngine
from fieldgate.policy.errors import ContractError
from fieldgate.policy.records import Record
from fieldgate.policy.verdict import RecordVerdict, decide_fields, deny, pointer_only, withhold

RESTRICTED_REASON = "sealed, juvenile or expunged record"
"""Why a sealed, juvenile or expunged record is withheld, before any contract is asked."""

POSSIBLE_REASON = "possible match: a pointer at most"
"""Why every field of a disclosed possible match is withheld, whatever the contract said."""

MATCH_TIERS = ("strong", "possible")
"""Tiers a record is decided at (``input.match.tier``); a ``none`` match is never asked about."""


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


def record_input(
    record: Record, node_id: str, fields: Sequence[str] | None = None
) -> dict[str, object]:
    """``input.record``: the record's kind, flags and field names, never its values nor its id.

    A contract decides about kinds of records, never about one record by name:
    without the id, records that hold the same fields get the same document,
    which lets the node ask the engine once for all of them
    (:mod:`fieldgate.policy.decision_cache`). Field names are sorted for the same reason.

    Args:
        fields: the field names to tell the contract instead of the record's
            own, sorted by the caller: a superset of them, for a field-local
            contract (:mod:`fieldgate.policy.field_locality`).
    """
    return {
        "kind": record.kind,
        "agency": node_id,
        "sealed": record.sealed,
        "juvenile": record.juvenile,
        "expunged": record.expunged,
        "fields": sorted(record.fields) if fields is None else list(fields),
    }


def build_policy_input(
    claims: RequesterClaims,
    record: Record,
    *,
    node_id: str,
    today: dt.date,
    warrants_applied: Collection[str] | None = None,
    fields: Sequence[str] | None = None,
    match_tier: str = "strong",
    match_evidence: Sequence[str] = (),
) -> dict[str, object]:
    """The whole ``input`` document for one record (see docs/contracts.md).

    Args:
        claims: the verified requester claims.
        record: the matching record.
        node_id: the node's id, sent as ``input.record.agency``.
        today: the date warrants are judged on (``applies_to_record``).
        warrants_applied: the ids of the warrants that apply to ``record``
            when already known (replaying an audit entry that logged them);
            None, as on the node, judges each warrant here.
        fields: see :func:`record_input`.
        match_tier: how well the record matched the search (``input.match.tier``):
            ``strong``, or ``possible`` (the node releases at most a pointer,
            and only if the contract discloses the record). Authoring tools
            judge a record as a strong match, the case that releases most.
        match_evidence: the match's evidence codes (``input.match.evidence``,
            :attr:`fieldgate.matching.matcher.Match.evidence`), e.g.
            ``["surname:exact", "given:exact", "dob:exact", "name:rare"]``.
    """
    return {
        "requester": requester_input(claims),
        "authority": authority_input(claims.authority, record, today, warrants_applied),
        "record": record_input(record, node_id, fields),
        "match": {"tier": match_tier, "evidence": list(match_evidence)},
    }


@dataclass(frozen=True)
class PolicyDecision:
    """One record's trip through the policy: what the contract was asked and said, and the verdict.

    Attributes:
        policy_input: the ``input`` document; None when the record was withheld
            before the contract was asked (sealed, juvenile, expunged).
        raw: the contract's raw decision; None when it was not asked, failed
            or returned undefined.
        verdict: what the node does with the record
            (:func:`fieldgate.policy.verdict.decide_fields`).
        warrants_applied: the ids of the requester's warrants that apply to
            the record (``applies_to_record``), as the contract was told; for
            a record withheld before the contract was asked, judged the same
            way. The audit entry logs them per record.
    """

    policy_input: dict[str, object] | None
    raw: object
    verdict: RecordVerdict
    warrants_applied: tuple[str, ...]


def evaluate_record(
    contract: ContractEngine,
    claims: RequesterClaims,
    record: Record,
    catalog: FieldCatalog,
    *,
    node_id: str,
    today: dt.date,
    applied: Collection[str] | None = None,
    told_fields: Sequence[str] | None = None,
    match_tier: str = "strong",
    match_evidence: Sequence[str] = (),
) -> PolicyDecision:
    """Ask the contract about one record; any failure withholds everything.

    Sealed, juvenile and expunged records are withheld here, before any
    contract is asked: no contract, however written, can release them.

    Args:
        applied: the ids of the warrants that apply to ``record`` when already
            known (see :func:`build_policy_input`); None judges them.
        told_fields: the field names to tell the contract instead of the
            record's own: sorted, and a superset of them. Only for a contract
            found field-local (:mod:`fieldgate.policy.field_locality`), which decides each
            of the record's fields the same whatever else it is told the record
            holds; the verdict covers the record's own fields only. None tells
            the contract the record's own fields.
        match_tier: see :func:`build_policy_input`. A ``possible`` match the
            contract discloses leaves as a pointer: every field withheld
            (:data:`POSSIBLE_REASON`). Any other tier withholds the record.
        match_evidence: see :func:`build_policy_input`.
    """
    # One judgement of the warrants serves the contract's input and the audit
    # entry. Told by id, so only when the ids tell the instruments apart (the
    # wire refuses repeats; authoring tools may combine personas freely).
    ids = (
        applied_ids(claims.authority, record, today)
        if applied is None
        else tuple(a.id for a in claims.authority if a.id in applied)
    )
    if applied is None and len({a.id for a in claims.authority}) == len(claims.authority):
        applied = ids
    if record.sealed or record.juvenile or record.expunged:
        return PolicyDecision(None, None, withhold(record, catalog, RESTRICTED_REASON), ids)
    if match_tier not in MATCH_TIERS:
        return PolicyDecision(None, None, withhold(record, catalog, "no match tier"), ids)
    policy_input = build_policy_input(
        claims,
        record,
        node_id=node_id,
        today=today,
        warrants_applied=applied,
        fields=told_fields,
        match_tier=match_tier,
        match_evidence=match_evidence,
    )
    try:
        raw = contract.evaluate(policy_input)
    except ContractError as exc:
        return PolicyDecision(policy_input, None, deny(record, catalog, str(exc)), ids)
    verdict = decide_fields(raw, record, catalog)
    if match_tier == "possible" and verdict.disclose:
        # The node's rule, whatever the contract released: a possible match is
        # someone else as often as not, so at most whom to call leaves.
        verdict = pointer_only(record, catalog, POSSIBLE_REASON)
    return PolicyDecision(policy_input, raw, verdict, ids)


def decide_record(
    contract: ContractEngine,
    claims: RequesterClaims,
    record: Record,
    catalog: FieldCatalog,
    *,
    node_id: str,
    today: dt.date,
) -> RecordVerdict:
    """The node's verdict on one record (:func:`evaluate_record` without the details)."""
    return evaluate_record(contract, claims, record, catalog, node_id=node_id, today=today).verdict
