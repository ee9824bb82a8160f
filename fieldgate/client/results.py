"""Search results as investigators' tools see them, and their JSON form.

The JSON document (``SearchResult.to_json()``, printed by ``fieldgate search
--json``) is a public interface; its shape is documented in the README and
pinned by ``tests/test_cli.py``. Fields are only ever added.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from google.protobuf import json_format

from fieldgate.v2 import broker_pb2, common_pb2

SCHEMA = "fieldgate.search/v1"
"""Value of the ``schema`` key of every result document."""

STATUS_NAMES = {
    broker_pb2.NODE_STATUS_ANSWERED: "answered",
    broker_pb2.NODE_STATUS_TIMED_OUT: "timed_out",
    broker_pb2.NODE_STATUS_UNREACHABLE: "unreachable",
    broker_pb2.NODE_STATUS_ERROR: "error",
}


@dataclass(frozen=True)
class ReleasedValue:
    """One released field: its value as released, its class and the mask if any."""

    value: Any
    sensitivity: str
    mask: str | None


@dataclass(frozen=True)
class HitView:
    """One record an agency disclosed.

    ``reference`` is the agency's opaque reference for this disclosure (quote it
    when calling); the agency's record id never leaves its node.
    """

    reference: str
    record_kind: str
    score: float
    match_reasons: tuple[str, ...]
    fields: dict[str, ReleasedValue]
    contact: dict[str, str]

    @property
    def masked(self) -> dict[str, ReleasedValue]:
        """The released fields that were masked."""
        return {k: v for k, v in self.fields.items() if v.mask}


@dataclass(frozen=True)
class AgencyView:
    """One agency's part of a search."""

    node_id: str
    agency_name: str
    status: str
    detail: str
    elapsed_seconds: float
    hits: tuple[HitView, ...]
    not_answering_reason: str = ""
    """For status ``not_answering``: the reason inside the node's signed, sealed answer
    (e.g. ``trust_stale``); set only once the answer opened and verified."""


@dataclass(frozen=True)
class NotAsked:
    """An agency the broker lists that the search was not sent to, and why."""

    node_id: str
    reason: str
    """The requesting agency's outbound policy's words (the credential's ``unreached``)."""


@dataclass(frozen=True)
class SearchResult:
    """A whole search: every agency's status and hits."""

    request_id: str
    agencies: tuple[AgencyView, ...]
    not_asked: tuple[NotAsked, ...] = ()
    """Agencies not asked: outside the credential's reach (its agency's outbound policy)."""

    def to_json(self) -> dict[str, Any]:
        """The documented JSON document (see the README, "Search results as JSON")."""
        return {
            "schema": SCHEMA,
            "request_id": self.request_id,
            "summary": {
                "agencies": len(self.agencies),
                "answered": sum(a.status == "answered" for a in self.agencies),
                "failed": sum(a.status != "answered" for a in self.agencies),
                # Answers whose node signature did not verify (counted in `failed`).
                "failed_verification": sum(
                    a.status == "failed_verification" for a in self.agencies
                ),
                # Nodes that signed that they could not answer (counted in `failed`).
                "not_answering": sum(a.status == "not_answering" for a in self.agencies),
                # Addressed agencies the broker's answer left out (counted in `failed`).
                "did_not_answer": sum(a.status == NOT_RELAYED for a in self.agencies),
                "hits": sum(len(a.hits) for a in self.agencies),
                "not_asked": len(self.not_asked),
            },
            "agencies": [agency_json(a) for a in self.agencies],
            "not_asked": [{"node_id": n.node_id, "reason": n.reason} for n in self.not_asked],
        }


def agency_json(agency: AgencyView) -> dict[str, Any]:
    """One agency's object, as in the ``agencies`` list of the documented JSON document."""
    return {
        "node_id": agency.node_id,
        "agency_name": agency.agency_name,
        "status": agency.status,
        "detail": agency.detail,
        # Only "answered" means the agency looked; anything else is "could not answer".
        "answered": agency.status == "answered",
        "not_answering_reason": agency.not_answering_reason,
        "elapsed_seconds": agency.elapsed_seconds,
        "hits": [
            {
                "reference": h.reference,
                # Kept so the documented shape only grows; a node never sends a
                # record id (issue 16), so it is always "".
                "record_id": "",
                "record_kind": h.record_kind,
                "score": h.score,
                "match_reasons": list(h.match_reasons),
                "contact": dict(h.contact),
                "fields": {
                    name: {"value": v.value, "sensitivity": v.sensitivity, "mask": v.mask}
                    for name, v in h.fields.items()
                },
            }
            for h in agency.hits
        ],
    }


def _value(field: common_pb2.ReleasedField) -> Any:
    value = json_format.MessageToDict(field.value)
    # protobuf carries every number as a double; catalog integers come back whole.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def hit_view(hit: common_pb2.Hit) -> HitView:
    """Convert a wire hit."""
    return HitView(
        reference=hit.reference,
        record_kind=hit.record_kind,
        score=hit.score,
        match_reasons=tuple(hit.match_reasons),
        fields={
            f.name: ReleasedValue(_value(f), f.sensitivity, f.mask or None) for f in hit.fields
        },
        contact={
            "agency": hit.contact.agency,
            "unit": hit.contact.unit,
            "phone": hit.contact.phone,
        },
    )


def agency_view(result: broker_pb2.AgencyResult) -> AgencyView:
    """Convert one agency's wire result."""
    return AgencyView(
        node_id=result.node_id,
        agency_name=result.agency_name,
        status=STATUS_NAMES.get(result.status, "error"),
        detail=result.detail,
        # Never sent (v2 dropped it): per-agency latency would tell how long a
        # contract worked on records it then withheld. Kept at 0 in the document.
        elapsed_seconds=0.0,
        hits=tuple(hit_view(h) for h in result.hits),
    )


NOT_RELAYED = "not_relayed"
"""The status of an addressed agency the broker's answer does not mention: it "did not
answer" — never "no record" (a broker dropping an agency must be seen)."""


def with_unanswered(result: SearchResult, audience: Sequence[str]) -> SearchResult:
    """``result`` with every ``audience`` node the broker's answer lacks, as did not answer."""
    present = {a.node_id for a in result.agencies}
    missing = tuple(
        AgencyView(
            node_id=node_id,
            agency_name=node_id,  # the broker's answer, which names agencies, left it out
            status=NOT_RELAYED,
            detail="the search was addressed to this agency; the broker returned nothing for it",
            elapsed_seconds=0.0,
            hits=(),
        )
        for node_id in audience
        if node_id not in present
    )
    return replace(result, agencies=result.agencies + missing) if missing else result


def search_result(response: broker_pb2.SearchResponse) -> SearchResult:
    """Convert the broker's wire answer."""
    return SearchResult(
        request_id=response.request_id,
        agencies=tuple(agency_view(r) for r in response.results),
    )
