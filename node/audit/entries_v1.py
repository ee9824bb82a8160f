"""Format 1 of a search entry's ``data``: every field's verdict spelt out per record.

Builds before compact entries (format 2, :mod:`fieldgate.node.audit.entries`)
wrote this; logs hold it still and every reader reads it
(:func:`~fieldgate.node.audit.entries.record_fields`). The node no longer
writes it: it is kept so tests can write what older builds wrote and
``python -m bench.audit_entry_size`` can say what compact entries save.
"""

from __future__ import annotations

from typing import Any

from fieldgate.node.audit.entries import requester_data, search_outcome
from fieldgate.node.disclosure_log import DisclosureEntry


def search_data_v1(entry: DisclosureEntry) -> dict[str, Any]:
    """The ``data`` of a format-1 ``search`` entry."""
    sent = set(entry.disclosed_record_ids)
    return {
        "request_id": entry.request_id,
        "decided_at": entry.time.isoformat(),
        "requester": requester_data(entry.requester),
        "query_digest": entry.query_digest,
        "contract_version": entry.contract_version,
        "outcome": search_outcome(entry),
        "disclosed": list(entry.disclosed_record_ids),
        "records": [
            {
                "record_id": r.record_id,
                "sent": r.record_id in sent,
                "disclose": r.verdict.disclose,
                "error": r.verdict.error,
                "warrants_applied": list(r.warrants_applied),
                "tier": r.match_tier,
                "evidence": list(r.match_evidence),
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
