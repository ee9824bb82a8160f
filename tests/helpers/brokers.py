"""Brokers in front of faulty nodes, for stream and straggler tests.

:func:`proxied_broker` starts real nodes and a broker whose last agency sits
behind a :class:`~tests.helpers.faults.FaultProxy`; :func:`wait_until` waits
for state the broker reaches on its own after a client has gone.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fieldgate.broker.config import BrokerConfig, NodeEntry
from fieldgate.broker.limits import LimitsConfig
from fieldgate.broker.server import RunningBroker, start_broker
from fieldgate.core.tls import TLSFiles
from fieldgate.devkit.local_federation import (
    LocalFederation,
    NodeSpec,
    import_records,
    start_federation,
)
from fieldgate.devkit.synthetic import DEMO_AGENCIES, generate_agency_records, write_jsonl
from fieldgate.ops.endpoints import MetricsConfig
from fieldgate.policy.shipped import shipped_contract
from fieldgate.trust.config import TrustConfig
from tests.helpers.faults import FaultProxy
from tests.helpers.federation import LoopThread


def import_two_agencies(workdir: Path) -> tuple[list[NodeSpec], Path]:
    """Two demo agencies under the permissive contract, records imported into ``workdir``."""
    specs = []
    for agency in DEMO_AGENCIES[:2]:
        records = workdir / f"{agency.node_id}.jsonl"
        write_jsonl(generate_agency_records(agency, count=80, seed=9), records)
        spec = NodeSpec(agency.node_id, agency.name, shipped_contract("permissive"), records)
        import_records(spec, workdir)
        specs.append(spec)
    return specs, workdir


async def proxied_broker(
    specs: list[NodeSpec], workdir: Path, limits: LimitsConfig
) -> tuple[LocalFederation, FaultProxy, RunningBroker]:
    """Both agencies' nodes, the second behind a fault proxy, and a broker with a search log."""
    nodes = await start_federation(specs, workdir, limits=LimitsConfig(enabled=False))
    await nodes.broker.stop()
    proxy = FaultProxy(nodes.nodes[specs[1].node_id].address)
    address = await proxy.start()
    first = nodes.nodes[specs[0].node_id].address
    broker = await start_test_broker(
        (
            NodeEntry(specs[0].node_id, specs[0].agency_name, first),
            NodeEntry(specs[1].node_id, specs[1].agency_name, address),
        ),
        workdir,
        limits=limits,
    )
    return nodes, proxy, broker


async def start_test_broker(
    nodes: tuple[NodeEntry, ...],
    workdir: Path,
    *,
    node_deadline_ms: int | None = None,
    default_deadline_seconds: float = 3.0,
    trust: TrustConfig | None = None,
    tls: TLSFiles | None = None,
    limits: LimitsConfig | None = None,
) -> RunningBroker:
    """A broker over ``nodes`` with its own search log (in ``workdir``) and metrics."""
    return await start_broker(
        BrokerConfig(
            listen="127.0.0.1:0",
            nodes=nodes,
            default_deadline_seconds=default_deadline_seconds,
            node_deadline_ms=node_deadline_ms,
            trust=trust,
            tls=tls,
            insecure=trust is None or tls is None,
            search_log=workdir / f"broker-{time.monotonic_ns()}.sqlite",
            metrics=MetricsConfig("127.0.0.1:0"),
            limits=limits if limits is not None else LimitsConfig(enabled=False),
        )
    )


def stop_all(loop: LoopThread, nodes: LocalFederation, proxy: FaultProxy, broker: Any) -> None:
    async def stop() -> None:
        await broker.stop()
        await proxy.stop()
        for running in nodes.nodes.values():
            await running.stop(0)

    loop.run(stop())


def wait_until(loop: LoopThread, predicate: Callable[[], bool], seconds: float = 5.0) -> None:
    """Wait for state the broker reaches on its own task, after the client has gone.

    Nothing outside the broker can await that task, so its observable state is
    polled (on the broker's own loop) until it holds, within a bound.
    """

    async def poll() -> None:
        while not predicate():  # noqa: ASYNC110 - the broker offers no event to wait on
            await asyncio.sleep(0.01)

    loop.run(asyncio.wait_for(poll(), seconds))
