"""Scenario 3 (and the other half of 6): person search at scale, its recall, the node's footprint.

One SQLite store holds the three demo agencies' synthetic records (a third
each, ~1,000,000 in all; the smoke run uses 10,000), built by the node's own
validation and store, and the labelled queries ``generate_labelled_variants``
makes for them: each planted person and each person held by two or more
agencies, searched by canonical name and date of birth, with every record that
truly is that person (under whatever spelling, transposed date or alias).

- **fuzzy**: ``RecordStore.search(query, limit=100)`` -- exactly the node's
  candidate search (``max_hits`` 25 × ``CANDIDATE_FACTOR`` 4), phonetic and
  date-of-birth index lookups, then scoring every candidate;
- **exact** (the limit): the same person by exact surname, given name and date
  of birth, one indexed ``SELECT`` on the same database, rows decoded into
  records the same way.

Recall is the share of labelled records found in the top 25 (what a node
returns at most by default). The node's footprint is read from a real node
process serving this store after a few searches.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import fieldgate.node.store as node_store
from bench.common import SANCTUARY_CONTRACT, Memory, node_request, person_query
from bench.data import labelled_store, store_files_size
from bench.echo import NODE_SEARCH_METHOD, open_channel, raw_call
from bench.procs import start_worker, stop_all, wait_ready
from bench.stats import Summary, percentile, summarize
from fieldgate.core.query import PersonQuery, validate_query
from fieldgate.node.store import RecordStore
from fieldgate.policy.records import Record
from fieldgate.v2 import common_pb2

FUZZY_LIMIT = 100
"""Candidates the node asks its store for (25 hits × CANDIDATE_FACTOR 4)."""

RECALL_AT = 25
"""Hits a node returns at most by default."""

EXACT_SQL = (
    "SELECT r.record_id, r.kind, r.sealed, r.juvenile, r.expunged, r.body"
    " FROM names n JOIN records r ON r.record_id = n.record_id"
    " WHERE n.dob = ? AND n.surname = ? AND n.given_name = ?"
)


@dataclass(frozen=True)
class SearchSettings:
    """How much of the person-search scenario to run."""

    records: int
    timing_queries: int
    timing_repeats: int
    recall_queries: int
    node_searches: int


@dataclass
class PersonSearchResult:
    """Latencies, recall and the node's footprint at this size."""

    records: int
    store_bytes: int
    build_seconds: float
    labelled_queries: int
    timed_queries: int
    fuzzy: Summary
    exact: Summary
    per_query_ratio_p50: float
    candidates_p50: float
    candidates_p99: float
    exact_plan: list[str]
    recall_queries: int
    recall_expected: int
    recall_found: int
    recall_found_100: int
    queries_complete: int
    misses: list[dict[str, Any]] = field(default_factory=list)
    node_memory: Memory | None = None
    node_latency: Summary | None = None
    node_disk_bytes: int = 0

    @property
    def ratio(self) -> float:
        """Fuzzy p50 / exact p50."""
        return self.fuzzy.p50 / self.exact.p50

    @property
    def recall(self) -> float:
        """Labelled records found in the top 25."""
        return self.recall_found / self.recall_expected if self.recall_expected else float("nan")

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "records": self.records,
            "store_bytes": self.store_bytes,
            "build_seconds": self.build_seconds,
            "labelled_queries": self.labelled_queries,
            "timed_queries": self.timed_queries,
            "fuzzy": self.fuzzy.as_dict(),
            "exact": self.exact.as_dict(),
            "ratio_p50": self.ratio,
            "per_query_ratio_p50": self.per_query_ratio_p50,
            "candidates_p50": self.candidates_p50,
            "candidates_p99": self.candidates_p99,
            "exact_plan": self.exact_plan,
            "recall_queries": self.recall_queries,
            "recall_expected": self.recall_expected,
            "recall_found": self.recall_found,
            "recall": self.recall,
            "recall_at_100": (
                self.recall_found_100 / self.recall_expected if self.recall_expected else None
            ),
            "queries_complete": self.queries_complete,
            "misses": self.misses,
            "node_memory": (
                None
                if self.node_memory is None
                else {
                    "rss": self.node_memory.rss,
                    "pss": self.node_memory.pss,
                    "uss": self.node_memory.uss,
                }
            ),
            "node_latency": self.node_latency.as_dict() if self.node_latency else None,
            "node_disk_bytes": self.node_disk_bytes,
        }


