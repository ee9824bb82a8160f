"""What changes for the client at federation scale: paged node lists, streamed large searches.

A national broker routes to thousands of agencies. ``ListNodes`` answers a page
at a time (:func:`listed_page` reads them all, and refuses a list that never
ends), and a search addressed to more agencies than one unary answer may hold
(:data:`~fieldgate.core.answer_caps.MAX_UNARY_AUDIENCE`) is sent as
``SearchStream`` (:func:`streamed`), as is one the broker refuses as too large
for its own, lower limit (:func:`refused_as_unary`). Either way the caller gets
the same :class:`~fieldgate.client.results.SearchResult`.
"""

from __future__ import annotations

from collections.abc import Iterable

import grpc

from fieldgate.client.audience import Addressing
from fieldgate.client.errors import SearchError
from fieldgate.client.results import SearchResult
from fieldgate.client.stream import SearchFinished, SearchUpdate
from fieldgate.core.answer_caps import MAX_UNARY_AUDIENCE
from fieldgate.v2 import broker_pb2

LIST_PAGE_SIZE = 1000
"""Nodes asked for per ``ListNodes`` page (the broker's maximum)."""

MAX_LIST_PAGES = 1000
"""Most ``ListNodes`` pages read (a million nodes): a broker whose list never ends is refused."""

UNARY_REFUSED = "(unary_audience)"
"""What a broker's refusal of a unary search too large for one answer says (then streamed)."""


def listed_page(
    nodes: list[broker_pb2.RegisteredNode], page: broker_pb2.ListNodesResponse, pages: int
) -> str:
    """Add one ``ListNodes`` page's nodes to ``nodes``; the next page's token ("" at the end).

    Raises:
        SearchError: the broker's list does not end (an empty page that is not the
            last, or more than :data:`MAX_LIST_PAGES` pages).
    """
    nodes.extend(page.nodes)
    if page.next_page_token and (not page.nodes or pages >= MAX_LIST_PAGES):
        raise SearchError(
            grpc.StatusCode.OUT_OF_RANGE,
            f"the broker's node list does not end after {pages} page(s); nothing was sent",
        )
    return page.next_page_token


def streamed(addressing: Addressing) -> bool:
    """True when a search's one unary answer could not hold every addressed agency."""
    return len(addressing.audience) > MAX_UNARY_AUDIENCE


def refused_as_unary(code: grpc.StatusCode, details: str | None) -> bool:
    """True for a broker's refusal of a unary search too large for one answer."""
    return code == grpc.StatusCode.FAILED_PRECONDITION and UNARY_REFUSED in (details or "")


def final_result(updates: Iterable[SearchUpdate]) -> SearchResult:
    """The result of a streamed search, read to its end (so the call ends cleanly).

    Raises:
        SearchError: the stream ended without its result.
    """
    result = None
    for update in updates:
        if isinstance(update, SearchFinished):
            result = update.result
    if result is None:
        raise SearchError(grpc.StatusCode.DATA_LOSS, "the broker's stream ended without its result")
    return result
