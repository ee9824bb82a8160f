"""Federation scale: one real broker against N stand-in agencies (issue 22, items 1–2).

``python -m bench.federation [--nodes 100,1000,2000,8500] [--json]``

Unlike :mod:`bench.fanout` (real nodes on the same machine, whose summed work
hides the broker), the agencies here are stand-ins (:mod:`bench.standin`) that
answer at once with a real signed and sealed node answer, so what a search
costs is the broker's own work plus the network stack. Layout, all on
127.0.0.1:

- **stand-ins**: ``max(N)`` of them, round-robin over ``standin_procs``
  processes, each on its own port, with node keys from a development trust
  bundle (:class:`fieldgate.devkit.dev_trust.DevTrust`) that lists every one;
- **broker**: the real broker (``bench.worker`` kind ``broker``) over the first
  N stand-ins, verifying signed searches against that bundle; started afresh
  for each N, so its start-up and memory are its own at that N;
- **client** (this process): the real client's request building
  (:func:`fieldgate.client.broker_client.build_request`: the search signed with
  the investigator's key and its query sealed to each addressed node) and
  answer verification (:class:`fieldgate.client.answer_check.AnswerCheck`, on
  the first rounds: every answer must open and verify); the timed call sends
  and receives raw bytes.
- **echo**: this process fans the same per-node request bytes out to the same
  stand-ins' echo method (answers of a node answer's size) with a plain
  ``grpc.aio`` client, one channel per stand-in: what the fan-out costs without
  the broker.

Per round: the client signs a search, every stand-in prepares its answer (off
the clock), then the echo fan-out and the broker search are timed in
alternating order. CPU is read per process from ``/proc/PID/task/*/schedstat``
(nanoseconds) around each timed call; the echo client's is this process's
``time.process_time``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import grpc
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from bench.common import DETECTIVE, mib, process_memory
from bench.echo import CHANNEL_OPTIONS, ECHO_METHOD, raw_call
from bench.procs import Worker, start_worker, stop_all, wait_ready
from bench.stats import Summary, summarize
from fieldgate.broker.fanout import node_request
from fieldgate.client.answer_check import AnswerCheck
from fieldgate.client.broker_client import Requester, build_request, checked_result, sent_search
from fieldgate.devkit.dev_trust import DevTrust, answer_key_path
from fieldgate.trust.answers import unverified_nonce
from fieldgate.trust.config import build_store
from fieldgate.trust.tokens import Identity
from fieldgate.v2 import broker_pb2

AGENCY = "bellevue-pd"
SEARCH_DEADLINE_SECONDS = 30.0
"""Long enough that no stand-in times out on a loaded two-core machine."""

DEFAULT_NODES = (100, 1000, 2000, 8500)

STREAM_METHOD = "/fieldgate.v2.BrokerService/SearchStream"
"""Searches to more than 64 agencies are streamed (a unary answer is capped at 64)."""

RawStream = grpc.aio.UnaryStreamMultiCallable[bytes, bytes]

REACH_ATTEMPTS = 10
"""Searches sent at start-up until every stand-in has answered one."""


@dataclass(frozen=True)
class FederationSettings:
    """How much of the scenario to run."""

    node_counts: tuple[int, ...] = DEFAULT_NODES
    rounds: int = 20
    """Timed rounds per N below 2,000 (fewer above: see :meth:`rounds_at`)."""
    warmup_rounds: int = 2
    verify_rounds: int = 2
    """Rounds whose broker answer the client opens and verifies in full."""
    standin_procs: int = 4
    profile_dir: Path | None = None
    """Where each broker writes a cProfile of its event loop (``broker-N.prof``); None: none."""

    def rounds_at(self, n: int) -> int:
        """Timed rounds at ``n`` nodes: each round at 8,500 costs seconds of signing."""
        return self.rounds if n < 2000 else max(self.rounds // 2, 5)


@dataclass
class FederationPoint:
    """What one N measured (times in ms, CPU in ms per search unless named)."""

    nodes: int
    rounds: int
    broker: Summary
    echo: Summary
    broker_cpu_ms: float
    echo_client_cpu_ms: float
    standin_cpu_broker_ms: float
    standin_cpu_echo_ms: float
    broker_rss: int | None
    broker_fds: int
    broker_sockets: int
    broker_ready_s: float
    broker_reachable_s: float
    reach_searches: int
    """Searches sent until one was answered by every stand-in (1: the first was)."""
    echo_reachable_s: float
    answered: int
    verified: int
    node_request_bytes: int
    answer_bytes: int
    client_sign_ms: float
    client_verify_ms: float
    standin_sign_us: float

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        out = asdict(self)
        out["broker"] = self.broker.as_dict()
        out["echo"] = self.echo.as_dict()
        return out


def cpu_seconds(pid: int) -> float:
    """CPU time of every thread of ``pid`` so far (ns-precise, from schedstat)."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            total += int((task / "schedstat").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            continue  # the thread ended between listing and reading
    return total / 1e9


