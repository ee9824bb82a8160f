"""Timing at chance: can a requester tell held-but-denied from absent by the clock?

One King County node under the sanctuary contract, with its real audit store,
holds (besides 300 synthetic people) a person with one booking, a person with
sixty, and a person whose only record is sealed. A civil-immigration officer
asks about each of them and about a person the county does not hold; every
answer is "no hits" and byte for byte the same. The question is whether the
arrival time gives the held ones away.

For each held case against absent, the **best threshold classifier** is
trained on one half of the searches (the threshold and direction that sort
the training half best) and scored on the other half; 50 % is chance. Times
are taken at the client for the node's unary ``Search`` (what a broker sees)
and through a real broker, unary and streamed (the agency's event).

``python -m bench.timing_chance --samples 1000 --workers 6`` runs the full
measurement (≥ 1,000 searches per case and mode, six in flight at once) and
prints JSON; tests/timing runs a smaller one in CI. The node scales its floor
with the machine's load as a production node does by default
(``--load-factor 1`` for the fixed floor of before).
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import datetime as dt
import json
import os
import random
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

from fieldgate.broker.limits import LimitsConfig
from fieldgate.devkit.demo import demo_personas
from fieldgate.devkit.local_federation import (
    LocalFederation,
    NodeSpec,
    import_records,
    start_federation,
)
from fieldgate.devkit.synthetic import DEMO_AGENCIES, generate_agency_records, write_jsonl
from fieldgate.node.answer_timing import DEFAULT_MAX_LOAD_FACTOR
from fieldgate.node.audit_budget import AuditBudgetConfig
from fieldgate.policy.shipped import shipped_contract
from fieldgate.v2 import broker_pb2, broker_pb2_grpc, common_pb2, node_pb2, node_pb2_grpc

CASES = ("absent", "held_1", "held_60", "sealed")
"""``absent`` and the held cases each is told apart from."""
MODES = ("node_unary", "broker_unary", "broker_stream")

PEOPLE = {
    "held_1": ("OKONKWO", "ADAEZE", "1979-05-14", 1, False),
    "held_60": ("VANTERPOOL", "DESMOND", "1983-11-02", 60, False),
    "sealed": ("LINDQVIST", "HALVARD", "1990-02-27", 1, True),
    "absent": ("QUILLFEATHER", "ZEBEDEE", "1961-07-13", 0, False),
}
"""Surname, given name, date of birth, bookings held, sealed."""


def write_records(path: Path) -> None:
    """300 synthetic people plus the held cases' bookings, as JSON Lines."""
    records: list[dict[str, Any]] = generate_agency_records(DEMO_AGENCIES[0], count=300, seed=11)
    template = next(r for r in records if r["record_kind"] == "booking")
    for case, (surname, given, dob, count, sealed) in PEOPLE.items():
        for number in range(count):
            record = copy.deepcopy(template)
            record.update(
                record_id=f"KCSO-B-{case.upper()}-{number:03d}",
                surname=surname,
                given_name=given,
                dob=dob,
                booking_number=f"K{case[:4].upper()}{number:04d}",
                sealed=sealed,
            )
            record.pop("middle_name", None)
            records.append(record)
    write_jsonl(records, path)


def query_for(case: str) -> common_pb2.PersonQuery:
    """The search for ``case``'s person."""
    surname, given, dob, _, _ = PEOPLE[case]
    return common_pb2.PersonQuery(surname=surname, given_name=given, dob=dob)


async def start(
    workdir: Path, floor_seconds: float, load_factor: int = DEFAULT_MAX_LOAD_FACTOR
) -> LocalFederation:
    """The node (answers held for ``floor_seconds``, scaled by load up to ``load_factor``
    floors as a production node's are by default) and a broker over it."""
    records = workdir / "kcso.jsonl"
    write_records(records)
    spec = NodeSpec("kcso", "King County", shipped_contract("sanctuary_county"), records)
    import_records(spec, workdir)
    return await start_federation(
        # Limits off: the measurement repeats each search far past any polling limit.
        [spec],
        workdir,
        audit=True,
        answer_floor_seconds=floor_seconds,
        limits=LimitsConfig(enabled=False),
        # 1,000 searches per mode for a person with sixty records write more
        # audit for one requester than the node's daily budget allows.
        audit_budget=AuditBudgetConfig(enabled=False),
        max_load_factor=load_factor,
    )


