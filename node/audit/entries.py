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
- ``records_changed``: one change set applied (see :mod:`node.changes`):
  its source, watermark, counts per operation and the record ids sealed,
  unsealed, deleted and expunged, never a record's content.

A search entry names who asked (every claim, and the id of each legal
instrument, never the warrant's subject), the query digest, the contract
version, the outcome, and per matching record the record id, the ids of the
warrants that applied to it (``warrants_applied``; absent from entries written
before it was logged) and every field's outcome with its class and reason.
Values never appear in it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any, Literal

from fieldgate.core.claims import RequesterClaims
from fieldgate.node.disclosure_log import DisclosureEntry

ENTRY_FORMAT = 1
"""The envelope format this build writes and reads."""

SEARCH = "search"
RECORDS_PURGED = "records_purged"
AUDIT_PURGED = "audit_purged"
AUDIT_INITIALISED = "audit_initialised"
"""``fieldgate node audit-init``: a log started or adopted on purpose, and why."""
RECORDS_CHANGED = "records_changed"
"""A change set applied (``node apply`` / ``node sync``): counts and ids, never content."""
ENTRY_KINDS = frozenset({SEARCH, RECORDS_PURGED, AUDIT_PURGED, AUDIT_INITIALISED, RECORDS_CHANGED})
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


def search_data(entry: DisclosureEntry) -> dict[str, Any]:
    """The ``data`` of a ``search`` entry."""
    sent = set(entry.disclosed_record_ids)
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
        "records": [
            {
                "record_id": r.record_id,
                "sent": r.record_id in sent,
                "disclose": r.verdict.disclose,
                "error": r.verdict.error,
                "warrants_applied": list(r.warrants_applied),
                "fields": [
                    {
                        "name": f.name,
                        "class": f.sensitivity,
                        "outcome": f.outcome,
                        "mask": f.mask,
                        "reason": f.reason,
                    }
                    for f in r.verdict.fields
                ],
            }
            for r in entry.records
        ],
    }


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
