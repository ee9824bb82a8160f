"""Scenarios 1, 4 and half of 6: fan-out latency, throughput and the fleet's memory.

Layout (one machine, everything on 127.0.0.1):

- **nodes**: ``max(N)`` real agency nodes (``fieldgate.node.server.start_node``: SQLite
  store, sanctuary contract, disclosure log), spread round-robin over
  ``node_procs`` worker processes. Each node has its own copy of a small store;
  every tenth node holds the person searched for (two records), the others hold
  people of the same kind but not them, as in a wide federation where most
  agencies have nothing.
- **echo**: one bare ``grpc.aio`` echo server per node, *in the same worker
  process and event loop* as its node: the baseline travels to exactly the
  processes the nodes run in.
- **broker**: the real broker (``fieldgate.broker.server.start_broker``) in a process of
  its own, over the first N nodes.
- **client**: this process, one channel per server, raw bytes (nothing parsed
  in the timed loop).

For each N the client times, in interleaved rounds, (a) an echo fan-out to the
first N echo servers (200-byte payload), (b) the same search sent directly to
the first N nodes at once (what the broker does, without the broker), and (c)
the search through the broker. (c) − (b) is the broker's own cost; (b) − (a)
is the nodes' work, which on one 2-core machine adds up over all N nodes.
Every search carries a case number never used before (:class:`bench.common.FreshSearches`),
so no node answers from its decision cache.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc

from bench.common import (
    ECHO_PAYLOAD,
    SANCTUARY_CONTRACT,
    FreshSearches,
    Memory,
    person_query,
)
from bench.data import copy_store, fleet_templates
from bench.echo import (
    BROKER_SEARCH_METHOD,
    ECHO_METHOD,
    NODE_SEARCH_METHOD,
    RawCall,
    open_channel,
    raw_call,
)
from bench.procs import Worker, start_worker, stop_all, wait_ready
from bench.stats import Summary, slope, summarize
from fieldgate.devkit.synthetic import DEMO_SUBJECT
from fieldgate.v2 import broker_pb2, node_pb2

HOLDER_EVERY = 10
"""Every tenth node holds the person searched for."""

CALL_TIMEOUT_SECONDS = 60.0


@dataclass(frozen=True)
class FanoutSettings:
    """How much of the fan-out scenario to run."""

    node_counts: tuple[int, ...]
    rounds: dict[int, int]
    warmup_rounds: int
    records_per_node: int
    node_procs: int
    throughput_nodes: int
    throughput_clients: int
    throughput_seconds: float


@dataclass
class FanoutPoint:
    """One node count's latencies."""

    nodes: int
    echo: Summary
    direct: Summary
    broker: Summary
    answered: int
    hits: int
    expected_hits: int

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "nodes": self.nodes,
            "echo": self.echo.as_dict(),
            "direct": self.direct.as_dict(),
            "broker": self.broker.as_dict(),
            "answered": self.answered,
            "hits": self.hits,
            "expected_hits": self.expected_hits,
        }


@dataclass
class Throughput:
    """Completed operations per second at a fixed concurrency."""

    nodes: int
    clients: int
    seconds: float
    echo_per_s: float
    direct_per_s: float
    broker_per_s: float
    broker_latency: Summary
    echo_latency: Summary

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "nodes": self.nodes,
            "clients": self.clients,
            "seconds": self.seconds,
            "echo_per_s": self.echo_per_s,
            "direct_per_s": self.direct_per_s,
            "broker_per_s": self.broker_per_s,
            "broker_latency": self.broker_latency.as_dict(),
            "echo_latency": self.echo_latency.as_dict(),
        }


