"""Profiles behind BENCHMARKS.md's analysis: ``python -m bench.profiles WHAT``.

WHAT is one of ``node``, ``search``, ``policy``, ``split``, ``calls``, ``audit`` (below).

Each samples a real workload with py-spy (``pip install py-spy``; not a
dependency of the project) and prints the hottest frames as Markdown tables:
*self* is the share of samples with the frame at the top of the stack (its own
work), *total* the share with the frame anywhere on the stack. Idle threads
(waiting in epoll, on a lock or a queue) are not sampled, so the shares are of
CPU work: only samples holding the GIL are kept (``--gil``), so a thread waiting
on a lock, a queue or the network never counts; native work that releases the
GIL (SQLite's ``step``) is missed, native work that keeps it (the regorus engine)
counts at its Python caller's line. ``--native`` samples every thread with native
frames instead.

- ``node``: a 10-node fleet (2 worker processes) and a broker, loaded by 8
  concurrent broker searches; samples node worker 0 and the broker.
- ``search``: ``RecordStore.search`` on the cached labelled store (``--records``).
- ``policy``: ``AgencyNode.decide`` on the hits of the common-name search.
- ``split``: no sampling; the person search at ``--records`` split into its
  steps (median per query of 120 labelled queries, best of 5): the whole
  search, the candidate SQL (probes and name rows) and the Python scoring.
- ``calls``: no sampling; CPU per sequential call, on one event loop, of a
  bare echo server and of a real node that holds nobody searched for (the
  fan-out's common case), and of ``AgencyNode.search`` alone on that node.
- ``audit``: no sampling; times ``AuditStore.write`` of a search entry with 1,
  2, 4 and 8 threads writing at once (group commit: ``fieldgate.node.audit.group_commit``)
  and prints CPU and wall time per entry and the mean entries per transaction.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from bench.common import DETECTIVE, SANCTUARY_CONTRACT, broker_request, person_query
from bench.contract_cost import contract_store, local_node
from bench.data import CACHE_DIR, labelled_store
from bench.echo import BROKER_SEARCH_METHOD, open_channel, raw_call
from bench.fanout import FanoutSettings, start_fleet
from bench.procs import start_worker, stop_all, wait_ready
from fieldgate.core.claims import validate_requester
from fieldgate.core.query import PersonQuery, validate_query
from fieldgate.devkit.synthetic import DEMO_SUBJECT


def _py_spy() -> str:
    found = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(found).exists():
        raise SystemExit("py-spy is not installed: pip install py-spy (profiling only)")
    return found


GIL_ONLY = ["--gil"]
"""Sample only threads holding the GIL: Python work (native calls that keep the GIL, such as
the regorus engine, count under their Python caller's line). Waits never hold it."""


def spy(pid: int, seconds: float, out: Path, native: bool) -> subprocess.Popen[bytes]:
    """Start py-spy sampling ``pid`` for ``seconds`` into ``out`` (raw collapsed stacks)."""
    command = [
        _py_spy(),
        "record",
        "--format",
        "raw",
        "-o",
        str(out),
        "-d",
        str(int(seconds)),
        "-r",
        "200",
        "-p",
        str(pid),
    ]
    command += ["--native"] if native else GIL_ONLY
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _frame_key(frame: str, *, line: bool = False) -> str:
    name, _, where = frame.partition(" (")
    where = where.rstrip(")")
    file, _, number = where.partition(":")
    short = "/".join(Path(file).parts[-2:]) if file else ""
    if line and number:
        short += f":{number}"
    return f"{name} ({short})" if short else name


def top_frames(raw: Path, limit: int = 25) -> str:
    """Markdown tables of the hottest frames (by self and by total share) in a raw profile."""
    self_counts: Counter[str] = Counter()
    total_counts: Counter[str] = Counter()
    samples = 0
    for line in raw.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        raw_frames = [f for f in stack.split(";") if f]
        if not raw_frames:
            continue
        frames = [_frame_key(f) for f in raw_frames]
        samples += count
        self_counts[_frame_key(raw_frames[-1], line=True)] += count
        for key in set(frames):
            total_counts[key] += count
    if not samples:
        return "(no samples)"

    def table(counts: Counter[str], title: str) -> str:
        rows = [f"| {title} | share |", "|---|---|"]
        for key, count in counts.most_common(limit):
            rows.append(f"| `{key}` | {100 * count / samples:.1f}% |")
        return "\n".join(rows)

    return (
        f"{samples} samples\n\n"
        + table(self_counts, "self (own work)")
        + "\n\n"
        + table(total_counts, "total (on the stack)")
    )


async def _load_broker(address: str, seconds: float, clients: int) -> int:
    channel = open_channel(address)
    call = raw_call(channel, BROKER_SEARCH_METHOD)
    payload = broker_request(
        person_query(DEMO_SUBJECT.surname, DEMO_SUBJECT.given_name, DEMO_SUBJECT.dob)
    ).SerializeToString()
    done = 0
    stop_at = time.monotonic() + seconds

    async def one() -> None:
        nonlocal done
        while time.monotonic() < stop_at:
            await call(payload, timeout=60)
            done += 1

    try:
        await asyncio.gather(*(one() for _ in range(clients)))
    finally:
        await channel.close(None)
    return done


def profile_node(workdir: Path, seconds: float, native: bool) -> None:
    """Sample a node worker and the broker under broker load."""
    settings = FanoutSettings(
        node_counts=(10,),
        rounds={10: 1},
        warmup_rounds=1,
        records_per_node=1_000,
        node_procs=2,
        throughput_nodes=10,
        throughput_clients=8,
        throughput_seconds=seconds,
    )
    workers, nodes, _ = start_fleet(settings, workdir, print)
    broker = start_worker({"kind": "broker", "nodes": nodes}, workdir, "broker")
    try:
        wait_ready([broker], timeout=60)
        asyncio.run(_load_broker(broker.info["address"], 2.0, 8))  # warm up
        spies = [
            spy(workers[0].pid, seconds, workdir / "node.raw", native),
            spy(broker.pid, seconds, workdir / "broker.raw", native),
        ]
        done = asyncio.run(_load_broker(broker.info["address"], seconds + 1, 8))
        for s in spies:
            s.wait(60)
        print(f"{done} broker searches over 10 nodes in {seconds + 1:.0f} s\n")
        print("### Node worker 0 (5 nodes)\n")
        print(top_frames(workdir / "node.raw"))
        print("\n### Broker\n")
        print(top_frames(workdir / "broker.raw"))
    finally:
        stop_all([broker, *workers])


def _spy_self(seconds: float, workdir: Path, native: bool, work: Callable[[], int]) -> None:
    raw = workdir / "self.raw"
    sampler = spy(os.getpid(), seconds, raw, native)
    time.sleep(1.0)  # py-spy attaches
    done = work()
    sampler.wait(120)
    print(f"{done} operations\n")
    print(top_frames(raw))


def profile_search(records: int, seconds: float, native: bool, workdir: Path) -> None:
    """Sample RecordStore.search on the labelled store of ``records`` records."""
    from fieldgate.node.store import RecordStore

    labelled = labelled_store(records, CACHE_DIR)
    queries = [
        validate_query(person_query(str(q["surname"]), str(q["given_name"]), str(q["dob"])))
        for q in labelled.queries[:: max(1, len(labelled.queries) // 300)]
    ]
    store = RecordStore.open(labelled.path)

    def work() -> int:
        done = 0
        stop_at = time.monotonic() + seconds - 1
        while time.monotonic() < stop_at:
            store.search(queries[done % len(queries)], 100)
            done += 1
        return done

    try:
        _spy_self(seconds, workdir, native, work)
    finally:
        store.close()


def profile_policy(seconds: float, native: bool, workdir: Path) -> None:
    """Sample AgencyNode.decide on the common-name search's hits."""
    from bench.policy import _hit_candidates

    store = contract_store(workdir, 20_000)
    node = local_node(store, SANCTUARY_CONTRACT, "kcso")
    claims = validate_requester(DETECTIVE)
    records = [c.record for c in _hit_candidates(node, store)]

    def work() -> int:
        done = 0
        stop_at = time.monotonic() + seconds - 1
        while time.monotonic() < stop_at:
            node.decide(claims, records[done % len(records)])
            done += 1
        return done

    try:
        _spy_self(seconds, workdir, native, work)
    finally:
        node.contract.close()
        node.store.close()


def measure_split(records: int) -> None:
    """Time the person search's steps on the labelled store (see the module docstring)."""
    import datetime as dt
    import statistics

    from bench.person_search import _query, _spread
    from fieldgate.matching.matcher import score_candidate
    from fieldgate.node.store import RecordStore

    labelled = labelled_store(records, CACHE_DIR)
    queries = [_query(item) for item in _spread(labelled.queries, 120)]
    store = RecordStore.open(labelled.path)

    found = {id(q): store.candidate_names(q) for q in queries}

    def score(query: PersonQuery) -> None:
        names, dobs = found[id(query)]
        for record_id, held in names.items():
            text = dobs.get(record_id)
            score_candidate(query, held, dt.date.fromisoformat(text) if text else None, ())

    def median_ms(step: Callable[[PersonQuery], object]) -> float:
        best = []
        for query in queries:
            times = []
            for _ in range(5):
                started = time.perf_counter()
                step(query)
                times.append(time.perf_counter() - started)
            best.append(min(times))
        return statistics.median(best) * 1e3

    try:
        for query in queries:  # warm the page cache
            store.search(query, 100)
        print("| step | median ms per query |")
        print("|---|---|")
        whole = median_ms(lambda q: store.search(q, 100))
        per_query = statistics.median(sum(map(len, n.values())) for n, _ in found.values())
        print(f"| RecordStore.search (limit 100) | {whole:.3f} |")
        print(f"| candidate SQL: probes + name rows | {median_ms(store.candidate_names):.3f} |")
        print(f"| scoring the name rows (Python) | {median_ms(score):.3f} |")
        print(f"| name rows per query (median) | {per_query} |")
    finally:
        store.close()


async def _measure_calls(workdir: Path, calls: int) -> None:
    from bench.common import node_config
    from bench.data import fleet_templates
    from bench.echo import ECHO_METHOD, NODE_SEARCH_METHOD, start_echo_server
    from bench.fanout import fanout_query
    from fieldgate.node.server import start_node
    from fieldgate.v2 import common_pb2, node_pb2

    _, other = fleet_templates(workdir / "templates", 1000)
    running = await start_node(node_config("n000", "Agency 000", other, SANCTUARY_CONTRACT))
    echo, echo_address = await start_echo_server()
    node_channel, echo_channel = open_channel(running.address), open_channel(echo_address)
    try:
        ask_node = raw_call(node_channel, NODE_SEARCH_METHOD)
        ask_echo = raw_call(echo_channel, ECHO_METHOD)
        requests: list[bytes] = []
        for i in range(calls + 200):
            requester = common_pb2.Requester()
            requester.CopyFrom(DETECTIVE)
            requester.case_number = f"calls-{i}"  # a first search each time
            message = node_pb2.NodeServiceSearchRequest(
                request_id=f"calls-{i}", requester=requester, query=fanout_query()
            )
            requests.append(message.SerializeToString())
        payload = b"x" * 200
        for request in requests[:200]:  # warm up
            await ask_node(request)
            await ask_echo(payload)
        cpu = time.process_time()
        for _ in range(calls):
            await ask_echo(payload)
        echo_us = (time.process_time() - cpu) / calls * 1e6
        cpu = time.process_time()
        for request in requests[200:]:
            await ask_node(request)
        node_us = (time.process_time() - cpu) / calls * 1e6
        claims = validate_requester(DETECTIVE)
        query = validate_query(fanout_query())
        cpu = time.process_time()
        for i in range(calls):
            running.node.search(f"direct-{i}", replace(claims, case_number=f"d-{i}"), query)
        search_us = (time.process_time() - cpu) / calls * 1e6
    finally:
        await node_channel.close(None)
        await echo_channel.close(None)
        await echo.stop(0)
        await running.stop(0)
    print("| call | µs CPU per call (client and server, one process) |")
    print("|---|---|")
    print(f"| echo (200 bytes) | {echo_us:.0f} |")
    print(f"| node Search, nothing held (gRPC, servicer, search, audit write) | {node_us:.0f} |")
    print(f"| AgencyNode.search alone on that node | {search_us:.0f} |")


def measure_audit(workdir: Path, entries: int = 2000) -> None:
    """Time audit writes of a no-hit search's entry by 1-8 concurrent writers."""
    import datetime as dt
    import threading

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from fieldgate.node.audit.store import AuditStore
    from fieldgate.node.disclosure_log import DisclosureEntry

    claims = validate_requester(DETECTIVE)
    key = Ed25519PrivateKey.generate()
    print("| writers | µs CPU per entry | µs wall per entry | entries/s | entries per commit |")
    print("|---|---|---|---|---|")
    for writers in (1, 2, 4, 8):
        store = AuditStore.open(workdir / f"audit-{writers}.sqlite", node_id="kcso", key=key)
        per_writer = entries // writers

        def write(w: int, store: AuditStore = store, per_writer: int = per_writer) -> None:
            for i in range(per_writer):
                store.write(
                    DisclosureEntry(
                        request_id=f"w{w}-{i}",
                        node_id="kcso",
                        time=dt.datetime.now(dt.UTC),
                        requester=claims,
                        query_digest="0" * 64,
                        contract_version="1" * 64,
                        records=(),
                        disclosed_record_ids=(),
                    )
                )

        threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
        cpu, wall = time.process_time(), time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        done = per_writer * writers
        batch = store.group.items / max(1, store.group.batches)
        store.close()
        print(
            f"| {writers} | {cpu / done * 1e6:.0f} | {wall / done * 1e6:.0f} | "
            f"{done / wall:,.0f} | {batch:.2f} |"
        )


def main(argv: list[str] | None = None) -> int:
    """Run one profile and print its tables."""
    parser = argparse.ArgumentParser(prog="python -m bench.profiles", description=__doc__)
    parser.add_argument("what", choices=("node", "search", "policy", "split", "calls", "audit"))
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--records", type=int, default=1_000_000, help="for `search` and `split`")
    parser.add_argument("--native", action="store_true", help="include native (Rust, C) frames")
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="fieldgate-profile-"))
    try:
        if args.what == "node":
            profile_node(workdir, args.seconds, args.native)
        elif args.what == "search":
            profile_search(args.records, args.seconds, args.native, workdir)
        elif args.what == "audit":
            measure_audit(workdir)
        elif args.what == "split":
            measure_split(args.records)
        elif args.what == "calls":
            asyncio.run(_measure_calls(workdir, 1500))
        else:
            profile_policy(args.seconds, args.native, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