def open_files(pid: int) -> tuple[int, int]:
    """(file descriptors, of which sockets) open in ``pid``."""
    fds = sockets = 0
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        fds += 1
        try:
            sockets += os.readlink(fd).startswith("socket:")
        except OSError:
            continue
    return fds, sockets


@dataclass
class Federation:
    """The trust bundle, the investigator and the running stand-ins."""

    kit: DevTrust
    identity: Identity
    answers: AnswerCheck
    node_ids: list[str]
    addresses: dict[str, str]
    standins: list[Worker]
    standin_sign_us: list[float]

    def cpu_of_standins(self) -> float:
        """The stand-in processes' CPU so far, in seconds."""
        return sum(cpu_seconds(w.pid) for w in self.standins)

    def prepare(self, request: broker_pb2.SearchRequest) -> int:
        """Every stand-in signs and seals its answer to ``request``; an answer's size."""
        enc_key = self.identity.enc_key
        assert enc_key is not None
        command = {
            "op": "prepare",
            "proof": request.signed.proof,
            "nonce": unverified_nonce(request.signed.proof),
            "recipient": enc_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex(),
        }
        replies = _ask(self.standins, command)
        cpu = sum(r["cpu"] for r in replies)
        self.standin_sign_us.append(cpu / sum(r["answers"] for r in replies) * 1e6)
        return int(replies[0]["size"])


def _ask(workers: Sequence[Worker], command: dict[str, Any]) -> list[dict[str, Any]]:
    """Send ``command`` to every worker at once, then read each one's reply line."""
    line = (json.dumps(command) + "\n").encode()
    for worker in workers:
        assert worker.process.stdin is not None
        worker.process.stdin.write(line)
        worker.process.stdin.flush()
    replies = []
    for worker in workers:
        assert worker.process.stdout is not None
        reply = worker.process.stdout.readline()
        if not reply:
            raise RuntimeError(f"stand-in {worker.name} ended:\n{worker.log_tail()}")
        replies.append(json.loads(reply))
    return replies


def build_federation(count: int, procs: int, workdir: Path) -> Federation:
    """Write a trust bundle listing ``count`` nodes and start their stand-ins."""
    kit = DevTrust(workdir / "trust")
    kit.add_issuer(AGENCY, DETECTIVE.agency_type)
    node_ids = [f"agency-{i:05d}" for i in range(count)]
    for node_id in node_ids:
        kit.add_node(node_id, agency=node_id, agency_type="local_law_enforcement")
    kit.write()
    identity = kit.identity(AGENCY, DETECTIVE.subject, [DETECTIVE.purpose], roles=DETECTIVE.roles)
    keys = [str(answer_key_path(kit.config(), n)) for n in node_ids]
    workers = [
        start_worker(
            {
                "kind": "standins",
                "nodes": [
                    {"node_id": n, "key": k}
                    for n, k in zip(node_ids[p::procs], keys[p::procs], strict=True)
                ],
            },
            workdir,
            f"standins-{p}",
        )
        for p in range(procs)
    ]
    wait_ready(workers, timeout=600 + count / 10)
    addresses: dict[str, str] = {}
    for worker in workers:
        addresses.update(worker.info["addresses"])
    return Federation(
        kit, identity, AnswerCheck(build_store(kit.config())), node_ids, addresses, workers, []
    )


