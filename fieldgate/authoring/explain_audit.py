"""Explain a past audit entry to the node's operator: per record, what left and why.

``fieldgate contract explain --audit-db AUDIT.sqlite --entry N`` reads the
``search`` entry ``N`` of the node's audit log and shows, per matching record,
whether it was sent and, per field, released / masked / withheld with the
reason recorded in the entry — the decision as made then, by the contract
version the entry names, not a re-evaluation under today's contract. With the
node's record store it also names each record's kind and restriction flags.
For operators only: the requester never sees reasons.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fieldgate.node.audit.entries import SEARCH, record_fields
from fieldgate.node.audit.schema import AuditReader
from fieldgate.node.errors import NodeError
from fieldgate.node.store import RecordStore


class EntryNotExplainable(NodeError):
    """The entry does not exist or is not a search entry."""


@dataclass(frozen=True)
class RecordExplanation:
    """One matching record of the entry."""

    record_id: str
    sent: bool
    disclose: bool
    error: str
    fields: tuple[dict[str, str], ...]
    kind: str = ""
    """From the record store, when given and the record is still held."""
    flags: tuple[str, ...] = ()
    """sealed / juvenile / expunged, from the record store."""
    held: bool | None = None
    """Whether the store still holds the record (None without a store)."""
    warrants_applied: tuple[str, ...] | None = None
    """Ids of the requester's warrants that applied to the record; None when the
    entry predates their logging."""


@dataclass(frozen=True)
class EntryExplanation:
    """A past search entry, explained."""

    seq: int
    time: str
    request_id: str
    requester: dict[str, Any]
    contract_version: str
    outcome: str
    records: tuple[RecordExplanation, ...] = field(default=())
    catalog_version: str = ""
    """SHA-256 of the catalog the node used; "" for entries written before it was recorded."""

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready document."""
        return {
            "seq": self.seq,
            "time": self.time,
            "request_id": self.request_id,
            "requester": self.requester,
            "contract_version": self.contract_version,
            "catalog_version": self.catalog_version,
            "outcome": self.outcome,
            "records": [
                {
                    "record_id": r.record_id,
                    "sent": r.sent,
                    "disclose": r.disclose,
                    "error": r.error,
                    "kind": r.kind,
                    "flags": list(r.flags),
                    "held": r.held,
                    "warrants_applied": (
                        None if r.warrants_applied is None else list(r.warrants_applied)
                    ),
                    "fields": list(r.fields),
                }
                for r in self.records
            ],
        }


def explain_entry(
    reader: AuditReader, seq: int, store: RecordStore | None = None
) -> EntryExplanation:
    """Explain audit entry ``seq``.

    Raises:
        EntryNotExplainable: there is no such entry, or it is not a search.
    """
    row = reader.entry(seq)
    if row is None:
        raise EntryNotExplainable(f"{reader.path}: no entry {seq}")
    if row.kind != SEARCH:
        raise EntryNotExplainable(f"entry {seq} is a {row.kind!r} entry, not a search")
    data = row.document().get("data", {})
    records = []
    for record in data.get("records", []):
        extra: dict[str, Any] = {}
        if store is not None:
            held = store.get(str(record.get("record_id", "")))
            extra["held"] = held is not None
            if held is not None:
                extra["kind"] = held.kind
                extra["flags"] = tuple(
                    name
                    for name, on in (
                        ("sealed", held.sealed),
                        ("juvenile", held.juvenile),
                        ("expunged", held.expunged),
                    )
                    if on
                )
        applied = record.get("warrants_applied")
        records.append(
            RecordExplanation(
                record_id=str(record.get("record_id", "")),
                sent=bool(record.get("sent")),
                disclose=bool(record.get("disclose")),
                error=str(record.get("error", "")),
                fields=tuple(
                    {
                        "name": str(f.get("name", "")),
                        "class": str(f.get("class", "")),
                        "outcome": str(f.get("outcome", "")),
                        "mask": str(f.get("mask", "")),
                        "reason": str(f.get("reason", "")),
                    }
                    for f in record_fields(data, record)
                ),
                warrants_applied=(
                    tuple(str(i) for i in applied) if isinstance(applied, list) else None
                ),
                **extra,
            )
        )
    requester = data.get("requester", {})
    return EntryExplanation(
        seq=row.seq,
        time=row.time,
        request_id=str(data.get("request_id", "")),
        requester=requester if isinstance(requester, dict) else {},
        contract_version=str(data.get("contract_version", "")),
        outcome=str(data.get("outcome", "")),
        records=tuple(records),
        catalog_version=str(data.get("catalog_version", "")),
    )