@dataclass(frozen=True)
class Timed:
    """Seconds per case, per mode."""

    seconds: dict[str, dict[str, list[float]]]


def measure(
    node_address: str,
    broker_address: str,
    samples: int,
    modes: Sequence[str] = MODES,
    seed: int = 5,
    workers: int = 1,
) -> Timed:
    """Time ``samples`` searches per case and mode, interleaved at random.

    ``workers`` searches are in flight at once, each worker taking the next
    search of the one shuffled order: a requester may ask in parallel as
    well, and the node then does several persons' work at once (harder for
    the hold, not easier); the hold is a sleep, so the run takes about
    ``1/workers`` of the time.
    """
    requester = demo_personas(dt.date.today())[1].requester.to_message()
    node_channel = grpc.insecure_channel(node_address)
    broker_channel = grpc.insecure_channel(broker_address)
    node = node_pb2_grpc.NodeServiceStub(node_channel)
    broker = broker_pb2_grpc.BrokerServiceStub(broker_channel)

    def node_unary(query: common_pb2.PersonQuery, number: int) -> None:
        answer = node.Search(
            # A new id per search (a node answers each once), all of one length.
            node_pb2.NodeServiceSearchRequest(
                request_id=f"t-{uuid.uuid4().hex}", requester=requester, query=query
            ),
            timeout=10,
        )
        assert not answer.hits, "the immigration officer must see nothing"

    def broker_unary(query: common_pb2.PersonQuery, number: int) -> None:
        answer = broker.Search(
            broker_pb2.SearchRequest(requester=requester, query=query), timeout=10
        )
        assert not any(r.hits for r in answer.results)

    def broker_stream(query: common_pb2.PersonQuery, number: int) -> None:
        for event in broker.SearchStream(
            broker_pb2.SearchStreamRequest(
                search=broker_pb2.SearchRequest(requester=requester, query=query)
            ),
            timeout=10,
        ):
            if event.HasField("agency"):  # the node's answer has arrived
                assert not event.agency.hits
                return

    asks: dict[str, Callable[[common_pb2.PersonQuery, int], None]] = {
        "node_unary": node_unary,
        "broker_unary": broker_unary,
        "broker_stream": broker_stream,
    }
    seconds: dict[str, dict[str, list[float]]] = {m: {c: [] for c in CASES} for m in modes}
    try:
        for number in range(5):  # warm up every path
            for mode in modes:
                for case in CASES:
                    asks[mode](query_for(case), -number)
        order = [(mode, case) for mode in modes for case in CASES for _ in range(samples)]
        random.Random(seed).shuffle(order)
        lock = threading.Lock()
        queue = iter(enumerate(order))

        def worker() -> None:
            while True:
                with lock:
                    item = next(queue, None)
                if item is None:
                    return
                number, (mode, case) = item
                query = query_for(case)
                started = time.perf_counter()
                asks[mode](query, number)
                elapsed = time.perf_counter() - started
                with lock:
                    seconds[mode][case].append(elapsed)

        with ThreadPoolExecutor(max_workers=workers) as pool:
            for done in [pool.submit(worker) for _ in range(workers)]:
                done.result()
    finally:
        node_channel.close()
        broker_channel.close()
    return Timed(seconds)


def threshold_accuracy(a: Sequence[float], b: Sequence[float]) -> float:
    """Test accuracy of the best threshold classifier trained on the first halves.

    Trained: every cut between training samples, either direction; the one
    that sorts the training halves best. Tested: the second halves.
    """
    half_a, half_b = len(a) // 2, len(b) // 2
    train = sorted([(x, 0) for x in a[:half_a]] + [(x, 1) for x in b[:half_b]])
    best_cut, best_above, best_right = -float("inf"), 1, -1
    # Walking the cuts in order: below the cut is called "a", above it "b" (or the reverse).
    a_above, b_above = half_a, half_b
    candidates = [(-float("inf"), a_above, b_above)]
    for index, (value, label) in enumerate(train):
        if label:
            b_above -= 1
        else:
            a_above -= 1
        # The cut sits midway to the next training value, not on this one.
        following = train[index + 1][0] if index + 1 < len(train) else float("inf")
        candidates.append(((value + following) / 2, a_above, b_above))
    for cut, a_up, b_up in candidates:
        right_b_above = (half_a - a_up) + b_up
        right_a_above = a_up + (half_b - b_up)
        for above, right in ((1, right_b_above), (0, right_a_above)):
            if right > best_right:
                best_cut, best_above, best_right = cut, above, right
    test = [(x, 0) for x in a[half_a:]] + [(x, 1) for x in b[half_b:]]
    correct = sum(((x > best_cut) == bool(best_above)) == bool(label) for x, label in test)
    return correct / len(test)


