"""Scenario 5: the per-hit policy path against one bare engine evaluation of the same rule.

The records are the hits of the contract scenario's common-name search
(unrestricted records of several kinds, as a detective's search finds them).
For each the node's input document is built exactly as
``fieldgate.node.search.AgencyNode.decide`` builds it. Then, one hit at a time:

- **bare**: a ``regorus.Engine`` on this thread with the same modules and data,
  ``set_input_json`` + ``eval_rule`` of ``data.<contract>.decision`` -- the
  engine's own cost, the limit;
- **contract**: ``fieldgate.policy.engine.RegorusContract.evaluate`` with its decision
  cache emptied first (input to JSON, hand-off to the engine's thread and back);
- **decide**: ``AgencyNode.decide`` (input built, contract, the node's checks of
  the decision: the whole per-hit policy path) as in a requester's *first*
  search: the cache is emptied before each pass over the hits, and the
  contract (field-local, ``fieldgate.policy.field_locality``) is told, per record kind,
  the fields the search's records hold, as ``AgencyNode.search`` tells it, so
  the engine is asked once per distinct input document among them
  (``fieldgate.policy.decision_cache``);
- **decide, handed off**: the same from another thread, each evaluation handed
  to the engine's thread and back (the node's path before it decided all of a
  search's records there in one job; the other *decide* series run there, as
  the node does);
- **decide, record by record**: the same, each record asked about with its
  own fields (what the node does for a contract that is not field-local);
- **decide, repeated**: the same with the cache kept (the requester searched before);
- **decide + hit**: first-search ``decide`` plus ``build_hit``, the wire hit.

Hits per second per core divide hits by the process CPU time (every thread).
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import regorus

from bench.common import (
    DETECTIVE,
    REGO_LIBRARY,
    RELEASE_ALL_CONTRACT,
    SANCTUARY_CONTRACT,
    person_query,
)
from bench.contract_cost import common_name, local_node
from bench.data import copy_store
from fieldgate.core.claims import RequesterClaims, validate_requester
from fieldgate.core.query import validate_query
from fieldgate.node.search import AgencyNode
from fieldgate.node.store import Candidate
from fieldgate.policy.decision_cache import DecisionCache
from fieldgate.policy.evaluate import build_policy_input
from fieldgate.policy.field_locality import told_fields_by_kind
from fieldgate.policy.records import Record
from fieldgate.policy.verdict import RecordVerdict, build_hit

SANCTUARY_PACKAGE = "data.fieldgate.contracts.sanctuary_county"
RELEASE_ALL_PACKAGE = "data.bench.contracts.release_all"


@dataclass(frozen=True)
class PolicySettings:
    """How many per-hit evaluations each series makes."""

    hits: int


@dataclass
class PathCost:
    """One series: microseconds per hit (wall and CPU) and hits per CPU-second."""

    name: str
    what: str
    hits: int
    wall_us: float
    cpu_us: float

    @property
    def hits_per_core_second(self) -> float:
        """Hits per second of one core's time."""
        return 1e6 / self.cpu_us if self.cpu_us > 0 else float("nan")

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "name": self.name,
            "what": self.what,
            "hits": self.hits,
            "wall_us_per_hit": self.wall_us,
            "cpu_us_per_hit": self.cpu_us,
            "hits_per_core_second": self.hits_per_core_second,
        }


@dataclass
class PolicyResult:
    """Every series, and the bare cost of the sanctuary contract's rules."""

    records: int
    paths: list[PathCost]
    rules: list[PathCost]

    def path(self, name: str) -> PathCost:
        """The series called ``name``."""
        return next(p for p in self.paths if p.name == name)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "records": self.records,
            "paths": [p.as_dict() for p in self.paths],
            "rules": [r.as_dict() for r in self.rules],
        }


def policy_input(
    node: AgencyNode,
    claims: RequesterClaims,
    record: Record,
    told_fields: Sequence[str] | None = None,
) -> dict[str, object]:
    """The input document ``AgencyNode.decide`` gives the contract for ``record``."""
    return build_policy_input(
        claims, record, node_id=node.node_id, today=dt.date.today(), fields=told_fields
    )


def _distinct(documents: list[dict[str, object]]) -> int:
    """How many different input documents (so engine evaluations) ``documents`` hold."""
    return len({json.dumps(d, sort_keys=True) for d in documents})


def bare_engine(contract: Path, classes: dict[str, str]) -> regorus.Engine:
    """An engine with the modules and data ``RegorusContract`` loads, on this thread."""
    engine = regorus.Engine()
    for path in sorted(REGO_LIBRARY.rglob("*.rego")):
        if not path.name.endswith("_test.rego"):
            engine.add_policy(str(path), path.read_text(encoding="utf-8"))
    engine.add_policy(str(contract), contract.read_text(encoding="utf-8"))
    engine.add_data_json(json.dumps({"catalog": classes}))
    return engine


def _per_hit(
    name: str,
    what: str,
    count: int,
    items: int,
    step: Callable[[int], object],
    run: Callable[[Callable[[], PathCost]], PathCost] | None = None,
) -> PathCost:
    """Time ``count`` steps; through ``run`` when given (where the node decides a search)."""

    def timed() -> PathCost:
        for i in range(min(count, 50)):  # warm up
            step(i % items)
        wall, cpu = time.perf_counter(), time.process_time()
        for i in range(count):
            step(i % items)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        return PathCost(name, what, count, wall / count * 1e6, cpu / count * 1e6)

    return timed() if run is None else run(timed)


