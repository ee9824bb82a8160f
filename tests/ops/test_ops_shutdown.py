"""Graceful shutdown: a real SIGTERM lets the search in flight finish, then the node stops.

``fieldgate node serve`` runs :func:`serve_until_signal`; here it runs in this
process's main thread (signal handlers need it) around a real node whose audit
write takes a second, and the test sends SIGTERM to itself while a search is
inside that write. The search must come back answered; meanwhile health says
NOT_SERVING, and afterwards nothing listens.
"""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path

import grpc
import pytest

from fieldgate.cli.serving import GRACE_SECONDS, serve_until_signal
from fieldgate.devkit.local_federation import NodeSpec, import_records, node_config
from fieldgate.devkit.synthetic import (
    DEMO_AGENCIES,
    DEMO_SUBJECT,
    generate_agency_records,
    write_jsonl,
)
from fieldgate.node.disclosure_log import DisclosureEntry, MemoryDisclosureLog
from fieldgate.node.server import RunningNode, start_node
from fieldgate.ops.endpoints import MaintenanceConfig
from fieldgate.policy.shipped import shipped_contract
from fieldgate.v2 import common_pb2, node_pb2
from tests.helpers.federation import node_stub
from tests.helpers.ops import health

WRITE_SECONDS = 1.0


class SlowLog(MemoryDisclosureLog):
    """An audit log whose writes take a second, and that says when one has begun."""

    def __init__(self) -> None:
        super().__init__()
        self.writing = threading.Event()

    def write(self, entry: DisclosureEntry) -> None:
        self.writing.set()
        time.sleep(WRITE_SECONDS)
        super().write(entry)


def search(address: str) -> node_pb2.NodeServiceSearchResponse:
    channel, stub = node_stub(address)
    with channel:
        return stub.Search(
            node_pb2.NodeServiceSearchRequest(
                request_id="in-flight",
                requester=common_pb2.Requester(
                    subject="det-1",
                    agency="bellevue-pd",
                    agency_type="local_law_enforcement",
                    roles=["detective"],
                    purpose="criminal_investigation",
                    case_number="BPD-2026-1",
                ),
                query=common_pb2.PersonQuery(
                    surname=DEMO_SUBJECT.surname,
                    given_name=DEMO_SUBJECT.given_name,
                    dob=DEMO_SUBJECT.dob,
                ),
            ),
            timeout=30,
        )


@pytest.mark.skipif(threading.current_thread() is not threading.main_thread(), reason="signals")
def test_sigterm_finishes_the_search_in_flight(tmp_path: Path) -> None:
    agency = DEMO_AGENCIES[2]  # the permissive county releases the subject's records
    records = tmp_path / "records.jsonl"
    write_jsonl(generate_agency_records(agency, count=40, seed=9), records)
    spec = NodeSpec(agency.node_id, agency.name, shipped_contract("permissive"), records)
    import_records(spec, tmp_path)
    config = replace(node_config(spec, tmp_path), maintenance=MaintenanceConfig("127.0.0.1:0"))
    log = SlowLog()
    seen: dict[str, object] = {}

    async def scenario() -> None:
        started: list[RunningNode] = []
        up = asyncio.Event()

        async def start() -> tuple[str, Callable[[float], Awaitable[None]]]:
            running = await start_node(config, log)
            started.append(running)
            up.set()
            return running.address, running.stop

        serving = asyncio.create_task(serve_until_signal(start, "node under test"))
        await asyncio.wait_for(up.wait(), 30)
        running = started[0]
        assert running.maintenance_port is not None
        in_flight = asyncio.create_task(asyncio.to_thread(search, running.address))
        assert await asyncio.to_thread(log.writing.wait, 10), "the search never reached the log"
        signalled = time.monotonic()
        os.kill(os.getpid(), signal.SIGTERM)
        await asyncio.sleep(0.3)
        seen["health during grace"] = await asyncio.to_thread(health, running.maintenance_port)
        await asyncio.wait_for(serving, GRACE_SECONDS + 5)
        seen["stop took"] = time.monotonic() - signalled
        seen["answer"] = await in_flight
        try:
            await asyncio.to_thread(search, running.address)
        except grpc.RpcError as exc:
            seen["after"] = exc.code()

    asyncio.run(scenario())
    answer = seen["answer"]
    assert isinstance(answer, node_pb2.NodeServiceSearchResponse)
    assert answer.request_id == "in-flight"
    assert len(answer.hits) >= 1, "the in-flight search lost its answer"
    assert len(log.entries) == 1, "its audit entry was written"
    assert seen["health during grace"] == "NOT_SERVING"
    assert seen["after"] == grpc.StatusCode.UNAVAILABLE
    assert isinstance(seen["stop took"], float)
    assert seen["stop took"] < GRACE_SECONDS, "stopped once the search was done, not at the grace"