def _search(federation: Federation, audience: Sequence[str]) -> broker_pb2.SearchRequest:
    return build_request(
        Requester(
            subject=DETECTIVE.subject,
            agency=AGENCY,
            agency_type=DETECTIVE.agency_type,
            purpose=DETECTIVE.purpose,
            case_number=DETECTIVE.case_number,
        ),
        surname="GARCIA",
        given_name="MARIA",
        dob="1984-03-12",
        deadline_seconds=SEARCH_DEADLINE_SECONDS,
        identity=federation.identity,
        audience=audience,
        node_keys=federation.answers.node_keys(),
        directory=federation.answers.directory(),
    )


def stream_request(request: broker_pb2.SearchRequest) -> bytes:
    """``request`` as a serialised ``SearchStreamRequest``."""
    return broker_pb2.SearchStreamRequest(search=request).SerializeToString()


async def streamed(stream: RawStream, request: bytes) -> list[bytes]:
    """Every event of one ``SearchStream`` call, unparsed."""
    return [event async for event in stream(request, timeout=SEARCH_DEADLINE_SECONDS + 30)]


def as_response(events: Sequence[bytes]) -> broker_pb2.SearchResponse:
    """A streamed search's agencies as the unary answer (what the client's check reads)."""
    response = broker_pb2.SearchResponse()
    for raw in events:
        event = broker_pb2.SearchStreamResponse.FromString(raw)
        if event.HasField("started"):
            response.request_id = event.started.request_id
        elif event.HasField("agency"):
            response.results.append(event.agency)
    return response


def what_a_node_gets(request: broker_pb2.SearchRequest, node_id: str) -> bytes:
    """The bytes the broker sends ``node_id`` for ``request`` (the echo baseline sends them)."""
    keys = {k.node_id: k for k in request.signed.keys}
    return node_request(uuid.uuid4().hex, request.signed, keys, node_id).SerializeToString()


async def _echo_fanout(calls: Sequence[Any], request: bytes) -> None:
    await asyncio.gather(*(call(request, timeout=SEARCH_DEADLINE_SECONDS) for call in calls))