def report(timed: Timed, floor_seconds: float | None = None) -> dict[str, Any]:
    """Per mode: medians and each held case's classifier accuracy against absent.

    With ``floor_seconds``, also each case's share of answers that overran the
    floor (left at a later step, 1.5 floors or more): on a busy machine a held
    person's work overruns more often than an absent one's, and each overrun
    is an answer the threshold classifier sorts right.
    """
    out: dict[str, Any] = {}
    for mode, cases in timed.seconds.items():
        overran = (
            {
                c: round(sum(x >= 1.5 * floor_seconds for x in v) / len(v), 4)
                for c, v in cases.items()
            }
            if floor_seconds
            else {}
        )
        out[mode] = {
            **({"overrun_share": overran} if overran else {}),
            "median_ms": {c: round(statistics.median(v) * 1000, 3) for c, v in cases.items()},
            "p99_ms": {
                c: round(statistics.quantiles(v, n=100)[-1] * 1000, 3) for c, v in cases.items()
            },
            "accuracy_vs_absent": {
                c: round(threshold_accuracy(cases["absent"], v), 4)
                for c, v in cases.items()
                if c != "absent"
            },
        }
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Run the measurement and print (or write) its JSON."""
    parser = argparse.ArgumentParser(prog="python -m bench.timing_chance")
    parser.add_argument("--samples", type=int, default=1000, help="searches per case and mode")
    parser.add_argument("--floor-ms", type=float, default=100.0, help="the node's answer floor")
    parser.add_argument("--modes", default=",".join(MODES), help="comma-separated modes")
    parser.add_argument("--out", type=Path, help="also write the JSON here")
    parser.add_argument(
        "--load-factor",
        type=int,
        default=DEFAULT_MAX_LOAD_FACTOR,
        choices=(1, 2, 4, 8),
        help="the node's [node.timing] max_load_factor (default: the node's; 1: a fixed floor)",
    )
    parser.add_argument(
        "--workers", type=int, default=1, help="searches in flight at once (default 1)"
    )
    args = parser.parse_args(argv)
    modes = [m for m in args.modes.split(",") if m]
    unknown = set(modes) - set(MODES)
    if unknown:
        parser.error(f"--modes: unknown {sorted(unknown)}; choose from {', '.join(MODES)}")
    if args.workers < 1:
        parser.error(f"--workers: must be at least 1, not {args.workers}")
    load_at_start = [round(x, 2) for x in os.getloadavg()]
    began = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, daemon=True)
        thread.start()
        running = asyncio.run_coroutine_threadsafe(
            start(Path(tmp), args.floor_ms / 1000, args.load_factor), loop
        ).result(120)
        try:
            timed = measure(
                running.nodes["kcso"].address,
                running.broker_address,
                args.samples,
                modes,
                workers=args.workers,
            )
        finally:
            asyncio.run_coroutine_threadsafe(running.stop(), loop).result(60)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(10)
    figures = {
        "samples_per_case": args.samples,
        "floor_ms": args.floor_ms,
        "max_load_factor": args.load_factor,
        "workers": args.workers,
        "load_average_at_start": load_at_start,
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "minutes": round((time.perf_counter() - began) / 60, 1),
        # Overruns are counted against the configured floor: with a load factor
        # the floor in force is a multiple of it, so the share would mean nothing.
        **report(timed, args.floor_ms / 1000 if args.load_factor == 1 else None),
    }
    text = json.dumps(figures, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
