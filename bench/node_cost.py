"""Issue 22 item 3: one node's CPU per no-hit search against a bare echo call.

Run: ``python -m bench.node_cost [--calls N] [--rounds R]`` (about two minutes).

The node runs **alone**, in its own process (``bench.worker``: the real
``fieldgate.node.server.start_node`` with its real audit store, the sanctuary
contract and 1,000 records of an agency that holds nobody searched for), and the
same process serves a bare ``grpc.aio`` echo (``bench.echo``) on its own port.
This process is only the client: it sends pre-built requests one after another
(or ``CONCURRENCY`` at a time) and reads the **server process's CPU time** from
``/proc/<pid>/stat`` before and after each series. The client's own cost is not
in any figure. Echo and node series alternate for ``rounds`` rounds; the ratio
is the median of the per-round ratios, so a burst of the machine's other load
hits both alike.

Two nodes, one after the other:

- **development**: claims as stated, answer in the clear (what ``python -m
  bench`` fan-out nodes run; the "≈ 2.0 before sealing" figure of issue 22);
- **sealed**: a ``DevTrust`` kit; every request is a fresh signed search sealed
  to the node (protocol v2), verified, opened, answered, signed and sealed to
  the requester as in production (plaintext gRPC: TLS is the transport's, and
  the echo baseline has none either).

Each request has a fresh request id and case number (a first search: no
decision cache), built and signed before the timed series.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import math
import os
import statistics
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import jwt

from bench.common import DETECTIVE, SANCTUARY_CONTRACT, fresh_case_number, fresh_request_id
from bench.data import fleet_templates
from bench.echo import ECHO_METHOD, NODE_SEARCH_METHOD, RawCall, open_channel, raw_call
from bench.fanout import fanout_query
from bench.procs import Worker, start_worker, stop_all, wait_ready
from fieldgate.devkit.dev_trust import DevTrust
from fieldgate.node.store import RecordStore
from fieldgate.trust.answers import ANSWERED, open_answer
from fieldgate.trust.sealed_search import sign_search
from fieldgate.trust.tokens import Identity
from fieldgate.v2 import common_pb2, node_pb2

NODE_ID = "n000"
AGENCY = "bellevue-pd"
MODES = ("development", "sealed")
CONCURRENCY = (1, 8)
"""Requests in flight: one (a node's cost per call) and eight (a busy node)."""

SPY_SECONDS = 8
NATIVE = bool(os.environ.get("NODE_COST_NATIVE"))

_TICKS = os.sysconf("SC_CLK_TCK")


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` (all threads), from ``/proc``."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def _trust_kit(directory: Path) -> DevTrust:
    """A federation of one issuer (the detective's agency) and the one node."""
    kit = DevTrust(directory)
    kit.add_issuer(AGENCY, DETECTIVE.agency_type)
    kit.add_node(NODE_ID, agency="Agency 000", agency_type="local_law_enforcement")
    kit.write()
    return kit


def clear_requests(count: int) -> list[bytes]:
    """Development requests (claims as stated), each a first search."""
    out = []
    for _ in range(count):
        requester = common_pb2.Requester()
        requester.CopyFrom(DETECTIVE)
        requester.case_number = fresh_case_number()
        message = node_pb2.NodeServiceSearchRequest(
            request_id=fresh_request_id("cost"), requester=requester, query=fanout_query()
        )
        out.append(message.SerializeToString())
    return out


def sealed_requests(
    kit: DevTrust,
    count: int,
    identity: Identity | None = None,
    query: common_pb2.PersonQuery | None = None,
) -> list[bytes]:
    """Signed searches sealed to the node, each with its own nonce and case number."""
    identity = identity or kit.identity(
        AGENCY, DETECTIVE.subject, [DETECTIVE.purpose], roles=["detective"]
    )
    node_keys = {NODE_ID: kit.node_enc[NODE_ID].public_key()}
    out = []
    for _ in range(count):
        signed = sign_search(
            credential=identity.credential,
            holder_key=identity.key,
            query=query or fanout_query(),
            purpose=DETECTIVE.purpose,
            case_number=fresh_case_number(),
            audience=[NODE_ID],
            node_keys=node_keys,
        )
        message = node_pb2.NodeServiceSearchRequest(
            request_id=fresh_request_id("cost"), signed=signed
        )
        out.append(message.SerializeToString())
    return out


def held_person(database: Path) -> common_pb2.PersonQuery:
    """A person the node's store holds (a booking no rule withholds), to check it answers."""
    with RecordStore.open(database) as store:
        for record in store.iter_records():
            names = [record.fields.get(f) for f in ("surname", "given_name", "dob")]
            restricted = record.sealed or record.juvenile or record.expunged
            if (
                record.kind == "booking"
                and not restricted
                and all(isinstance(n, str) for n in names)
            ):
                surname, given, dob = (str(n) for n in names)
                return common_pb2.PersonQuery(surname=surname, given_name=given, dob=dob)
    raise RuntimeError(f"{database} holds no booking to check the node with")


async def check_answered(
    kit: DevTrust | None, ask_node: RawCall, held: common_pb2.PersonQuery
) -> None:
    """Fail unless the node really decides searches: a search for a person it holds
    gets hits (verified, opened, signed and sealed when ``kit``). A refused search
    looks like a no-hit one on the wire, so the benchmark must not time refusals."""
    if kit is None:
        request = node_pb2.NodeServiceSearchRequest.FromString(clear_requests(1)[0])
        request.query.CopyFrom(held)
        clear = await ask_node(request.SerializeToString())
        if not node_pb2.NodeServiceSearchResponse.FromString(clear).hits:
            raise RuntimeError("the development node found nobody it holds")
        return
    identity = kit.identity(AGENCY, DETECTIVE.subject, [DETECTIVE.purpose], roles=["detective"])
    request = node_pb2.NodeServiceSearchRequest.FromString(
        sealed_requests(kit, 1, identity, held)[0]
    )
    reply = node_pb2.NodeServiceSearchResponse.FromString(
        await ask_node(request.SerializeToString())
    )
    nonce = jwt.decode(request.signed.proof, options={"verify_signature": False})["nonce"]
    assert identity.enc_key is not None
    verified = open_answer(
        reply.answer,
        enc_key=identity.enc_key,
        node_id=NODE_ID,
        nonce=nonce,
        proof=request.signed.proof,
        node_keys={NODE_ID: kit.nodes[NODE_ID].public_key()},
        now=dt.datetime.now(dt.UTC),
    )
    if verified.status != ANSWERED or not verified.hits:
        raise RuntimeError(f"the sealed node refused the search ({verified.reason or 'no hits'})")


async def _series(call: RawCall, requests: Sequence[bytes], concurrency: int) -> None:
    """Send ``requests`` with ``concurrency`` in flight, each answered before the next."""
    it = iter(requests)

    async def lane() -> None:
        for request in it:
            await call(request)

    await asyncio.gather(*(lane() for _ in range(concurrency)))


@dataclass
class Series:
    """One mode's figures at one concurrency (µs of server CPU per call)."""

    mode: str
    concurrency: int
    echo_us: float
    node_us: float
    ratio: float


async def _profile(
    worker: Worker, ask_node: RawCall, make: Callable[[int], list[bytes]], out: Path
) -> None:
    """Sample the node process with py-spy (GIL holders) while it answers searches."""
    from bench.profiles import spy, top_frames

    batches = [make(200) for _ in range(15)]  # signed before sampling starts
    sampler = spy(worker.pid, SPY_SECONDS, out, native=NATIVE)
    for batch in batches:
        if sampler.poll() is not None:
            break
        await _series(ask_node, batch, 1)
    await asyncio.to_thread(sampler.wait)
    print(f"## {out.stem}\n\n{top_frames(out, limit=40)}\n")


async def _measure_mode(
    worker: Worker,
    mode: str,
    make: Callable[[int], list[bytes]],
    calls: int,
    rounds: int,
    spy_dir: Path | None,
    kit: DevTrust | None,
    held: common_pb2.PersonQuery,
) -> list[Series]:
    node_address = worker.info["nodes"][0]["address"]
    echo_address = worker.info["echo"][0]
    node_channel, echo_channel = open_channel(node_address), open_channel(echo_address)
    try:
        ask_node = raw_call(node_channel, NODE_SEARCH_METHOD)
        ask_echo = raw_call(echo_channel, ECHO_METHOD)
        payload = b"x" * 200
        await check_answered(kit, ask_node, held)
        await _series(ask_node, make(200), 1)  # warm up: the engine, SQLite, grpc
        await _series(ask_echo, [payload] * 200, 1)
        out = []
        for concurrency in CONCURRENCY:
            echo_s: list[float] = []
            node_s: list[float] = []
            for _ in range(rounds):
                batch = make(calls)
                for call, requests, samples in (
                    (ask_echo, [payload] * calls, echo_s),
                    (ask_node, batch, node_s),
                ):
                    before = process_cpu_seconds(worker.pid)
                    await _series(call, requests, concurrency)
                    samples.append((process_cpu_seconds(worker.pid) - before) / calls * 1e6)
            # A series shorter than a clock tick (10 ms) reads 0: no ratio then.
            ratios = [n / e if e else math.inf for n, e in zip(node_s, echo_s, strict=True)]
            out.append(
                Series(
                    mode,
                    concurrency,
                    statistics.median(echo_s),
                    statistics.median(node_s),
                    statistics.median(ratios),
                )
            )
        if spy_dir is not None:
            await _profile(worker, ask_node, make, spy_dir / f"{mode}.raw")
        return out
    finally:
        await node_channel.close(None)
        await echo_channel.close(None)


def _run(
    workdir: Path,
    mode: str,
    make: Callable[[int], list[bytes]],
    kit: DevTrust | None,
    spy_dir: Path | None,
    **kw: int,
) -> list[Series]:
    _, other = fleet_templates(workdir / "templates", 1000)
    database = workdir / f"{mode}.sqlite"
    database.write_bytes(other.read_bytes())
    spec = {
        "kind": "nodes",
        "echo": True,
        "nodes": [
            {
                "node_id": NODE_ID,
                "agency_name": "Agency 000",
                "database": str(database),
                "contract": str(SANCTUARY_CONTRACT),
                "trust": str(kit.directory) if kit else None,
            }
        ],
    }
    worker = start_worker(spec, workdir, f"node-{mode}")
    try:
        wait_ready([worker], timeout=120)
        measured = _measure_mode(
            worker, mode, make, kw["calls"], kw["rounds"], spy_dir, kit, held_person(database)
        )
        return asyncio.run(measured)
    finally:
        stop_all([worker])


def measure(
    calls: int,
    rounds: int,
    workdir: Path,
    spy_dir: Path | None = None,
    modes: Sequence[str] = MODES,
) -> list[Series]:
    """The series of each of ``modes`` (the node process is started afresh for each).

    With ``spy_dir``, each node is then sampled with py-spy while it answers
    searches one at a time, and the hottest frames are printed.
    """
    kit = _trust_kit(workdir / "trust")
    out: list[Series] = []
    if "development" in modes:
        out += _run(
            workdir, "development", clear_requests, None, spy_dir, calls=calls, rounds=rounds
        )
    if "sealed" in modes:
        out += _run(
            workdir,
            "sealed",
            lambda n: sealed_requests(kit, n),
            kit,
            spy_dir,
            calls=calls,
            rounds=rounds,
        )
    return out


def table(series: Sequence[Series]) -> str:
    """The Markdown table BENCHMARKS.md quotes."""
    lines = [
        "| node | in flight | echo µs CPU/call | node µs CPU/search | node ÷ echo |",
        "|---|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {s.mode} | {s.concurrency} | {s.echo_us:.0f} | {s.node_us:.0f} | ×{s.ratio:.2f} |"
        for s in series
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Measure and print the table (and the figures as JSON with ``--json``)."""
    parser = argparse.ArgumentParser(prog="python -m bench.node_cost")
    parser.add_argument("--calls", type=int, default=1000, help="searches per series")
    parser.add_argument("--rounds", type=int, default=5, help="echo/node rounds per series")
    parser.add_argument("--json", action="store_true", help="print JSON, not Markdown")
    parser.add_argument(
        "--spy", type=Path, default=None, help="also profile each node (py-spy) into this folder"
    )
    parser.add_argument(
        "--mode", choices=MODES, action="append", help="only this node (repeatable)"
    )
    args = parser.parse_args(argv)
    if args.spy is not None:
        args.spy.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="fieldgate-node-cost-") as tmp:
        series = measure(args.calls, args.rounds, Path(tmp), args.spy, args.mode or MODES)
    if args.json:
        print(json.dumps([s.__dict__ for s in series], indent=2))
    else:
        print(table(series))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
