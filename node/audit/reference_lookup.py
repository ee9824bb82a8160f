"""Which record a reference names: the agency's side of an opaque reference.

A disclosed hit carries a reference (:mod:`fieldgate.node.references`), never
the record id. When an investigator calls and quotes one, the agency's staff
look it up here: the audit entry of the search that disclosed it names the
record, who was shown it, when, why and which fields. Only someone holding the
audit log can do this, which is the point.
"""

from __future__ import annotations

from typing import Any

from fieldgate.node.audit.entries import SEARCH
from fieldgate.node.audit.schema import AuditReader
from fieldgate.node.references import normalise_reference

COLUMNS = (
    "reference",
    "record_id",
    "time",
    "request_id",
    "agency",
    "subject",
    "purpose",
    "case_number",
    "released",
    "masked",
)


def resolve_reference(reader: AuditReader, reference: str) -> list[dict[str, Any]]:
    """Every disclosure sent under ``reference`` (normally one): the record and to whom.

    ``reference`` may be typed in any case, with or without dashes.
    """
    wanted = normalise_reference(reference)
    rows: list[dict[str, Any]] = []
    if not wanted:
        return rows
    for row in reader.entries(SEARCH):
        data = row.document().get("data")
        if not isinstance(data, dict):
            continue
        references = data.get("references") or []
        if wanted not in references:
            continue
        disclosed = data.get("disclosed") or []
        index = references.index(wanted)
        record_id = disclosed[index] if index < len(disclosed) else ""
        requester = data.get("requester", {})
        records = [r for r in data.get("records", []) if r.get("record_id") == record_id]
        fields: list[dict[str, Any]] = records[0].get("fields", []) if records else []
        rows.append(
            {
                "reference": wanted,
                "record_id": record_id,
                "time": row.time,
                "request_id": data.get("request_id", ""),
                "agency": requester.get("agency", ""),
                "subject": requester.get("subject", ""),
                "purpose": requester.get("purpose", ""),
                "case_number": requester.get("case_number", ""),
                "released": ",".join(f["name"] for f in fields if f.get("outcome") == "released"),
                "masked": ",".join(f["name"] for f in fields if f.get("outcome") == "masked"),
            }
        )
    return rows