async def measure(federation: Federation, n: int, settings: FederationSettings) -> FederationPoint:
    """Start a broker over the first ``n`` stand-ins and time echo and broker rounds."""
    audience = federation.node_ids[:n]
    # Beside the trust bundle, in the run's temporary directory (removed at the end).
    workdir = federation.kit.directory.parent / f"broker-{n}"
    trust = federation.kit.config()
    launched = time.perf_counter()
    broker = start_worker(
        {
            "kind": "broker",
            "nodes": [
                {"node_id": i, "agency_name": i, "address": federation.addresses[i]}
                for i in audience
            ],
            "profile": str(settings.profile_dir / f"broker-{n}.prof")
            if settings.profile_dir
            else None,
            "trust": {
                "bundle": str(trust.bundle),
                "revocations": str(trust.revocations),
                "authority": str(trust.authority_key),
            },
        },
        workdir,
        "broker",
    )
    channels: list[grpc.aio.Channel] = []
    try:
        wait_ready([broker], timeout=600)
        ready = time.perf_counter() - launched
        broker_channel = grpc.aio.insecure_channel(broker.info["address"], options=CHANNEL_OPTIONS)
        channels.append(broker_channel)
        stream: RawStream = broker_channel.unary_stream(
            STREAM_METHOD, request_serializer=None, response_deserializer=None
        )
        # Start-up until reachable: launch → the first search every stand-in answered.
        # The broker connects lazily; a node whose connection failed is asked again
        # by a later search (gRPC reconnects), so the time counts those retries but
        # not the client's signing nor the stand-ins' preparing between them.
        preparing = 0.0
        for attempt in range(1, REACH_ATTEMPTS + 1):
            started = time.perf_counter()
            first = _search(federation, audience)
            federation.prepare(first)
            preparing += time.perf_counter() - started
            answer = as_response(await streamed(stream, stream_request(first)))
            ends = Counter(
                (broker_pb2.NodeStatus.Name(r.status), r.detail[:120]) for r in answer.results
            )
            if ends[("NODE_STATUS_ANSWERED", "")] == n:
                break
            print(f"N = {n:,}, search {attempt}: {dict(ends)}", file=sys.stderr, flush=True)
        else:
            raise RuntimeError(f"N = {n}: not every stand-in answered {REACH_ATTEMPTS} searches")
        reachable = time.perf_counter() - launched - preparing
        reach_searches = attempt
        opened = time.perf_counter()
        for node_id in audience:
            channels.append(
                grpc.aio.insecure_channel(federation.addresses[node_id], options=CHANNEL_OPTIONS)
            )
        echo_calls = [raw_call(c, ECHO_METHOD) for c in channels[1:]]
        node_request = what_a_node_gets(first, audience[0])
        await _echo_fanout(echo_calls, node_request)
        echo_reachable = time.perf_counter() - opened
        return await _rounds(
            federation,
            n,
            settings,
            stream,
            echo_calls,
            broker,
            (ready, reachable, reach_searches, echo_reachable),
        )
    finally:
        for channel in channels:
            await channel.close(None)
        stop_all([broker])


async def _rounds(
    federation: Federation,
    n: int,
    settings: FederationSettings,
    stream: RawStream,
    echo_calls: Sequence[Any],
    broker: Worker,
    startup: tuple[float, float, int, float],
) -> FederationPoint:
    audience = federation.node_ids[:n]
    rounds = settings.rounds_at(n)
    broker_s: list[float] = []
    echo_s: list[float] = []
    cpu = {"broker": 0.0, "echo": 0.0, "sb": 0.0, "se": 0.0}
    sign_s: list[float] = []
    verify_s: list[float] = []
    answered = verified = node_request_bytes = answer_bytes = 0
    federation.standin_sign_us.clear()
    for number in range(settings.warmup_rounds + rounds):
        timed = number >= settings.warmup_rounds
        started = time.perf_counter()
        request = _search(federation, audience)
        sign_s.append(time.perf_counter() - started)
        answer_bytes = federation.prepare(request)
        wire = stream_request(request)
        node_request = what_a_node_gets(request, audience[0])
        node_request_bytes = len(node_request)
        events: list[bytes] = []
        for series in ("echo", "broker") if number % 2 else ("broker", "echo"):
            standins_before = federation.cpu_of_standins()
            if series == "echo":
                own = time.process_time()
                started = time.perf_counter()
                await _echo_fanout(echo_calls, node_request)
                elapsed = time.perf_counter() - started
                if timed:
                    echo_s.append(elapsed)
                    cpu["echo"] += time.process_time() - own
                    cpu["se"] += federation.cpu_of_standins() - standins_before
            else:
                broker_before = cpu_seconds(broker.pid)
                started = time.perf_counter()
                events = await streamed(stream, wire)
                elapsed = time.perf_counter() - started
                if timed:
                    broker_s.append(elapsed)
                    cpu["broker"] += cpu_seconds(broker.pid) - broker_before
                    cpu["sb"] += federation.cpu_of_standins() - standins_before
        if timed and number - settings.warmup_rounds < settings.verify_rounds:
            started = time.perf_counter()
            result = checked_result(
                as_response(events),
                federation.answers,
                sent_search(request, federation.identity),
            )
            verify_s.append(time.perf_counter() - started)
            answered = sum(a.status != "failed_verification" for a in result.agencies)
            verified = sum(a.status == "answered" for a in result.agencies)
    fds, sockets = open_files(broker.pid)
    memory = process_memory(broker.pid)
    ms = 1000.0 / rounds
    return FederationPoint(
        nodes=n,
        rounds=rounds,
        broker=summarize(broker_s),
        echo=summarize(echo_s),
        broker_cpu_ms=cpu["broker"] * ms,
        echo_client_cpu_ms=cpu["echo"] * ms,
        standin_cpu_broker_ms=cpu["sb"] * ms,
        standin_cpu_echo_ms=cpu["se"] * ms,
        broker_rss=memory.rss if memory else None,
        broker_fds=fds,
        broker_sockets=sockets,
        broker_ready_s=startup[0],
        broker_reachable_s=startup[1],
        reach_searches=startup[2],
        echo_reachable_s=startup[3],
        answered=answered,
        verified=verified,
        node_request_bytes=node_request_bytes,
        answer_bytes=answer_bytes,
        client_sign_ms=1000 * sum(sign_s) / len(sign_s),
        client_verify_ms=1000 * sum(verify_s) / max(len(verify_s), 1),
        standin_sign_us=sum(federation.standin_sign_us) / len(federation.standin_sign_us),
    )


