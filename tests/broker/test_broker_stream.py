"""SearchStream: each agency as it ends, the same answer as Search, the same refusals."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from fieldgate.broker.limits import LimitsConfig
from fieldgate.client.broker_client import AsyncSearchClient, SearchClient, SearchError
from fieldgate.client.results import SearchResult
from fieldgate.client.stream import AgencyEnded, SearchFinished, SearchStarted, SearchUpdate
from fieldgate.devkit.demo import demo_personas
from fieldgate.devkit.local_federation import NodeSpec
from fieldgate.devkit.synthetic import DEMO_SUBJECT
from tests.conftest import DemoFederation
from tests.helpers.brokers import import_two_agencies, proxied_broker, stop_all, wait_until
from tests.helpers.federation import LoopThread

DETECTIVE = demo_personas(dt.date.today())[0].requester
SUBJECT = {
    "surname": DEMO_SUBJECT.surname,
    "given_name": DEMO_SUBJECT.given_name,
    "dob": DEMO_SUBJECT.dob,
}


def without_request_id(result: SearchResult) -> dict[str, Any]:
    """The result's document but for what differs per search: its id, each hit's reference."""
    document = result.to_json()
    del document["request_id"]
    for agency in document["agencies"]:
        for hit in agency["hits"]:
            assert hit.pop("reference"), "every hit carries a reference"
    return document


def test_streamed_results_are_the_unary_answer(demo: DemoFederation) -> None:
    with SearchClient(demo.broker_address) as client:
        unary = client.search(DETECTIVE, **SUBJECT)
        updates = list(client.search_stream(DETECTIVE, **SUBJECT))
    started, *agencies, finished = updates
    assert isinstance(started, SearchStarted)
    assert [a.node_id for a in started.agencies] == [a.node_id for a in unary.agencies]
    assert started.progress.pending == 3
    assert all(isinstance(u, AgencyEnded) for u in agencies)
    assert len(agencies) == 3
    assert isinstance(finished, SearchFinished)
    assert finished.result.request_id == started.request_id != unary.request_id
    # Same agencies, statuses, hits, fields and masks, in the broker's order.
    assert without_request_id(finished.result) == without_request_id(unary)
    assert any(a.hits for a in finished.result.agencies)
    # Progress counts down as agencies end.
    assert [u.progress.pending for u in updates] == [3, 2, 1, 0, 0]
    assert finished.progress.answered == 3


def test_the_async_client_streams_the_same_answer(demo: DemoFederation) -> None:
    async def both() -> tuple[SearchResult, list[SearchUpdate]]:
        client = AsyncSearchClient(demo.broker_address)
        try:
            unary = await client.search(DETECTIVE, **SUBJECT)
            updates = [u async for u in client.search_stream(DETECTIVE, **SUBJECT)]
        finally:
            await client.close()
        return unary, updates

    unary, updates = asyncio.run(both())
    finished = updates[-1]
    assert isinstance(finished, SearchFinished)
    assert without_request_id(finished.result) == without_request_id(unary)
    assert len(updates) == 5


def test_a_refused_stream_fails_like_search_before_any_event(demo: DemoFederation) -> None:
    with SearchClient(demo.broker_address) as client:
        for call in (client.search, lambda *a, **k: list(client.search_stream(*a, **k))):
            with pytest.raises(SearchError) as refused:
                call(DETECTIVE, surname="D%")
            assert refused.value.code == grpc.StatusCode.INVALID_ARGUMENT
            assert "surname" in refused.value.details


@pytest.fixture(scope="module")
def two_agencies(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[NodeSpec], Path]:
    return import_two_agencies(tmp_path_factory.mktemp("stream"))


def test_each_agency_is_sent_as_soon_as_it_ends(
    loop: LoopThread, two_agencies: tuple[list[NodeSpec], Path]
) -> None:
    specs, workdir = two_agencies
    nodes, proxy, broker = loop.run(proxied_broker(specs, workdir, LimitsConfig(enabled=False)))
    try:
        with SearchClient(broker.address) as client:
            client.search(DETECTIVE, **SUBJECT)  # connection up, then it turns slow
            proxy.delay = 0.6
            proxy.mode = "delay"
            seen: list[tuple[str, int]] = []
            for update in client.search_stream(DETECTIVE, **SUBJECT, deadline_seconds=5):
                if isinstance(update, AgencyEnded):
                    seen.append((update.agency.node_id, update.progress.pending))
        # The slow agency was still pending when the fast one's result was sent.
        assert seen == [(specs[0].node_id, 1), (specs[1].node_id, 0)]
        assert isinstance(update, SearchFinished)
        assert [a.status for a in update.result.agencies] == ["answered", "answered"]
        assert broker.search_log is not None
        rows = broker.search_log.rows()
        assert len(rows) == 2  # one broker log entry per streamed search, as for Search
        assert rows[1]["request_id"] == update.result.request_id
        assert [n["status"] for n in rows[1]["nodes"]] == ["NODE_STATUS_ANSWERED"] * 2
        assert broker.metrics is not None
        searches = broker.metrics.registry.get_sample_value(
            "fieldgate_broker_searches_total",
            {"purpose": DETECTIVE.purpose, "outcome": "complete"},
        )
        assert searches == 2
    finally:
        stop_all(loop, nodes, proxy, broker)


def test_cancelling_a_stream_stops_the_search_and_logs_it(
    loop: LoopThread, two_agencies: tuple[list[NodeSpec], Path]
) -> None:
    specs, workdir = two_agencies
    nodes, proxy, broker = loop.run(proxied_broker(specs, workdir, LimitsConfig()))
    try:
        with SearchClient(broker.address) as client:
            client.search(DETECTIVE, **SUBJECT)  # connection up
            proxy.mode = "blackhole"  # the second agency now never answers
            started = time.monotonic()
            updates: Iterator[SearchUpdate] = client.search_stream(
                DETECTIVE,
                **SUBJECT,
                deadline_seconds=9,
            )
            first = next(updates)
            assert isinstance(first, SearchStarted)
            ended = next(updates)
            assert isinstance(ended, AgencyEnded)
            assert ended.agency.node_id == specs[0].node_id
            updates.close()  # what Ctrl-C does: the generator's finally cancels the call
        assert broker.limits is not None
        wait_until(loop, lambda: broker.limits.in_flight == 0)
        assert broker.search_log is not None
        wait_until(loop, lambda: len(broker.search_log.rows()) == 2)
        assert time.monotonic() - started < 3, "the 9 s deadline was not waited for"
        cancelled = broker.search_log.rows()[-1]
        assert cancelled["request_id"] == first.request_id
        assert [(n["node_id"], n["status"]) for n in cancelled["nodes"]] == [
            (specs[0].node_id, "NODE_STATUS_ANSWERED"),
            (specs[1].node_id, "NODE_STATUS_UNSPECIFIED"),
        ]
        assert broker.metrics is not None
        assert (
            broker.metrics.registry.get_sample_value(
                "fieldgate_broker_searches_total",
                {"purpose": DETECTIVE.purpose, "outcome": "cancelled"},
            )
            == 1
        )
    finally:
        stop_all(loop, nodes, proxy, broker)


def test_a_stream_over_the_concurrency_cap_is_refused_before_any_event(
    loop: LoopThread, two_agencies: tuple[list[NodeSpec], Path]
) -> None:
    specs, workdir = two_agencies
    limits = LimitsConfig(requester_concurrency=1, global_concurrency=1)
    nodes, proxy, broker = loop.run(proxied_broker(specs, workdir, limits))
    try:
        with SearchClient(broker.address) as client:
            client.search(DETECTIVE, **SUBJECT)
            proxy.mode = "blackhole"
            holding = client.search_stream(DETECTIVE, **SUBJECT, deadline_seconds=9)
            assert isinstance(next(holding), SearchStarted)  # holds the only slot
            second = client.search_stream(DETECTIVE, **SUBJECT)
            with pytest.raises(SearchError) as refused:
                next(second)
            assert refused.value.code == grpc.StatusCode.RESOURCE_EXHAUSTED
            assert "concurrency" in refused.value.details
            holding.close()
    finally:
        stop_all(loop, nodes, proxy, broker)