@dataclass
class FleetMemory:
    """Memory of the broker and node processes at the largest N."""

    nodes: int
    node_procs: int
    broker: Memory | None
    workers: list[Memory | None]
    workers_before_echo_rss: list[int | None]

    def total_rss(self) -> int | None:
        """Broker + worker RSS, bytes."""
        parts = [self.broker, *self.workers]
        if any(p is None for p in parts):
            return None
        return sum(p.rss for p in parts if p is not None)

    def total_pss(self) -> int | None:
        """Broker + worker PSS (shared pages counted once), bytes."""
        parts = [self.broker, *self.workers]
        if any(p is None or p.pss is None for p in parts):
            return None
        return sum(p.pss for p in parts if p is not None and p.pss is not None)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""

        def mem(m: Memory | None) -> dict[str, int | None] | None:
            return None if m is None else {"rss": m.rss, "pss": m.pss, "uss": m.uss}

        return {
            "nodes": self.nodes,
            "node_procs": self.node_procs,
            "broker": mem(self.broker),
            "workers": [mem(w) for w in self.workers],
            "workers_rss_before_echo": self.workers_before_echo_rss,
            "total_rss": self.total_rss(),
            "total_pss": self.total_pss(),
        }


@dataclass
class FanoutResult:
    """Everything the fleet measured."""

    settings: FanoutSettings
    points: list[FanoutPoint] = field(default_factory=list)
    throughput: Throughput | None = None
    memory: FleetMemory | None = None
    startup_seconds: float = math.nan

    def slopes(self) -> dict[str, float]:
        """Marginal p50 per added node (ms per node) of each series."""
        xs = [float(p.nodes) for p in self.points]
        return {
            "echo": slope(xs, [p.echo.p50 for p in self.points]),
            "direct": slope(xs, [p.direct.p50 for p in self.points]),
            "broker": slope(xs, [p.broker.p50 for p in self.points]),
        }

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "node_procs": self.settings.node_procs,
            "records_per_node": self.settings.records_per_node,
            "startup_seconds": self.startup_seconds,
            "points": [p.as_dict() for p in self.points],
            "slopes_ms_per_node": self.slopes(),
            "throughput": self.throughput.as_dict() if self.throughput else None,
            "memory": self.memory.as_dict() if self.memory else None,
        }


def fanout_query() -> Any:
    return person_query(DEMO_SUBJECT.surname, DEMO_SUBJECT.given_name, DEMO_SUBJECT.dob)


class _Client:
    """The benchmark client: one channel per server, raw calls."""

    def __init__(self) -> None:
        self._channels: dict[str, grpc.aio.Channel] = {}

    def call(self, address: str, method: str) -> RawCall:
        if address not in self._channels:
            self._channels[address] = open_channel(address)
        return raw_call(self._channels[address], method)

    async def close(self) -> None:
        await asyncio.gather(*(c.close(None) for c in self._channels.values()))
        self._channels.clear()


async def _timed(operation: Callable[[], Awaitable[Any]]) -> float:
    started = time.perf_counter()
    await operation()
    return time.perf_counter() - started


async def _rounds(
    series: Mapping[str, Callable[[], Awaitable[object]]], rounds: int
) -> dict[str, list[float]]:
    """Run every series once per round, rotating who goes first; return durations."""
    names = list(series)
    samples: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        for i in range(len(names)):
            name = names[(r + i) % len(names)]
            samples[name].append(await _timed(series[name]))
    return samples


async def _closed_loop(
    operation: Callable[[], Awaitable[Any]], clients: int, seconds: float
) -> tuple[float, list[float]]:
    """``clients`` tasks each repeating ``operation`` for ``seconds``; return (ops/s, latencies)."""
    latencies: list[float] = []
    stop_at = time.perf_counter() + seconds

    async def one_client() -> None:
        while time.perf_counter() < stop_at:
            latencies.append(await _timed(operation))

    started = time.perf_counter()
    await asyncio.gather(*(one_client() for _ in range(clients)))
    elapsed = time.perf_counter() - started
    return len(latencies) / elapsed, latencies


