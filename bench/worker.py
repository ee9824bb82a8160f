"""A benchmark server process: ``python -m bench.worker SPEC.json``.

The spec says what to serve:

- ``{"kind": "nodes", "nodes": [{"node_id", "agency_name", "database",
  "contract", "trust"?}, ...], "echo": true}`` starts every node (the real
  ``fieldgate.node.server.start_node``) and, with ``echo``, one bare echo server per node
  on the same event loop, so the echo baseline runs in exactly the processes
  the nodes run in; with ``"cprofile": PATH`` the event loop's thread runs under
  cProfile and its statistics are written to PATH when the worker stops
  (profiling only: ``bench/node_cost.py``'s analysis in BENCHMARKS.md);
- ``{"kind": "broker", "nodes": [{"node_id", "agency_name", "address"}, ...],
  "trust": {"bundle", "revocations", "authority"}}`` starts the real broker
  (``fieldgate.broker.server.start_broker``) over those nodes; with ``trust`` it
  verifies and forwards signed searches (plaintext, development transport);
  with ``"profile": PATH`` it writes a cProfile of its event loop there;
- ``{"kind": "standins", "nodes": [{"node_id", "key"}, ...]}`` starts stand-in
  nodes (:mod:`bench.standin`), which also read commands on stdin.

When everything listens, the worker prints one JSON line on stdout (addresses,
pid, its memory before the echo servers started) and serves until its stdin
closes, which happens when the benchmark ends or dies: no worker outlives it.
"""

from __future__ import annotations

import asyncio
import cProfile
import dataclasses
import json
import logging
import os
import sys
import threading
from pathlib import Path
from typing import Any

import grpc

from bench import standin
from bench.common import broker_config, node_config, own_memory
from bench.echo import start_echo_server
from fieldgate.broker.config import NodeEntry
from fieldgate.broker.server import RunningBroker, start_broker
from fieldgate.node.server import RunningNode, start_node
from fieldgate.trust.config import TrustConfig


def _stdin_closed(loop: asyncio.AbstractEventLoop) -> asyncio.Future[None]:
    """A future that completes when stdin reaches end of file."""
    done: asyncio.Future[None] = loop.create_future()

    def watch() -> None:
        sys.stdin.buffer.read()

        def finish() -> None:
            if not done.done():
                done.set_result(None)

        loop.call_soon_threadsafe(finish)

    threading.Thread(target=watch, name="stdin-watch", daemon=True).start()
    return done


async def _serve_nodes(spec: dict[str, Any]) -> None:
    nodes: list[RunningNode] = []
    echoes: list[grpc.aio.Server] = []
    ready = _stdin_closed(asyncio.get_running_loop())
    try:
        for item in spec["nodes"]:
            contract = Path(item["contract"]) if item.get("contract") else None
            trust = Path(item["trust"]) if item.get("trust") else None
            config = node_config(
                item["node_id"], item["agency_name"], Path(item["database"]), contract, trust
            )
            nodes.append(await start_node(config))
        memory = own_memory()
        echo_addresses: list[str] = []
        if spec.get("echo"):
            for _ in nodes:
                server, address = await start_echo_server()
                echoes.append(server)
                echo_addresses.append(address)
        print(
            json.dumps(
                {
                    "nodes": [{"node_id": n.node.node_id, "address": n.address} for n in nodes],
                    "echo": echo_addresses,
                    "rss_before_echo": memory.rss if memory else None,
                }
            ),
            flush=True,
        )
        await ready
    finally:
        for server in echoes:
            await server.stop(0)
        for running in nodes:
            await running.stop(0)


async def _serve_broker(spec: dict[str, Any]) -> None:
    entries = [NodeEntry(n["node_id"], n["agency_name"], n["address"]) for n in spec["nodes"]]
    ready = _stdin_closed(asyncio.get_running_loop())
    config = broker_config(entries)
    if spec.get("trust"):
        trust = spec["trust"]
        config = dataclasses.replace(
            config,
            trust=TrustConfig(
                Path(trust["bundle"]),
                Path(trust["revocations"]),
                authority_key=Path(trust["authority"]),
            ),
        )
    broker: RunningBroker = await start_broker(config)
    # ``profile``: the broker's event loop under cProfile, written when it stops.
    profiler = cProfile.Profile() if spec.get("profile") else None
    try:
        print(json.dumps({"address": broker.address}), flush=True)
        if profiler is not None:
            profiler.enable()
        await ready
    finally:
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(spec["profile"])
        await broker.stop(0)


def main(argv: list[str]) -> int:
    """Serve what the spec file ``argv[0]`` asks for."""
    # Nodes and broker run in development mode and would warn once each.
    # FIELDGATE_BENCH_LOG=WARNING shows the broker's node failures (in the worker's log).
    level = os.environ.get("FIELDGATE_BENCH_LOG", "ERROR")
    logging.basicConfig(level=level, format="%(name)s: %(message)s")
    spec: dict[str, Any] = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    if spec["kind"] == "nodes" and spec.get("cprofile"):
        # Profiling only (bench/node_cost.py --cprofile): the event loop's thread.
        import cProfile

        with cProfile.Profile() as profile:
            asyncio.run(_serve_nodes(spec))
        profile.dump_stats(spec["cprofile"])
    elif spec["kind"] == "nodes":
        asyncio.run(_serve_nodes(spec))
    elif spec["kind"] == "broker":
        asyncio.run(_serve_broker(spec))
    elif spec["kind"] == "standins":
        asyncio.run(standin.serve(spec))
    else:
        print(f"unknown worker kind {spec['kind']!r}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
