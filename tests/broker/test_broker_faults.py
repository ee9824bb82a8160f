"""Slow, hung and dead nodes never block or fail the whole search."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import grpc
import pytest

from fieldgate.broker.config import NodeEntry
from fieldgate.broker.limits import LimitsConfig
from fieldgate.client.broker_client import SearchClient
from fieldgate.client.results import SearchResult
from fieldgate.devkit.demo import demo_personas
from fieldgate.devkit.local_federation import (
    LocalFederation,
    NodeSpec,
    import_records,
    node_config,
    start_federation,
)
from fieldgate.devkit.synthetic import (
    DEMO_AGENCIES,
    DEMO_SUBJECT,
    generate_agency_records,
    write_jsonl,
)
from fieldgate.policy.shipped import shipped_contract
from tests.helpers.faults import FaultProxy, blackhole_listener
from tests.helpers.federation import LoopThread
from tests.helpers.references import without_references

DEADLINE = 1.0
MARGIN = 0.75  # generous for a loaded 2-core CI machine; the point is "not the 10 s default"
DETECTIVE = demo_personas(dt.date.today())[0].requester
FIELDGATE = str(Path(sys.executable).parent / "fieldgate")


def search(address: str) -> tuple[SearchResult, float]:
    started = time.monotonic()
    with SearchClient(address) as client:
        result = client.search(
            DETECTIVE,
            surname=DEMO_SUBJECT.surname,
            given_name=DEMO_SUBJECT.given_name,
            dob=DEMO_SUBJECT.dob,
            deadline_seconds=DEADLINE,
        )
    return result, time.monotonic() - started


def statuses(result: SearchResult) -> dict[str, str]:
    return {a.node_id: a.status for a in result.agencies}


@pytest.fixture(scope="module")
def kcso_spec(tmp_path_factory: pytest.TempPathFactory) -> tuple[NodeSpec, Path]:
    workdir = tmp_path_factory.mktemp("faults")
    records = workdir / "kcso.jsonl"
    write_jsonl(generate_agency_records(DEMO_AGENCIES[0], count=100, seed=5), records)
    spec = NodeSpec("kcso", "King County", shipped_contract("sanctuary_county"), records)
    import_records(spec, workdir)
    return spec, workdir


def test_hung_and_slow_nodes_are_marked_and_the_rest_answer(
    loop: LoopThread, kcso_spec: tuple[NodeSpec, Path]
) -> None:
    spec, workdir = kcso_spec

    slow_spec = NodeSpec("slow", "Slow County", spec.contract, spec.records)
    import_records(slow_spec, workdir)

    async def start() -> tuple[LocalFederation, FaultProxy, object]:
        healthy = await start_federation([spec, slow_spec], workdir)
        await healthy.broker.stop()
        slow = FaultProxy(healthy.nodes["slow"].address)
        slow_address = await slow.start()
        slow.delay = DEADLINE * 3
        hung = blackhole_listener()
        hung_address = await hung.__aenter__()
        federation = await start_federation(
            [],
            workdir,
            extra_nodes=[
                NodeEntry("kcso", "King County", healthy.nodes["kcso"].address),
                NodeEntry("slow", "Slow County", slow_address),
                NodeEntry("hung", "Hung County", hung_address),
                NodeEntry("gone", "Gone County", "127.0.0.1:1"),
            ],
        )
        federation.nodes.update(healthy.nodes)
        return federation, slow, hung

    federation, slow, hung = loop.run(start())
    try:
        # The slow node first answers normally, so its connection is up; then it
        # stalls mid-conversation.
        first, elapsed = search(federation.broker_address)
        assert statuses(first) == {
            "kcso": "answered",
            "slow": "answered",
            # Accepts the connection, never speaks HTTP/2: no connection within
            # the broker's connect timeout (min_reconnect_backoff_ms).
            "hung": "unreachable",
            "gone": "unreachable",
        }, {a.node_id: (a.detail, a.elapsed_seconds) for a in first.agencies}
        # gRPC's own error text names the address it dialled; the requester never sees one.
        assert not any("127.0.0.1" in a.detail for a in first.agencies), first.agencies
        assert elapsed < DEADLINE + MARGIN
        slow.mode = "delay"
        result, elapsed = search(federation.broker_address)
        got = statuses(result)
        assert got["kcso"] == "answered"
        assert got["slow"] == "timed_out"
        assert got["hung"] == "unreachable"
        assert got["gone"] == "unreachable"
        assert elapsed < DEADLINE + MARGIN
        kcso = next(a for a in result.agencies if a.node_id == "kcso")
        assert kcso.hits, "the healthy agency's hits are kept"
    finally:

        async def stop() -> None:
            await federation.stop()
            await slow.stop()
            await hung.__aexit__(None, None, None)  # type: ignore[attr-defined]

        loop.run(stop())


def test_a_slow_drip_node_is_marked_within_the_deadline(
    loop: LoopThread, kcso_spec: tuple[NodeSpec, Path]
) -> None:
    """A link that moves one byte at a time never holds the search past its deadline."""
    spec, workdir = kcso_spec
    drip_spec = NodeSpec("drip", "Drip County", spec.contract, spec.records)
    import_records(drip_spec, workdir)

    async def start() -> tuple[LocalFederation, FaultProxy]:
        backend = await start_federation([spec, drip_spec], workdir)
        await backend.broker.stop()
        proxy = FaultProxy(backend.nodes["drip"].address, drip_interval=0.02)
        drip_address = await proxy.start()
        federation = await start_federation(
            [],
            workdir,
            extra_nodes=[
                NodeEntry("kcso", "King County", backend.nodes["kcso"].address),
                NodeEntry("drip", "Drip County", drip_address),
            ],
        )
        federation.nodes.update(backend.nodes)
        return federation, proxy

    federation, proxy = loop.run(start())
    try:
        healthy, _ = search(federation.broker_address)
        assert statuses(healthy) == {"kcso": "answered", "drip": "answered"}
        # Mid-conversation: the established connection starts to drip.
        proxy.mode = "drip"
        result, elapsed = search(federation.broker_address)
        assert statuses(result) == {"kcso": "answered", "drip": "timed_out"}
        assert elapsed < DEADLINE + MARGIN
        assert without_references(result.agencies[0].hits) == without_references(
            healthy.agencies[0].hits
        )
        assert proxy.forwarded > 0, "bytes did move, one at a time"
        # A fresh connection through the drip (its HTTP/2 handshake dripping) too.
        proxy.reset_connections()
        result, elapsed = search(federation.broker_address)
        assert statuses(result)["kcso"] == "answered"
        assert statuses(result)["drip"] in {"timed_out", "unreachable"}
        assert elapsed < DEADLINE + MARGIN
        assert without_references(result.agencies[0].hits) == without_references(
            healthy.agencies[0].hits
        )
    finally:

        async def stop() -> None:
            await federation.stop()
            await proxy.stop()

        loop.run(stop())


def start_node_process(config: Path) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [FIELDGATE, "node", "serve", "--config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()  # "node X listening on HOST:PORT ..."
    assert "listening on" in line, line + (process.stderr.read() if process.stderr else "")
    return process, line.split("listening on ")[1].split()[0]


@pytest.fixture
def node_config_file(kcso_spec: tuple[NodeSpec, Path], tmp_path: Path) -> Path:
    spec, workdir = kcso_spec
    config = node_config(spec, workdir)
    path = tmp_path / "pcso.toml"
    path.write_text(
        "\n".join(
            [
                "[node]",
                'id = "pcso"',
                'agency_name = "Pierce County"',
                'listen = "127.0.0.1:0"',
                "insecure = true",
                f'database = "{config.database}"',
                f'contract = "{shipped_contract("permissive")}"',
                f'rego_library = "{config.rego_library}"',
                "[node.contact]",
                'unit = "Records"',
                'phone = "253-555-0130"',
            ]
        )
    )
    return path


def test_a_node_killed_mid_run_is_marked_and_recovers_without_broker_restart(
    loop: LoopThread, kcso_spec: tuple[NodeSpec, Path], node_config_file: Path
) -> None:
    spec, workdir = kcso_spec
    config_path = node_config_file
    process, address = start_node_process(config_path)
    federation = loop.run(
        start_federation(
            [spec],
            workdir,
            extra_nodes=[NodeEntry("pcso", "Pierce County", address)],
            # The recovery loop below repeats one search; this test is about faults.
            limits=LimitsConfig(enabled=False),
        )
    )
    restarted: subprocess.Popen[str] | None = None
    try:
        before, _ = search(federation.broker_address)
        assert statuses(before) == {"kcso": "answered", "pcso": "answered"}
        assert all(a.hits for a in before.agencies)

        os.killpg(process.pid, signal.SIGKILL)
        process.communicate(timeout=10)
        during, elapsed = search(federation.broker_address)
        assert statuses(during) == {"kcso": "answered", "pcso": "unreachable"}
        assert elapsed < DEADLINE + MARGIN
        assert without_references(during.agencies[0].hits) == without_references(
            before.agencies[0].hits
        )

        # The node comes back on the same port; the broker's channel reconnects.
        port = address.rsplit(":", 1)[1]
        config_path.write_text(config_path.read_text().replace("127.0.0.1:0", f"127.0.0.1:{port}"))
        restarted, _ = start_node_process(config_path)
        deadline = time.monotonic() + 15
        after = during
        while statuses(after)["pcso"] != "answered" and time.monotonic() < deadline:
            after, _ = search(federation.broker_address)
        assert statuses(after) == {"kcso": "answered", "pcso": "answered"}
    finally:
        for proc in (process, restarted):
            if proc is not None:
                if proc.poll() is None:
                    os.killpg(proc.pid, signal.SIGTERM)
                proc.communicate(timeout=10)
        loop.run(federation.stop())


def test_sigterm_stops_a_node_cleanly(node_config_file: Path) -> None:
    process, address = start_node_process(node_config_file)
    channel = grpc.insecure_channel(address)
    grpc.channel_ready_future(channel).result(timeout=10)
    channel.close()
    process.send_signal(signal.SIGTERM)
    out, _ = process.communicate(timeout=15)
    assert process.returncode == 0
    assert "stopping" in out
