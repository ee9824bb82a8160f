"""Mapping the opaque references of an answer back to record ids, as the agency does.

A hit carries a reference, never the record id; tests that check *which*
records went out read the node's own disclosure log, the agency's only way
back. Each helper also checks that the log holds the very references the
answer carried, in the same order.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fieldgate.client.results import HitView
from fieldgate.node.audit.schema import AuditReader
from fieldgate.node.disclosure_log import DisclosureEntry, MemoryDisclosureLog
from fieldgate.v2 import common_pb2


def sent_record_ids(
    log: MemoryDisclosureLog | Sequence[DisclosureEntry],
    request_id: str,
    hits: Sequence[common_pb2.Hit] | Sequence[HitView],
) -> list[str]:
    """The record ids behind ``hits`` of search ``request_id``, from an in-memory log."""
    entries = log.entries if isinstance(log, MemoryDisclosureLog) else log
    (entry,) = [e for e in entries if e.request_id == request_id]
    assert [h.reference for h in hits] == list(entry.disclosed_references)
    assert not any(getattr(h, "record_id", "") for h in hits), "a hit carried a record id"
    return list(entry.disclosed_record_ids)


def audited_search(audit_path: Path, request_id: str) -> dict[str, Any]:
    """The ``data`` of the one search entry of ``request_id`` in a node's audit store."""
    with AuditReader(audit_path) as reader:
        (data,) = [
            d
            for d in (row.document()["data"] for row in reader.entries("search"))
            if d["request_id"] == request_id
        ]
    return dict(data)


def audited_record_ids(
    audit_path: Path, request_id: str, hits: Sequence[common_pb2.Hit]
) -> list[str]:
    """The record ids behind ``hits`` of search ``request_id``, from a node's audit store."""
    data = audited_search(audit_path, request_id)
    assert [h.reference for h in hits] == list(data["references"])
    assert not any(h.record_id for h in hits), "a hit carried a record id"
    return list(data["disclosed"])


def with_record_ids(hits: Sequence[common_pb2.Hit], ids: Sequence[str]) -> list[common_pb2.Hit]:
    """Copies of ``hits`` naming the record ids the log gave back instead of their
    references (which differ from one search to the next), so answers compare."""
    named = []
    for hit, record_id in zip(hits, ids, strict=True):
        copy = common_pb2.Hit()
        copy.CopyFrom(hit)
        copy.reference, copy.record_id = "", record_id
        named.append(copy)
    return named


def without_references(hits: Sequence[HitView]) -> tuple[HitView, ...]:
    """``hits`` but for their references, which differ from one search to the next."""
    return tuple(dataclasses.replace(h, reference="") for h in hits)
