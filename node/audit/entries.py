"""What an audit entry says.

Every entry has the same envelope (see :func:`envelope`)::

    {"format": 1, "seq": 12, "kind": "search", "node_id": "kcso",
     "time": "2026-11-21T04:50:01.123456+00:00", "data": {...}}

Kinds:

- ``search``: one search answered (or refused at the audit step), written
  before the answer leaves; ``data`` from :func:`search_data`;
- ``records_purged``: fields blanked and records deleted by retention;
- ``audit_purged``: audit entries older than the retention period removed;
  ``data.cut_seq`` / ``data.cut_hash`` anchor the chain that remains;
- ``budget_refused``: a requester's or agency's audit budget is spent and its
  searches are refused until the window ends (:mod:`node.audit_budget`):
  who, which budget, how much; once per budget and window, never per search;
- ``records_changed``: one change set applied (see :mod:`node.changes`):
  its source, watermark, counts per operation and the record ids sealed,
  unsealed, deleted and expunged, never a record's content.

A search entry names who asked (every claim, and the id of each legal
instrument, never the warrant's subject), the query digest, the contract
version, the outcome, the records sent (``disclosed``) with the opaque
reference each was sent under (``references``, in the same order; absent from
entries written before references existed), and per matching record the record id, the ids of the
warrants that applied to it (``warrants_applied``; absent from entries written
before it was logged), the match's ``tier`` and its short ``evidence`` codes
(``dob:exact``, ``name:common``, ...; absent from entries written before
issue 18) and every field's outcome with its class and reason.
Values never appear in it.

Entry formats (the envelope's ``format``; every reader reads both, through
:func:`record_fields`):

- **1**: each record carries ``fields``, one ``{"name", "class", "outcome",
  "mask", "reason"}`` object per field: about 6 KB for a search that matched
  two records, most of it the same words again for every field and record.
- **2** (written now): what was decided is recorded once per entry and
  referred to. ``data.fields`` lists each field named in the entry once, as
  ``[name, class]``; ``data.reasons`` each distinct reason once;
  ``data.decisions`` each distinct per-record decision once, as runs of
  fields decided alike, ``[outcome, reason index, mask, [field indexes]]``, in
  the record's field order; each record names its
  ``decision`` by index. Records decided alike (every record of a denied
  search) share one decision. Which fields and classes went to whom is still
  read from every entry; ``python -m bench.audit_entry_size`` measures both.

New keys of ``data`` (a catalog version beside the contract version, say) go
in :func:`search_data` beside ``contract_version``; readers ignore keys they
do not know, so neither format changes for them.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any, Literal

from fieldgate.core.claims import RequesterClaims
from fieldgate.node.disclosure_log import DisclosureEntry

ENTRY_FORMAT = 2
"""The entry format this build writes."""
ENTRY_FORMATS = frozenset({1, 2})
"""The entry formats this build reads (and ``audit verify`` accepts)."""

SEARCH = "search"
RECORDS_PURGED = "records_purged"
AUDIT_PURGED = "audit_purged"
AUDIT_INITIALISED = "audit_initialised"
"""``fieldgate node audit-init``: a log started or adopted on purpose, and why."""
RECORDS_CHANGED = "records_changed"
"""A change set applied (``node apply`` / ``node sync``): counts and ids, never content."""
BUDGET_REFUSED = "budget_refused"
"""A requester's (or agency's) audit budget spent: written once per budget and window."""
ENTRY_KINDS = frozenset(
    {SEARCH, RECORDS_PURGED, AUDIT_PURGED, AUDIT_INITIALISED, RECORDS_CHANGED, BUDGET_REFUSED}
)
"""Every entry kind."""

Outcome = Literal["hit", "no_hit", "denied", "policy_error"]


def _plain(value: object) -> Any:
    """Turn claim values (dates, tuples, nested dataclasses) into canonical-JSON values."""
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def requester_data(claims: RequesterClaims) -> dict[str, Any]:
    """Who asked: every claim field, and each legal instrument without its subject.

    Every field of :class:`~fieldgate.core.claims.RequesterClaims` is kept, so a
    field added later (a credential id, an issuer) is logged without a change
    here. A warrant is logged by kind, id, court, expiry and coverage: the
    person it names is not the requester's to have logged.
    """
    document: dict[str, Any] = {}
    for field in dataclasses.fields(claims):
        if field.name == "authority":
            continue
        document[field.name] = _plain(getattr(claims, field.name))
    document["authority"] = [
        {
            "kind": a.kind,
            "id": a.id,
            "court": a.court,
            "expires": a.expires.isoformat(),
            "covers": list(a.covers),
            "record_kinds": list(a.record_kinds),
        }
        for a in claims.authority
    ]
    return document


def search_outcome(entry: DisclosureEntry) -> Outcome:
    """Classify a search: a hit went out, nothing matched, all withheld, or the contract failed."""
    if any(r.verdict.error for r in entry.records):
        return "policy_error"
    if entry.disclosed_record_ids:
        return "hit"
    if entry.records:
        return "denied"
    return "no_hit"


def _decisions(entry: DisclosureEntry) -> tuple[dict[str, Any], list[int]]:
    """The shared tables of a format-2 entry, and each record's decision index."""
    fields: dict[tuple[str, str], int] = {}
    reasons: dict[str, int] = {}
    decisions: dict[str, int] = {}
    table: list[list[Any]] = []
    chosen: list[int] = []
    for outcome in entry.records:
        # Runs of fields decided alike, in the record's own field order.
        decision: list[list[Any]] = []
        for f in outcome.verdict.fields:
            index = fields.setdefault((f.name, f.sensitivity), len(fields))
            reason = reasons.setdefault(f.reason, len(reasons))
            if decision and decision[-1][:3] == [f.outcome, reason, f.mask]:
                decision[-1][3].append(index)
            else:
                decision.append([f.outcome, reason, f.mask, [index]])
        # Canonical text as the key: equal decisions are one entry of the table.
        key = repr(decision)
        if key not in decisions:
            decisions[key] = len(table)
            table.append(decision)
        chosen.append(decisions[key])
    shared = {
        "fields": [[name, sensitivity] for name, sensitivity in fields],
        "reasons": list(reasons),
        "decisions": table,
    }
    return shared, chosen