def _check_broker_answer(raw: bytes, nodes: int) -> tuple[int, int]:
    answer = broker_pb2.SearchResponse.FromString(raw)
    answered = sum(1 for r in answer.results if r.status == broker_pb2.NODE_STATUS_ANSWERED)
    hits = sum(len(r.hits) for r in answer.results)
    if len(answer.results) != nodes:
        raise RuntimeError(f"broker answered for {len(answer.results)} nodes, not {nodes}")
    return answered, hits


def start_fleet(
    settings: FanoutSettings, workdir: Path, log: Callable[[str], None]
) -> tuple[list[Worker], list[dict[str, str]], list[str]]:
    """Build the node stores, start the node workers; return (workers, nodes, echo addresses)."""
    total = max(settings.node_counts)
    holder, other = fleet_templates(workdir / "templates", settings.records_per_node)
    specs: list[list[dict[str, str]]] = [[] for _ in range(min(settings.node_procs, total))]
    for i in range(total):
        node_id = f"n{i:03d}"
        source = holder if i % HOLDER_EVERY == 0 else other
        database = copy_store(source, workdir / "nodes" / f"{node_id}.sqlite")
        # Round-robin, shifted every HOLDER_EVERY nodes so holders spread over all workers.
        specs[(i + i // HOLDER_EVERY) % len(specs)].append(
            {
                "node_id": node_id,
                "agency_name": f"Agency {i:03d}",
                "database": str(database),
                "contract": str(SANCTUARY_CONTRACT),
            }
        )
    log(f"starting {total} nodes in {len(specs)} worker processes")
    workers = [
        start_worker({"kind": "nodes", "nodes": spec, "echo": True}, workdir, f"nodes-{w}")
        for w, spec in enumerate(specs)
    ]
    wait_ready(workers, timeout=60 + total * 0.5)
    nodes: list[dict[str, str]] = [{} for _ in range(total)]
    echoes: list[str] = ["" for _ in range(total)]
    for worker in workers:
        for node, echo in zip(worker.info["nodes"], worker.info["echo"], strict=True):
            i = int(node["node_id"][1:])
            nodes[i] = {
                "node_id": node["node_id"],
                "agency_name": f"Agency {i:03d}",
                "address": node["address"],
            }
            echoes[i] = echo
    return workers, nodes, echoes


async def run_fanout(
    settings: FanoutSettings, workdir: Path, log: Callable[[str], None]
) -> FanoutResult:
    """Run the fan-out, throughput and fleet-memory measurements."""
    result = FanoutResult(settings)
    started = time.monotonic()
    workers, nodes, echoes = start_fleet(settings, workdir, log)
    result.startup_seconds = time.monotonic() - started
    log(f"fleet ready in {result.startup_seconds:.1f} s")
    client = _Client()
    query = fanout_query()
    searches = FreshSearches(query, "bench-direct")
    try:
        for n in sorted(settings.node_counts):
            broker = start_worker({"kind": "broker", "nodes": nodes[:n]}, workdir, f"broker-{n}")
            wait_ready([broker], timeout=60)
            try:
                result.points.append(
                    await _measure_point(n, settings, client, nodes, echoes, broker, searches, log)
                )
                if n == settings.throughput_nodes:
                    result.throughput = await _measure_throughput(
                        n, settings, client, nodes, echoes, broker, searches, log
                    )
                if n == max(settings.node_counts):
                    result.memory = FleetMemory(
                        nodes=n,
                        node_procs=len(workers),
                        broker=broker.memory(),
                        workers=[w.memory() for w in workers],
                        workers_before_echo_rss=[w.info.get("rss_before_echo") for w in workers],
                    )
            finally:
                broker.stop()
    finally:
        await client.close()
        stop_all(workers)
    return result


async def _measure_point(
    n: int,
    settings: FanoutSettings,
    client: _Client,
    nodes: Sequence[dict[str, str]],
    echoes: Sequence[str],
    broker: Worker,
    searches: FreshSearches,
    log: Callable[[str], None],
) -> FanoutPoint:
    echo_calls = [client.call(a, ECHO_METHOD) for a in echoes[:n]]
    node_calls = [client.call(node["address"], NODE_SEARCH_METHOD) for node in nodes[:n]]
    broker_call = client.call(broker.info["address"], BROKER_SEARCH_METHOD)
    timeout = CALL_TIMEOUT_SECONDS

    async def echo() -> list[bytes]:
        return list(await asyncio.gather(*(c(ECHO_PAYLOAD, timeout=timeout) for c in echo_calls)))

    async def direct() -> list[bytes]:
        node_bytes = searches.node()
        return list(await asyncio.gather(*(c(node_bytes, timeout=timeout) for c in node_calls)))

    async def through_broker() -> bytes:
        return await broker_call(searches.broker(), timeout=timeout)

    series = {"echo": echo, "direct": direct, "broker": through_broker}
    await _rounds(series, settings.warmup_rounds)
    # Check once, outside the timed loop, that the search really is answered by every node.
    answered, hits = _check_broker_answer(await through_broker(), n)
    direct_hits = sum(
        len(node_pb2.NodeServiceSearchResponse.FromString(raw).hits) for raw in await direct()
    )
    expected = 2 * len(range(0, n, HOLDER_EVERY))
    if answered != n or hits != expected or direct_hits != expected:
        raise RuntimeError(
            f"N={n}: {answered} of {n} nodes answered with {hits} hits "
            f"({direct_hits} directly); expected {expected}"
        )
    rounds = settings.rounds.get(n, min(settings.rounds.values()))
    samples = await _rounds(series, rounds)
    point = FanoutPoint(
        nodes=n,
        echo=summarize(samples["echo"]),
        direct=summarize(samples["direct"]),
        broker=summarize(samples["broker"]),
        answered=answered,
        hits=hits,
        expected_hits=expected,
    )
    log(
        f"N={n}: p50 echo {point.echo.p50:.2f} ms, direct {point.direct.p50:.2f} ms, "
        f"broker {point.broker.p50:.2f} ms (p99 {point.broker.p99:.2f} ms), {rounds} rounds"
    )
    return point


async def _measure_throughput(
    n: int,
    settings: FanoutSettings,
    client: _Client,
    nodes: Sequence[dict[str, str]],
    echoes: Sequence[str],
    broker: Worker,
    searches: FreshSearches,
    log: Callable[[str], None],
) -> Throughput:
    echo_calls = [client.call(a, ECHO_METHOD) for a in echoes[:n]]
    node_calls = [client.call(node["address"], NODE_SEARCH_METHOD) for node in nodes[:n]]
    broker_call = client.call(broker.info["address"], BROKER_SEARCH_METHOD)
    timeout = CALL_TIMEOUT_SECONDS

    async def echo() -> None:
        await asyncio.gather(*(c(ECHO_PAYLOAD, timeout=timeout) for c in echo_calls))

    async def direct() -> None:
        node_bytes = searches.node()
        await asyncio.gather(*(c(node_bytes, timeout=timeout) for c in node_calls))

    async def through_broker() -> None:
        await broker_call(searches.broker(), timeout=timeout)

    clients, seconds = settings.throughput_clients, settings.throughput_seconds
    rates: dict[str, tuple[float, list[float]]] = {}
    for name, operation in (("echo", echo), ("direct", direct), ("broker", through_broker)):
        await _closed_loop(operation, clients, min(1.0, seconds / 2))  # warm up
        rates[name] = await _closed_loop(operation, clients, seconds)
    out = Throughput(
        nodes=n,
        clients=clients,
        seconds=seconds,
        echo_per_s=rates["echo"][0],
        direct_per_s=rates["direct"][0],
        broker_per_s=rates["broker"][0],
        broker_latency=summarize(rates["broker"][1]),
        echo_latency=summarize(rates["echo"][1]),
    )
    log(
        f"throughput N={n}, {clients} clients: echo {out.echo_per_s:.0f}/s, "
        f"direct {out.direct_per_s:.0f}/s, broker {out.broker_per_s:.0f}/s"
    )
    return out