def _hit_candidates(node: AgencyNode, store: Path) -> list[Candidate]:
    surname, given = common_name(store)
    query = validate_query(person_query(surname, given))
    found = node.store.search(query, limit=100)
    unrestricted = [
        c for c in found if not (c.record.sealed or c.record.juvenile or c.record.expunged)
    ]
    return unrestricted[:25]


def run_policy(
    settings: PolicySettings, store: Path, workdir: Path, log: Callable[[str], None]
) -> PolicyResult:
    """Time every series on the hits of the common-name search."""
    node = local_node(
        copy_store(store, workdir / "policy" / "kcso.sqlite"), SANCTUARY_CONTRACT, "kcso"
    )
    try:
        claims = validate_requester(DETECTIVE)
        candidates = _hit_candidates(node, store)
        records = [c.record for c in candidates]
        inputs = [policy_input(node, claims, r) for r in records]
        inputs_json = [json.dumps(i) for i in inputs]
        classes = node.catalog.classes()
        engine = bare_engine(SANCTUARY_CONTRACT, classes)
        decision = f"{SANCTUARY_PACKAGE}.decision"
        # The engine, the node's wrapper and the bare engine agree on every record.
        for i, record in enumerate(records):
            engine.set_input_json(inputs_json[i])
            if engine.eval_rule(decision) != node.contract.evaluate(inputs[i]):
                raise RuntimeError(f"bare engine and node disagree on {record.record_id}")
            if not node.decide(claims, record).disclose:
                raise RuntimeError(f"{record.record_id} is not disclosed to the detective")
        n, k = settings.hits, len(records)
        cache = getattr(node.contract, "cache", None)
        if not isinstance(cache, DecisionCache):
            raise RuntimeError("the node's contract runs without a decision cache")
        told = told_fields_by_kind(records) if node.contract.field_local else {}
        asked = [policy_input(node, claims, r, told.get(r.kind)) for r in records]
        distinct, exact = _distinct(asked), _distinct(inputs)

        def bare(i: int) -> object:
            engine.set_input_json(inputs_json[i])
            return engine.eval_rule(decision)

        def uncached(i: int) -> object:
            cache.clear()
            return node.contract.evaluate(inputs[i])

        def first_search(i: int) -> object:
            if i == 0:  # each pass over the hits is one new search: nothing remembered
                cache.clear()
            return node.decide(claims, records[i], told_fields=told.get(records[i].kind))

        def record_by_record(i: int) -> object:
            if i == 0:
                cache.clear()
            return node.decide(claims, records[i])

        def first_search_hit(i: int) -> object:
            verdict = first_search(i)
            assert isinstance(verdict, RecordVerdict)
            return build_hit(
                records[i], candidates[i].match, verdict, node.contact, reference="bench"
            )

        paths = [
            _per_hit(
                "bare", "one bare regorus evaluation (set_input_json + eval_rule)", n, k, bare
            ),
            _per_hit(
                "contract",
                "RegorusContract.evaluate, nothing remembered (JSON, engine thread, back)",
                n,
                k,
                uncached,
            ),
            _per_hit(
                "decide",
                "AgencyNode.decide, the whole per-hit policy path, in a requester's first "
                f"search: the {k} hits ask the engine once per distinct input ({distinct}: "
                "field-local, told per kind the fields the search's records hold), on the "
                "engine's thread, where a node decides a search's records",
                n,
                k,
                first_search,
                run=node.contract.run,
            ),
            _per_hit(
                "decide, handed off",
                "the same from another thread: each evaluation handed to the engine's thread "
                "and back (how the node decided before it decided a search there in one job)",
                n,
                k,
                first_search,
            ),
            _per_hit(
                "decide, record by record",
                f"the same, each record told its own fields (not field-local): {exact} distinct",
                n,
                k,
                record_by_record,
                run=node.contract.run,
            ),
            _per_hit(
                "decide, repeated",
                "AgencyNode.decide when the same requester's inputs were decided before",
                n,
                k,
                lambda i: node.decide(claims, records[i], told_fields=told.get(records[i].kind)),
                run=node.contract.run,
            ),
            _per_hit(
                "decide+hit",
                "AgencyNode.decide (first search) + build_hit (a disclosed hit)",
                n,
                k,
                first_search_hit,
                run=node.contract.run,
            ),
        ]
        rules = []
        for rule in ("may_know_record_exists", "mask", "release", "reasons", "decision"):
            query = f"{SANCTUARY_PACKAGE}.{rule}"

            def one(i: int, query: str = query) -> object:
                engine.set_input_json(inputs_json[i])
                return engine.eval_rule(query)

            rules.append(_per_hit(f"sanctuary {rule}", f"bare eval_rule({query})", n // 2, k, one))
        asked_json = [json.dumps(i) for i in asked]

        def told_per_kind(i: int) -> object:
            engine.set_input_json(asked_json[i])
            return engine.eval_rule(decision)

        rules.append(
            _per_hit(
                "sanctuary decision, told per kind",
                f"bare eval_rule({decision}) with the fields of the search's records of the "
                "hit's kind (what a field-local node asks)",
                n // 2,
                k,
                told_per_kind,
            )
        )
        release_all = bare_engine(RELEASE_ALL_CONTRACT, classes)

        def trivial(i: int) -> object:
            release_all.set_input_json(inputs_json[i])
            return release_all.eval_rule(f"{RELEASE_ALL_PACKAGE}.decision")

        rules.append(
            _per_hit(
                "release-all decision",
                "bare eval of the release-everything contract",
                n // 2,
                k,
                trivial,
            )
        )
    finally:
        node.contract.close()
        node.store.close()
    for p in paths:
        log(f"policy {p.name}: {p.wall_us:.0f} µs/hit, {p.hits_per_core_second:,.0f} hits/s/core")
    return PolicyResult(len(records), paths, rules)