TWO_GIB = 2 * 2**30


def targets(points: Sequence[FederationPoint]) -> list[tuple[str, str, bool]]:
    """Each target of issue 22 item 2 as (target, measured, met), judged on ``points``."""
    out: list[tuple[str, str, bool]] = []
    previous: FederationPoint | None = None
    for p in points:
        ratio = p.broker.p50 / p.echo.p50
        out.append(
            (
                f"N = {p.nodes:,}: broker p50 ≤ 1.5× echo",
                f"×{ratio:.2f} ({p.broker.p50:,.0f} vs {p.echo.p50:,.0f} ms)",
                ratio <= 1.5,
            )
        )
        ratio = p.broker_cpu_ms / p.echo_client_cpu_ms
        out.append(
            (
                f"N = {p.nodes:,}: broker CPU/search ≤ 1.5× echo client's",
                f"×{ratio:.2f} ({p.broker_cpu_ms:,.0f} vs {p.echo_client_cpu_ms:,.0f} ms)",
                ratio <= 1.5,
            )
        )
        ratio = p.broker.p99 / p.broker.p50
        out.append(
            (
                f"N = {p.nodes:,}: broker p99/p50 ≤ 2",
                f"×{ratio:.2f} ({p.rounds} rounds)",
                ratio <= 2.0,
            )
        )
        base_n = previous.nodes if previous else 0
        base_cpu = previous.broker_cpu_ms if previous else 0.0
        base_own = previous.broker_cpu_ms - previous.echo_client_cpu_ms if previous else 0.0
        per_node = (p.broker_cpu_ms - base_cpu) / (p.nodes - base_n) * 1000
        own = p.broker_cpu_ms - p.echo_client_cpu_ms
        own_per_node = (own - base_own) / (p.nodes - base_n) * 1000
        out.append(
            (
                f"N = {base_n:,} → {p.nodes:,}: broker CPU per added node ≤ 25 µs",
                f"{per_node:,.0f} µs; beyond the echo client's (broker − echo): "
                f"{own_per_node:,.0f} µs",
                per_node <= 25,
            )
        )
        previous = p
    if points and points[-1].nodes >= 8500:
        rss = points[-1].broker_rss or 0
        out.append((f"N = {points[-1].nodes:,}: broker RSS ≤ 2 GB", mib(rss), rss <= TWO_GIB))
    return out