def search_data(entry: DisclosureEntry) -> dict[str, Any]:
    """The ``data`` of a ``search`` entry (format :data:`ENTRY_FORMAT`)."""
    sent = set(entry.disclosed_record_ids)
    shared, chosen = _decisions(entry)
    return {
        "request_id": entry.request_id,
        "decided_at": entry.time.isoformat(),
        "requester": requester_data(entry.requester),
        "query_digest": entry.query_digest,
        "contract_version": entry.contract_version,
        # Added after the format was fixed, and only when known, so entries
        # written before it verify and read exactly as they did.
        **({"catalog_version": entry.catalog_version} if entry.catalog_version else {}),
        "outcome": search_outcome(entry),
        "disclosed": list(entry.disclosed_record_ids),
        # Parallel to "disclosed": the reference each record left under.
        "references": list(entry.disclosed_references),
        **shared,
        "records": [
            {
                "record_id": r.record_id,
                "sent": r.record_id in sent,
                "disclose": r.verdict.disclose,
                "error": r.verdict.error,
                "warrants_applied": list(r.warrants_applied),
                "tier": r.match_tier,
                "evidence": list(r.match_evidence),
                "decision": decision,
            }
            for r, decision in zip(entry.records, chosen, strict=True)
        ],
    }


def _at(table: object, index: object) -> Any:
    """``table[index]``, or None when either is not what a list index needs."""
    if isinstance(table, list) and isinstance(index, int) and 0 <= index < len(table):
        return table[index]
    return None


def record_fields(data: dict[str, Any], record: dict[str, Any]) -> list[dict[str, Any]]:
    """Every field verdict of one logged record, in either format, as format 1 spells it.

    Each is ``{"name", "class", "outcome", "mask", "reason"}``. A damaged or
    foreign entry gives what can be read of it, never an exception (the log
    is verified separately: ``fieldgate audit verify``).
    """
    if "decision" not in record:
        listed = record.get("fields", [])
        return [f for f in listed if isinstance(f, dict)] if isinstance(listed, list) else []
    decision = _at(data.get("decisions"), record.get("decision"))
    verdicts: list[dict[str, Any]] = []
    for group in decision if isinstance(decision, list) else []:
        if not (isinstance(group, list) and len(group) == 4 and isinstance(group[3], list)):
            continue
        outcome, reason, mask, indexes = group
        said = _at(data.get("reasons"), reason)
        for index in indexes:
            field = _at(data.get("fields"), index)
            if not (isinstance(field, list) and len(field) == 2):
                continue
            verdicts.append(
                {
                    "name": field[0],
                    "class": field[1],
                    "outcome": outcome,
                    "mask": mask,
                    "reason": said if isinstance(said, str) else "",
                }
            )
    return verdicts


def envelope(seq: int, kind: str, node_id: str, time: dt.datetime, data: Any) -> dict[str, Any]:
    """The whole entry document whose canonical form is hashed into the chain."""
    if kind not in ENTRY_KINDS:
        raise ValueError(f"unknown audit entry kind {kind!r}")
    return {
        "format": ENTRY_FORMAT,
        "seq": seq,
        "kind": kind,
        "node_id": node_id,
        "time": time.astimezone(dt.UTC).isoformat(),
        "data": data,
    }
