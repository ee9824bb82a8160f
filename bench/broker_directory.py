"""A broker over a signed trust directory: start-up, listing, addressing and channels at N nodes.

``python -m bench.broker_directory [N ...]`` (default 1,000 and 8,500) prints
JSON, each figure beside a baseline measured in the same run:

- ``start_s``: :func:`fieldgate.broker.server.start_broker` with
  ``[broker.directory]`` over a signed bundle of N nodes (opened with the
  pinned authority key, parsed, addresses made), against ``bare_parse_s``:
  ``json.loads`` of the same bundle file;
- ``list_s``: every ``ListNodes`` page (1,000 nodes each) over loopback
  gRPC, against ``bare_list_s``: one ``ListNodes`` of a one-node page, times
  the number of pages;
- ``addressed_all_ms``: the broker's per-search lookup of every agency, and
  ``roster_us``: its per-search directory check (a ``stat``);
- ``connect_s``: the channel pool connecting N plaintext channels (256 at a
  time) to one loopback server listening at N distinct 127.x addresses,
  against ``bare_connect_s``: the same with bare ``grpc.aio`` channels and the
  same concurrency (after the pool's are closed); ``rss_mb_per_channel`` and
  ``fds_per_channel`` count both ends (one process).

Nodes here are not real agencies: this measures the broker's own directory
and channel handling; the fan-out itself is the federation benchmark's.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import grpc

from fieldgate.broker.channel_pool import ChannelPool
from fieldgate.broker.config import BrokerConfig, DirectoryConfig
from fieldgate.broker.server import start_broker
from fieldgate.devkit.dev_trust import DevTrust
from fieldgate.v2 import broker_pb2, broker_pb2_grpc

CONCURRENCY = 256


def rss_mb() -> float:
    """This process's resident set, MiB."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) / 1024
    return 0.0


def kit_of(n: int, directory: Path) -> DevTrust:
    """A signed bundle listing ``n`` nodes."""
    kit = DevTrust(directory)
    kit.add_issuer("kcso", "local_law_enforcement")
    for i in range(n):
        kit.add_node(f"n{i:05d}", name=f"Agency {i}")
    kit.write()
    return kit


async def directory_figures(kit: DevTrust) -> dict[str, float]:
    """Start, list, address: the broker's directory work at the bundle's size."""
    started = time.perf_counter()
    json.loads(kit.bundle_path.read_bytes())
    bare_parse = time.perf_counter() - started
    config = BrokerConfig(
        listen="127.0.0.1:0",
        nodes=(),
        trust=kit.config(),
        insecure=True,
        search_log=None,
        directory=DirectoryConfig("{id}.nodes.invalid:8443"),
    )
    started = time.perf_counter()
    broker = await start_broker(config)
    start = time.perf_counter() - started
    channel = grpc.aio.insecure_channel(broker.address)
    stub = broker_pb2_grpc.BrokerServiceStub(channel)
    await stub.ListNodes(broker_pb2.ListNodesRequest(page_size=1))
    started = time.perf_counter()
    token, pages = "", 0
    while True:
        page = await stub.ListNodes(broker_pb2.ListNodesRequest(page_token=token))
        pages += 1
        if not (token := page.next_page_token):
            break
    listing = time.perf_counter() - started
    started = time.perf_counter()
    for _ in range(pages):
        await stub.ListNodes(broker_pb2.ListNodesRequest(page_size=1))
    bare_list = time.perf_counter() - started
    started = time.perf_counter()
    for _ in range(100):
        broker.fanout.addressed(None)
    addressed = (time.perf_counter() - started) / 100
    started = time.perf_counter()
    for _ in range(1000):
        broker.fanout.roster()
    roster = (time.perf_counter() - started) / 1000
    await channel.close(None)
    await broker.stop()
    return {
        "bundle_mb": kit.bundle_path.stat().st_size / 1e6,
        "start_s": start,
        "bare_parse_s": bare_parse,
        "list_s": listing,
        "bare_list_s": bare_list,
        "pages": pages,
        "addressed_all_ms": addressed * 1e3,
        "roster_us": roster * 1e6,
    }


async def channel_figures(n: int) -> dict[str, float]:
    """Connect ``n`` channels through the pool, and bare, to one loopback server."""
    server = grpc.aio.server()
    port = server.add_insecure_port("0.0.0.0:0")
    await server.start()
    targets = [(f"127.0.{i // 250}.{i % 250 + 1}:{port}", f"n{i}") for i in range(n)]
    gate = asyncio.Semaphore(CONCURRENCY)

    async def bare(address: str) -> grpc.aio.Channel:
        async with gate:
            made = grpc.aio.insecure_channel(address)
            await made.channel_ready()
            return made

    pool = ChannelPool(None, 300.0)
    before, fds = rss_mb(), len(os.listdir("/proc/self/fd"))
    started = time.perf_counter()
    ready = await pool.connect(targets, concurrency=CONCURRENCY, seconds=60.0)
    connect = time.perf_counter() - started
    grown, fds_grown = rss_mb() - before, len(os.listdir("/proc/self/fd")) - fds
    await pool.close()
    started = time.perf_counter()
    channels = await asyncio.gather(*(bare(a) for a, _ in targets))
    bare_connect = time.perf_counter() - started
    await asyncio.gather(*(c.close(None) for c in channels))
    await server.stop(0)
    return {
        "ready": ready,
        "connect_s": connect,
        "bare_connect_s": bare_connect,
        "rss_mb_per_channel": grown / n,
        "fds_per_channel": fds_grown / n,
    }


def main() -> None:
    """Run every N given on the command line (default 1,000 and 8,500); print JSON."""
    sizes = [int(a) for a in sys.argv[1:]] or [1000, 8500]
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 4 * max(sizes) + 1024
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, hard), hard))
    results: dict[str, object] = {"load_average": os.getloadavg()}
    for n in sizes:
        with tempfile.TemporaryDirectory(prefix="fg-bench-dir-") as work:
            kit = kit_of(n, Path(work))
            figures = asyncio.run(directory_figures(kit))
        figures |= asyncio.run(channel_figures(n))
        results[str(n)] = figures
    results["load_average_end"] = os.getloadavg()
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