def render(points: Sequence[FederationPoint], command: str) -> str:
    """The markdown tables BENCHMARKS.md shows."""
    rows = [
        f"Command: `{command}`",
        "",
        "| N | broker p50 / p99 ms | echo p50 / p99 ms | broker CPU ms/search | "
        "echo client CPU ms/search | stand-ins' CPU ms (broker / echo) | broker RSS | "
        "fds (sockets) | broker ready / all reachable s (searches) | echo reachable s |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for p in points:
        rows.append(
            f"| {p.nodes:,} | {p.broker.p50:,.0f} / {p.broker.p99:,.0f} | "
            f"{p.echo.p50:,.0f} / {p.echo.p99:,.0f} | {p.broker_cpu_ms:,.0f} | "
            f"{p.echo_client_cpu_ms:,.0f} | {p.standin_cpu_broker_ms:,.0f} / "
            f"{p.standin_cpu_echo_ms:,.0f} | {mib(p.broker_rss)} | "
            f"{p.broker_fds:,} ({p.broker_sockets:,}) | {p.broker_ready_s:.1f} / "
            f"{p.broker_reachable_s:.1f} ({p.reach_searches}) | {p.echo_reachable_s:.1f} |"
        )
    rows += [
        "",
        "| N | rounds | verified answers | request to each node | node answer | "
        "client signs+seals ms | client verifies ms | stand-in signs+seals µs/answer |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for p in points:
        rows.append(
            f"| {p.nodes:,} | {p.rounds} | {p.verified:,} of {p.nodes:,} | "
            f"{p.node_request_bytes:,} B | {p.answer_bytes:,} B | {p.client_sign_ms:,.0f} | "
            f"{p.client_verify_ms:,.0f} | {p.standin_sign_us:,.0f} |"
        )
    rows += ["", "| target | measured | |", "|---|---|---|"]
    for target, measured, met in targets(points):
        rows.append(f"| {target} | {measured} | {'**met**' if met else '**missed**'} |")
    return "\n".join(rows)


async def run_federation(settings: FederationSettings, workdir: Path) -> list[FederationPoint]:
    """Measure every N of ``settings`` against one set of stand-ins."""
    federation = build_federation(max(settings.node_counts), settings.standin_procs, workdir)
    try:
        points = []
        for n in sorted(settings.node_counts):
            point = await measure(federation, n, settings)
            print(
                f"N = {n:,}: broker p50 {point.broker.p50:,.0f} ms, "
                f"echo p50 {point.echo.p50:,.0f} ms",
                file=sys.stderr,
                flush=True,
            )
            points.append(point)
        return points
    finally:
        stop_all(federation.standins)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the scenario; print the markdown tables (or ``--json``)."""
    parser = argparse.ArgumentParser(prog="python -m bench.federation", description=__doc__)
    parser.add_argument("--nodes", default=",".join(map(str, DEFAULT_NODES)))
    parser.add_argument("--rounds", type=int, default=FederationSettings.rounds)
    parser.add_argument("--procs", type=int, default=FederationSettings.standin_procs)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--profile", type=Path, help="write the broker's cProfile here")
    args = parser.parse_args(argv)
    try:
        counts = tuple(int(n) for n in args.nodes.split(","))
    except ValueError:
        parser.error(f"--nodes must list whole numbers, not {args.nodes!r}")
    if not counts or min(counts) < 1 or args.rounds < 1 or args.procs < 1:
        parser.error("--nodes, --rounds and --procs must be positive")
    settings = FederationSettings(
        counts, args.rounds, standin_procs=args.procs, profile_dir=args.profile
    )
    with tempfile.TemporaryDirectory(prefix="federation-") as tmp:
        points = asyncio.run(run_federation(settings, Path(tmp)))
    command = "python -m bench.federation " + " ".join(argv if argv is not None else sys.argv[1:])
    if args.json:
        print(json.dumps([p.as_dict() for p in points], indent=2))
    else:
        print(render(points, command.strip()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