def _spread(items: list[dict[str, Any]], k: int) -> list[dict[str, Any]]:
    """``k`` items spread evenly over ``items`` (all of them when k is 0 or too large)."""
    if k <= 0 or k >= len(items):
        return list(items)
    step = len(items) / k
    return [items[int(i * step)] for i in range(k)]


def _query(item: dict[str, Any]) -> PersonQuery:
    return validate_query(
        person_query(str(item["surname"]), str(item["given_name"]), str(item["dob"]))
    )


def _exact(db: sqlite3.Connection, query: PersonQuery) -> list[Record]:
    assert query.dob is not None
    rows = db.execute(EXACT_SQL, (query.dob.isoformat(), query.surname, query.given_name))
    return [
        Record(rid, kind, bool(sealed), bool(juvenile), bool(expunged), json.loads(body))
        for rid, kind, sealed, juvenile, expunged, body in rows
    ]


def _candidates(db: sqlite3.Connection, query: PersonQuery) -> float:
    """How many records the node's candidate lookup returns for ``query`` (NaN if unknown)."""
    build = getattr(node_store, "_candidate_sql", None)
    if build is None:
        return float("nan")
    sql, params = build(query)
    return float(db.execute(f"SELECT count(*) FROM ({sql})", params).fetchone()[0])


def _time_queries(
    store: RecordStore,
    db: sqlite3.Connection,
    items: list[dict[str, Any]],
    repeats: int,
    ranked: dict[int, list[str]],
) -> tuple[list[float], list[float], list[float], list[float]]:
    """Time fuzzy and exact per query (median of ``repeats`` after one warm-up run).

    The warm-up's ranking is kept in ``ranked`` (by position in ``items``) for recall.
    """
    fuzzy: list[float] = []
    exact: list[float] = []
    ratios: list[float] = []
    candidates: list[float] = []
    for i, item in enumerate(items):
        query = _query(item)
        # Warm the pages this query touches; its answer counts towards recall.
        ranked[i] = [c.record.record_id for c in store.search(query, FUZZY_LIMIT)]
        _exact(db, query)
        f: list[float] = []
        e: list[float] = []
        for _ in range(repeats):
            started = time.perf_counter()
            store.search(query, FUZZY_LIMIT)
            f.append(time.perf_counter() - started)
            started = time.perf_counter()
            _exact(db, query)
            e.append(time.perf_counter() - started)
        fuzzy.append(percentile(f, 50))
        exact.append(percentile(e, 50))
        ratios.append(fuzzy[-1] / exact[-1])
        candidates.append(_candidates(db, query))
    return fuzzy, exact, ratios, candidates


def _node_copy(path: Path, workdir: Path) -> Path:
    """The cached store, hard-linked (else copied) where a node may keep its audit log beside it."""
    target = workdir / "person" / "node.sqlite"
    target.parent.mkdir(parents=True, exist_ok=True)
    for stale in target.parent.glob("node*"):
        stale.unlink()
    try:
        os.link(path, target)
    except OSError:
        shutil.copyfile(path, target)
    return target


async def _node_footprint(
    path: Path, items: list[dict[str, Any]], workdir: Path
) -> tuple[Memory | None, Summary, int]:
    database = _node_copy(path, workdir)
    worker = start_worker(
        {
            "kind": "nodes",
            "nodes": [
                {
                    "node_id": "kcso",
                    "agency_name": "King County Sheriff's Office",
                    "database": str(database),
                    "contract": str(SANCTUARY_CONTRACT),
                }
            ],
            "echo": False,
        },
        workdir,
        "person-node",
    )
    wait_ready([worker], timeout=120)
    channel = open_channel(worker.info["nodes"][0]["address"])
    call = raw_call(channel, NODE_SEARCH_METHOD)
    latencies: list[float] = []
    try:
        for i, item in enumerate(items):
            query: common_pb2.PersonQuery = person_query(
                str(item["surname"]), str(item["given_name"]), str(item["dob"])
            )
            payload = node_request(query, f"bench-{i}").SerializeToString()
            started = time.perf_counter()
            await call(payload, timeout=60)
            latencies.append(time.perf_counter() - started)
        memory = worker.memory()
        disk = store_files_size(database)
    finally:
        await channel.close(None)
        stop_all([worker])
    return memory, summarize(latencies), disk


