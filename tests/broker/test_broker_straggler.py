"""The straggler policy on a secure federation: node deadline, hedging to replicas.

Real nodes on loopback with signed searches and mutual TLS; the fault proxy
sits between the broker and the agency's primary node. The replica is a
second node of the same agency (same node id, its own database copy, its own
replay cache), so it accepts the very signed search the primary got.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from fieldgate.broker.config import NodeEntry
from fieldgate.broker.server import RunningBroker
from fieldgate.client.answer_check import AnswerCheck
from fieldgate.client.broker_client import Requester, SearchClient
from fieldgate.client.results import SearchResult
from fieldgate.core.tls import DevPKI
from fieldgate.devkit.demo import CONTRACT_OF
from fieldgate.devkit.dev_trust import DevTrust
from fieldgate.devkit.local_federation import (
    LocalFederation,
    NodeSpec,
    import_records,
    start_federation,
)
from fieldgate.devkit.synthetic import (
    DEMO_AGENCIES,
    DEMO_SUBJECT,
    generate_agency_records,
    write_jsonl,
)
from fieldgate.policy.shipped import shipped_contract
from fieldgate.trust.config import build_store
from tests.helpers.brokers import start_test_broker
from tests.helpers.faults import FaultProxy
from tests.helpers.federation import LoopThread

CRIMINAL = Requester("", "", "", "criminal_investigation", "BPD-2026-018233")
MARGIN = 0.75  # as in test_broker_faults: a loaded 2-core machine, never the full deadline
KCSO, SPD = DEMO_AGENCIES[0], DEMO_AGENCIES[1]


@dataclass
class Agencies:
    primaries: LocalFederation
    replica: LocalFederation
    kit: DevTrust
    pki: DevPKI
    workdir: Path

    def address(self, node_id: str) -> str:
        return self.primaries.nodes[node_id].address

    @property
    def replica_address(self) -> str:
        return self.replica.nodes[KCSO.node_id].address


def spec(agency: object, workdir: Path) -> NodeSpec:
    node_id, name = agency.node_id, agency.name  # type: ignore[attr-defined]
    records = workdir / f"{node_id}.jsonl"
    write_jsonl(generate_agency_records(agency, count=100, seed=13), records)  # type: ignore[arg-type]
    made = NodeSpec(node_id, name, shipped_contract(CONTRACT_OF[node_id]), records)
    import_records(made, workdir)
    return made


@pytest.fixture(scope="module")
def agencies(loop: LoopThread, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Agencies]:
    workdir = tmp_path_factory.mktemp("straggler")
    kit = DevTrust(workdir / "trust")
    kit.add_issuer("bellevue-pd", "local_law_enforcement")
    for agency in (KCSO, SPD):  # a replica holds its agency's keys (the same files)
        kit.add_node(agency.node_id)
    kit.write()
    pki = DevPKI.create(workdir / "pki", ["broker", KCSO.node_id, SPD.node_id, "investigator"])
    (workdir / "replica").mkdir()
    primary_specs = [spec(KCSO, workdir), spec(SPD, workdir)]
    replica_spec = spec(KCSO, workdir / "replica")

    async def start() -> tuple[LocalFederation, LocalFederation]:
        primaries = await start_federation(primary_specs, workdir, trust=kit.config(), pki=pki)
        await primaries.broker.stop()
        replica = await start_federation(
            [replica_spec], workdir / "replica", trust=kit.config(), pki=pki
        )
        await replica.broker.stop()
        return primaries, replica

    primaries, replica = loop.run(start())
    yield Agencies(primaries, replica, kit, pki, workdir)

    async def stop() -> None:
        for federation in (primaries, replica):
            for running in federation.nodes.values():
                await running.stop(0)

    loop.run(stop())


def search(agencies: Agencies, broker: RunningBroker) -> tuple[SearchResult, float]:
    identity = agencies.kit.identity(
        "bellevue-pd", "det-4711", ["criminal_investigation"], roles=["detective"]
    )
    started = time.monotonic()
    with SearchClient(
        broker.address,
        agencies.pki.files("investigator"),
        answers=AnswerCheck(build_store(agencies.kit.config())),
    ) as client:
        result = client.search(
            CRIMINAL,
            surname=DEMO_SUBJECT.surname,
            given_name=DEMO_SUBJECT.given_name,
            dob=DEMO_SUBJECT.dob,
            identity=identity,
        )
    return result, time.monotonic() - started


def by_node(result: SearchResult) -> dict[str, tuple[str, int]]:
    return {a.node_id: (a.status, len(a.hits)) for a in result.agencies}


def counter(broker: RunningBroker, name: str, node: str = KCSO.node_id) -> float:
    assert broker.metrics is not None
    value = broker.metrics.registry.get_sample_value(f"fieldgate_broker_{name}", {"node": node})
    return value or 0.0


def start_broker_behind_proxy(
    loop: LoopThread,
    agencies: Agencies,
    *,
    replicas: tuple[str, ...] = (),
    hedge_after_ms: int = 250,
    node_deadline_ms: int | None = None,
) -> tuple[RunningBroker, FaultProxy]:
    """A broker asking KCSO through a fault proxy (with ``replicas``) and SPD directly."""

    async def start() -> tuple[RunningBroker, FaultProxy]:
        proxy = FaultProxy(agencies.address(KCSO.node_id))
        proxied = await proxy.start()
        kcso = NodeEntry(KCSO.node_id, KCSO.name, proxied, replicas, hedge_after_ms)
        spd = NodeEntry(SPD.node_id, SPD.name, agencies.address(SPD.node_id))
        broker = await start_test_broker(
            (kcso, spd),
            agencies.workdir,
            node_deadline_ms=node_deadline_ms,
            trust=agencies.kit.config(),
            tls=agencies.pki.files("broker"),
        )
        return broker, proxy

    return loop.run(start())


def stop(loop: LoopThread, broker: RunningBroker, proxy: FaultProxy) -> None:
    async def both() -> None:
        await broker.stop()
        await proxy.stop()

    loop.run(both())


def test_a_blackholed_primary_is_answered_by_its_replica_within_the_hedge_delay(
    loop: LoopThread, agencies: Agencies
) -> None:
    hedge = 0.15
    broker, proxy = start_broker_behind_proxy(
        loop, agencies, replicas=(agencies.replica_address,), hedge_after_ms=int(hedge * 1000)
    )
    try:
        reference, _ = search(agencies, broker)  # through the primary; connection up
        assert by_node(reference)[KCSO.node_id][0] == "answered"
        assert reference.agencies[0].hits
        sent, won = counter(broker, "hedges_sent_total"), counter(broker, "hedges_won_total")

        proxy.mode = "blackhole"  # the open connection swallows every byte from now on
        result, elapsed = search(agencies, broker)
        assert elapsed < hedge + MARGIN
        # The replica verified the same signed search (its own replay cache) and
        # released what the primary releases: that agency once, same hits.
        assert [a.node_id for a in result.agencies] == [KCSO.node_id, SPD.node_id]
        assert result.agencies[0].status == "answered"
        assert result.agencies[0].hits == reference.agencies[0].hits
        assert result.agencies[1].hits == reference.agencies[1].hits
        assert counter(broker, "hedges_sent_total") == sent + 1
        assert counter(broker, "hedges_won_total") == won + 1
        assert counter(broker, "hedges_sent_total", SPD.node_id) == 0
        assert broker.search_log is not None
        logged = broker.search_log.rows()[-1]
        assert logged["request_id"] == result.request_id
        kcso = logged["nodes"][0]  # type: ignore[index]
        assert kcso["asked"] == [proxy_address(broker), agencies.replica_address]
        assert kcso["answered_by"] == agencies.replica_address
        assert "asked" not in logged["nodes"][1]  # type: ignore[index]
    finally:
        stop(loop, broker, proxy)


def proxy_address(broker: RunningBroker) -> str:
    return broker.fanout.agencies[0].entry.address


def test_a_primary_slower_than_the_node_deadline_is_timed_out_while_others_answer(
    loop: LoopThread, agencies: Agencies
) -> None:
    broker, proxy = start_broker_behind_proxy(loop, agencies, node_deadline_ms=400)
    try:
        reference, _ = search(agencies, broker)
        assert by_node(reference)[KCSO.node_id][0] == "answered"
        proxy.delay = 2.0  # well past the node deadline, within the 3 s search deadline
        proxy.mode = "delay"
        result, elapsed = search(agencies, broker)
        assert by_node(result) == {
            KCSO.node_id: ("timed_out", 0),
            SPD.node_id: ("answered", len(reference.agencies[1].hits)),
        }
        assert result.agencies[0].detail == "no answer within the node deadline (400 ms)"
        assert elapsed < 0.4 + MARGIN, "the search ended at the node deadline, not its own"
        assert counter(broker, "hedges_sent_total") == 0
    finally:
        stop(loop, broker, proxy)


def test_without_a_replica_nothing_is_hedged_and_nothing_changes(
    loop: LoopThread, agencies: Agencies
) -> None:
    broker, proxy = start_broker_behind_proxy(loop, agencies)
    try:
        first, _ = search(agencies, broker)
        proxy.mode = "blackhole"
        result, elapsed = search(agencies, broker)
        assert by_node(result) == {
            KCSO.node_id: ("timed_out", 0),
            SPD.node_id: ("answered", len(first.agencies[1].hits)),
        }
        assert result.agencies[0].detail == "no answer before the search deadline"
        assert elapsed < 3.0 + MARGIN
        assert counter(broker, "hedges_sent_total") == 0
        assert counter(broker, "hedges_won_total") == 0
        assert broker.search_log is not None
        assert all("asked" not in n for row in broker.search_log.rows() for n in row["nodes"])  # type: ignore[attr-defined]
    finally:
        stop(loop, broker, proxy)


def test_a_replica_answering_as_another_agency_is_refused(
    loop: LoopThread, agencies: Agencies
) -> None:
    # Misconfigured: KCSO's "replica" is SPD's node, which answers as spd.
    wrong = agencies.address(SPD.node_id)
    broker, proxy = start_broker_behind_proxy(
        loop, agencies, replicas=(wrong,), hedge_after_ms=100, node_deadline_ms=600
    )
    try:
        search(agencies, broker)
        won = counter(broker, "hedges_won_total")
        proxy.mode = "blackhole"
        result, _ = search(agencies, broker)
        kcso = result.agencies[0]
        assert (kcso.node_id, kcso.status, kcso.hits) == (KCSO.node_id, "timed_out", ())
        assert "replica" in kcso.detail
        assert result.agencies[1].status == "answered"  # SPD itself is fine
        assert counter(broker, "hedges_won_total") == won
    finally:
        stop(loop, broker, proxy)


def test_a_primary_that_fails_at_once_goes_to_its_replica_without_waiting(
    loop: LoopThread, agencies: Agencies
) -> None:
    broker, proxy = start_broker_behind_proxy(
        loop, agencies, replicas=(agencies.replica_address,), hedge_after_ms=2000
    )
    try:
        proxy.mode = "reset"  # every connection to the primary is reset on accept
        result, elapsed = search(agencies, broker)
        assert result.agencies[0].status == "answered"
        assert result.agencies[0].hits
        assert elapsed < 2.0, "the replica was asked when the primary failed, not at 2 s"
        assert counter(broker, "hedges_won_total") == 1
    finally:
        stop(loop, broker, proxy)
