"""A streamed search as investigators' tools see it: events, progress, JSON lines.

The broker's ``SearchStream`` sends a ``started`` event naming every agency it
asked, one ``agency`` event per agency as it ends, and a ``summary``.
:class:`StreamAssembler` turns those wire events into :data:`SearchUpdate`
values, checks the broker kept to that order, and assembles the final
:class:`~fieldgate.client.results.SearchResult` in the broker's configured order —
the same result the unary search returns.

``fieldgate search --json --stream`` prints each update's :meth:`to_json` as one
line (schema ``fieldgate.search-stream/v1``, documented in the README next to
``fieldgate.search/v1``); fields are only ever added.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import grpc

from fieldgate.client.results import AgencyView, SearchResult, agency_json, agency_view
from fieldgate.core.errors import FieldgateError
from fieldgate.v2 import broker_pb2

STREAM_SCHEMA = "fieldgate.search-stream/v1"
"""Value of the ``schema`` key of every JSON line of a streamed search."""


class StreamProtocolError(FieldgateError):
    """The broker's stream broke its documented order (a broker bug, never the search's)."""

    code = grpc.StatusCode.INTERNAL
    """The gRPC code :class:`~fieldgate.client.broker_client.SearchError` reports it with."""


@dataclass(frozen=True)
class Progress:
    """How many agencies have answered, are still pending, or failed."""

    answered: int
    pending: int
    failed: int

    def to_json(self) -> dict[str, int]:
        """``{"answered": N, "pending": N, "failed": N}``."""
        return {"answered": self.answered, "pending": self.pending, "failed": self.failed}


@dataclass(frozen=True)
class AgencyRef:
    """An agency the broker asked."""

    node_id: str
    agency_name: str


@dataclass(frozen=True)
class SearchStarted:
    """The broker admitted the search and asked every agency in ``agencies``."""

    request_id: str
    agencies: tuple[AgencyRef, ...]
    progress: Progress

    def to_json(self) -> dict[str, Any]:
        """The ``started`` JSON line."""
        return {
            "schema": STREAM_SCHEMA,
            "event": "started",
            "request_id": self.request_id,
            "agencies": [
                {"node_id": a.node_id, "agency_name": a.agency_name} for a in self.agencies
            ],
            "progress": self.progress.to_json(),
        }


@dataclass(frozen=True)
class AgencyEnded:
    """One agency's part, as soon as it ended (answered or failed)."""

    request_id: str
    agency: AgencyView
    progress: Progress

    def to_json(self) -> dict[str, Any]:
        """The ``agency`` JSON line: the agency object is the one ``fieldgate.search/v1`` has."""
        return {
            "schema": STREAM_SCHEMA,
            "event": "agency",
            "request_id": self.request_id,
            "agency": agency_json(self.agency),
            "progress": self.progress.to_json(),
        }


@dataclass(frozen=True)
class SearchFinished:
    """Every agency has ended; ``result`` is the whole search in the broker's order."""

    result: SearchResult
    progress: Progress

    def to_json(self) -> dict[str, Any]:
        """The ``summary`` JSON line (the summary object of ``fieldgate.search/v1``)."""
        return {
            "schema": STREAM_SCHEMA,
            "event": "summary",
            "request_id": self.result.request_id,
            "summary": self.result.to_json()["summary"],
            "progress": self.progress.to_json(),
        }


SearchUpdate = SearchStarted | AgencyEnded | SearchFinished
"""One step of a streamed search, as the client libraries yield them."""


class StreamAssembler:
    """Folds the broker's wire events into updates and the final result."""

    def __init__(self, view: Callable[[broker_pb2.AgencyResult], AgencyView] = agency_view) -> None:
        """Expect a ``started`` event first; turn each agency's result into a view with ``view``.

        ``view`` is where a sealed answer is opened and verified
        (:meth:`fieldgate.client.answer_check.AnswerCheck.view`).
        """
        self._view = view
        self._wire_answered = 0
        self._wire_hits = 0
        self._request_id = ""
        self._agencies: tuple[AgencyRef, ...] | None = None
        self._ended: dict[str, AgencyView] = {}
        self._finished = False

    @property
    def progress(self) -> Progress:
        """Agencies answered, pending and failed so far."""
        total = len(self._agencies or ())
        answered = sum(a.status == "answered" for a in self._ended.values())
        failed = len(self._ended) - answered
        return Progress(answered=answered, pending=total - len(self._ended), failed=failed)

    def add(self, event: broker_pb2.SearchStreamResponse) -> SearchUpdate:
        """The update ``event`` makes.

        Raises:
            StreamProtocolError: the event is out of order or inconsistent.
        """
        kind = event.WhichOneof("event")
        if self._finished:
            raise StreamProtocolError(f"the broker sent a {kind!r} event after its summary")
        if kind == "started":
            if self._agencies is not None:
                raise StreamProtocolError("the broker started the search twice")
            self._request_id = event.started.request_id
            self._agencies = tuple(
                AgencyRef(n.node_id, n.agency_name) for n in event.started.agencies
            )
            return SearchStarted(self._request_id, self._agencies, self.progress)
        if self._agencies is None:
            raise StreamProtocolError(f"the broker sent a {kind!r} event before starting")
        if kind == "agency":
            view = self._view(event.agency)
            # The summary counts what the broker relayed, before any verification.
            self._wire_answered += event.agency.status == broker_pb2.NODE_STATUS_ANSWERED
            self._wire_hits += len(event.agency.hits)
            known = {a.node_id for a in self._agencies}
            if view.node_id not in known or view.node_id in self._ended:
                raise StreamProtocolError(
                    f"the broker sent agency {view.node_id!r} twice or without asking it"
                )
            self._ended[view.node_id] = view
            return AgencyEnded(self._request_id, view, self.progress)
        if kind == "summary":
            missing = [a.node_id for a in self._agencies if a.node_id not in self._ended]
            if missing:
                raise StreamProtocolError(
                    f"the broker's summary came before agencies {', '.join(missing)} ended"
                )
            result = SearchResult(
                self._request_id, tuple(self._ended[a.node_id] for a in self._agencies)
            )
            summary = event.summary
            if (summary.agencies, summary.answered, summary.hits) != (
                len(result.agencies),
                self._wire_answered,
                self._wire_hits,
            ):
                raise StreamProtocolError("the broker's summary does not match its events")
            self._finished = True
            return SearchFinished(result, self.progress)
        raise StreamProtocolError(f"the broker sent an unknown event {kind!r}")

    def finish(self) -> None:
        """Check the stream ended with its summary.

        Raises:
            StreamProtocolError: the stream ended early.
        """
        if not self._finished:
            raise StreamProtocolError("the broker's stream ended before its summary")