async def run_person_search(
    settings: SearchSettings, cache: Path, workdir: Path, log: Callable[[str], None]
) -> PersonSearchResult:
    """Build (or reuse) the store, time fuzzy against exact, measure recall and footprint."""
    log(f"person search: store of {settings.records:,} records (cached under {cache})")
    labelled = await asyncio.to_thread(labelled_store, settings.records, cache)
    if labelled.built_seconds:
        log(f"built the store and labelled queries in {labelled.built_seconds:.0f} s")
    queries = labelled.queries
    recall_items = _spread(queries, settings.recall_queries)
    # Timed queries are the first of the recall sample's spread: their runs serve both.
    timed = _spread(recall_items, settings.timing_queries)
    timed_ids = {id(item) for item in timed}
    ranked_timed: dict[int, list[str]] = {}
    store = RecordStore.open(labelled.path)
    db = sqlite3.connect(f"file:{labelled.path}?mode=ro", uri=True)
    try:
        plan = [str(r[3]) for r in db.execute(f"EXPLAIN QUERY PLAN {EXACT_SQL}", ("", "", ""))]
        fuzzy, exact, ratios, candidates = _time_queries(
            store, db, timed, settings.timing_repeats, ranked_timed
        )
        ranked_by_item = {id(timed[i]): ids for i, ids in ranked_timed.items()}
        expected_total = found_total = found_100 = complete = 0
        misses: list[dict[str, Any]] = []
        for item in recall_items:
            if id(item) in timed_ids:
                ranked = ranked_by_item[id(item)]
            else:
                ranked = [c.record.record_id for c in store.search(_query(item), FUZZY_LIMIT)]
            top = set(ranked[:RECALL_AT])
            expected = {str(rid) for _, rid in item["expected"]}
            found = expected & top
            expected_total += len(expected)
            found_total += len(found)
            found_100 += len(expected & set(ranked))
            complete += found == expected
            for rid in sorted(expected - top):
                if len(misses) < 12:
                    held = store.get(rid)
                    misses.append(
                        {
                            "query": f"{item['surname']}, {item['given_name']} {item['dob']}",
                            "record_id": rid,
                            "held_as": (
                                f"{held.fields.get('surname')}, {held.fields.get('given_name')} "
                                f"{held.fields.get('dob')} aliases={held.fields.get('aliases')}"
                                if held
                                else "?"
                            ),
                            "rank": ranked.index(rid) + 1 if rid in ranked else None,
                        }
                    )
    finally:
        db.close()
        store.close()
    result = PersonSearchResult(
        records=labelled.records,
        store_bytes=store_files_size(labelled.path),
        build_seconds=labelled.built_seconds,
        labelled_queries=len(queries),
        timed_queries=len(timed),
        fuzzy=summarize(fuzzy),
        exact=summarize(exact),
        per_query_ratio_p50=percentile(ratios, 50),
        candidates_p50=percentile(candidates, 50),
        candidates_p99=percentile(candidates, 99),
        exact_plan=plan,
        recall_queries=len(recall_items),
        recall_expected=expected_total,
        recall_found=found_total,
        recall_found_100=found_100,
        queries_complete=complete,
        misses=misses,
    )
    log(
        f"person search at {result.records:,}: fuzzy p50 {result.fuzzy.p50:.2f} ms, exact p50 "
        f"{result.exact.p50:.3f} ms (×{result.ratio:.1f}); recall@{RECALL_AT} "
        f"{result.recall:.4f} over {len(recall_items)} queries"
    )
    node_items = _spread(queries, settings.node_searches)
    result.node_memory, result.node_latency, result.node_disk_bytes = await _node_footprint(
        labelled.path, node_items, workdir
    )
    log(
        f"node at {result.records:,} records: RSS "
        f"{(result.node_memory.rss if result.node_memory else 0) / 2**20:.0f} MiB, "
        f"disk {result.node_disk_bytes / 2**20:.0f} MiB"
    )
    return result
