"""The issue's targets, judged on one run's figures, and BENCHMARKS.md."""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib.metadata
import math
import os
import platform
import sqlite3
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.common import REPO_ROOT, mib
from bench.contract_cost import ContractResult
from bench.fanout import HOLDER_EVERY, FanoutResult
from bench.person_search import RECALL_AT, PersonSearchResult
from bench.policy import PolicyResult

FOUR_GIB = 4 * 2**30


@dataclass(frozen=True)
class Target:
    """One target of the issue and how this run measured against it.

    ``met`` is None when the run did not measure it (e.g. N=500 in the smoke run).
    """

    key: str
    scenario: str
    target: str
    measured: str
    value: float
    met: bool | None

    def status(self) -> str:
        """The table cell."""
        return {True: "**met**", False: "**missed**", None: "not measured"}[self.met]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "key": self.key,
            "scenario": self.scenario,
            "target": self.target,
            "measured": self.measured,
            "value": None if math.isnan(self.value) else self.value,
            "met": self.met,
        }


@dataclass
class Results:
    """Everything one run measured (a scenario left out is None)."""

    mode: str
    command: str
    started: dt.datetime
    seconds: float
    machine: dict[str, str]
    fanout: FanoutResult | None = None
    contract: ContractResult | None = None
    person: PersonSearchResult | None = None
    policy: PolicyResult | None = None

    def targets(self) -> list[Target]:
        """Every target of the issue, judged on this run."""
        out: list[Target] = []
        out += _fanout_targets(self.fanout)
        out += _contract_targets(self.contract, self.policy)
        out += _person_targets(self.person)
        out += _footprint_targets(self.fanout)
        return out

    def as_dict(self) -> dict[str, Any]:
        """The results JSON (``--json``)."""
        return {
            "mode": self.mode,
            "command": self.command,
            "started": self.started.isoformat(),
            "seconds": self.seconds,
            "machine": self.machine,
            "scenarios": {
                "fanout": self.fanout.as_dict() if self.fanout else None,
                "contract": self.contract.as_dict() if self.contract else None,
                "person_search": self.person.as_dict() if self.person else None,
                "throughput": (
                    self.fanout.throughput.as_dict()
                    if self.fanout and self.fanout.throughput
                    else None
                ),
                "policy": self.policy.as_dict() if self.policy else None,
                "footprint": _footprint_dict(self.fanout, self.person),
            },
            "targets": [t.as_dict() for t in self.targets()],
        }


def _judge(value: float, limit: float, *, at_most: bool = True) -> bool | None:
    if math.isnan(value):
        return None
    return value <= limit if at_most else value >= limit


def _fanout_targets(fanout: FanoutResult | None) -> list[Target]:
    if fanout is None:
        return []
    points = {p.nodes: p for p in fanout.points}
    out: list[Target] = []
    for n, limit in ((10, 1.3), (200, 1.5), (500, 1.5)):
        point = points.get(n)
        value = point.broker.p50 / point.echo.p50 if point else math.nan
        out.append(
            Target(
                f"fanout_p50_{n}",
                "1 fan-out",
                f"broker p50 ≤ {limit}× echo p50 at N = {n}",
                f"×{value:.2f} ({point.broker.p50:.2f} vs {point.echo.p50:.2f} ms)"
                if point
                else "N not run",
                value,
                _judge(value, limit),
            )
        )
    worst = max(fanout.points, key=lambda p: p.broker.p99 / p.broker.p50, default=None)
    value = worst.broker.p99 / worst.broker.p50 if worst else math.nan
    out.append(
        Target(
            "fanout_p99_p50",
            "1 fan-out",
            "broker p99/p50 ≤ 2 (every N)",
            f"worst ×{value:.2f} at N = {worst.nodes}" if worst else "not run",
            value,
            _judge(value, 2.0),
        )
    )
    one = points.get(1)
    value = one.broker.p50 - one.direct.p50 if one else math.nan
    out.append(
        Target(
            "fixed_cost",
            "1 fan-out",
            "at N = 1 the broker adds ≤ 2 ms over calling the node directly (p50)",
            f"+{value:.2f} ms ({one.broker.p50:.2f} vs {one.direct.p50:.2f} ms)"
            if one
            else "N = 1 not run",
            value,
            _judge(value, 2.0),
        )
    )
    slopes = fanout.slopes()
    value = slopes["broker"] / slopes["echo"]
    ns = ", ".join(str(p.nodes) for p in fanout.points)
    out.append(
        Target(
            "scale_slope",
            "1 fan-out",
            "slope of broker p50 against N ≤ 1.5× the echo baseline's slope",
            f"×{value:.2f} ({slopes['broker'] * 1000:.0f} vs {slopes['echo'] * 1000:.0f} µs "
            f"per node, fit over N = {ns})",
            value,
            _judge(value, 1.5),
        )
    )
    return out


def _contract_targets(contract: ContractResult | None, policy: PolicyResult | None) -> list[Target]:
    out: list[Target] = []
    if contract is not None:
        for i, case in enumerate(contract.cases):
            out.append(
                Target(
                    f"contract_ratio_{i}",
                    "2 contract",
                    f"node answer ≤ 1.10× release-everything ({case.hits} hits)",
                    f"×{case.grpc_ratio:.2f} ({case.grpc_sanctuary.p50:.2f} vs "
                    f"{case.grpc_release_all.p50:.2f} ms)",
                    case.grpc_ratio,
                    _judge(case.grpc_ratio, 1.10),
                )
            )
    if policy is not None:
        decide = policy.path("decide")
        out.append(
            Target(
                "policy_hits_per_core",
                "5 policy",
                "≥ 20,000 hits per second per core through the policy path",
                f"{decide.hits_per_core_second:,.0f} hits/s/core "
                f"({decide.cpu_us:.0f} µs CPU per hit)",
                decide.hits_per_core_second,
                _judge(decide.hits_per_core_second, 20_000, at_most=False),
            )
        )
    return out


def _person_targets(person: PersonSearchResult | None) -> list[Target]:
    if person is None:
        return []
    return [
        Target(
            "search_ratio",
            "3 person search",
            f"fuzzy ≤ 5× exact lookup at 1,000,000 records (measured at {person.records:,})",
            f"×{person.ratio:.1f} ({person.fuzzy.p50:.2f} vs {person.exact.p50:.3f} ms p50)",
            person.ratio,
            _judge(person.ratio, 5.0),
        ),
        Target(
            "recall",
            "3 person search",
            "recall ≥ 0.95 on the labelled variants",
            f"{person.recall:.4f} ({person.recall_found:,} of {person.recall_expected:,} "
            f"records, top {RECALL_AT})",
            person.recall,
            _judge(person.recall, 0.95, at_most=False),
        ),
    ]


def _footprint_targets(fanout: FanoutResult | None) -> list[Target]:
    if fanout is None or fanout.memory is None:
        return []
    total = fanout.memory.total_rss()
    n = fanout.memory.nodes
    value = math.nan if total is None else float(total)
    return [
        Target(
            "footprint",
            "6 footprint",
            "broker + 500 nodes within 4 GB (RSS)",
            f"{mib(total)} for broker + {n} nodes" + ("" if n == 500 else f" (N = {n}, not 500)"),
            value,
            _judge(value, FOUR_GIB) if n >= 500 else None,
        )
    ]


def _footprint_dict(
    fanout: FanoutResult | None, person: PersonSearchResult | None
) -> dict[str, Any] | None:
    if fanout is None and person is None:
        return None
    out: dict[str, Any] = {}
    if fanout is not None and fanout.memory is not None:
        out["fleet"] = fanout.memory.as_dict()
    if person is not None:
        out["node_at_scale"] = {
            "records": person.records,
            "rss": person.node_memory.rss if person.node_memory else None,
            "pss": person.node_memory.pss if person.node_memory else None,
            "disk_bytes": person.node_disk_bytes,
        }
    return out


def machine_info() -> dict[str, str]:
    """What this machine and software are."""
    cpu = platform.processor() or "?"
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = "?"
    try:
        for line in Path("/proc/meminfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("MemTotal:"):
                memory = f"{int(line.split()[1]) / 2**20:.1f} GiB"
    except OSError:
        pass
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count() or 0

    def version(package: str) -> str:
        try:
            return importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            return "?"

    commit = "?"
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        commit = subprocess.run(
            ["git", "describe", "--always", "--dirty"],  # noqa: S607 - git from PATH
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
    return {
        "cpu": cpu,
        "cores": f"{usable} usable ({os.cpu_count()} online)",
        "memory": memory,
        "os": f"{platform.system()} {platform.release()}",
        "python": sys.version.split()[0],
        "grpcio": version("grpcio"),
        "protobuf": version("protobuf"),
        "regorus": version("celine-regorus"),
        "sqlite": sqlite3.sqlite_version,
        "commit": commit,
        "load average at start": load_average(),
    }


def load_average() -> str:
    """The 1, 5 and 15 minute load averages: other work on the machine skews every figure."""
    try:
        return " / ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "?"


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _f(value: float, digits: int = 2) -> str:
    return "n/a" if math.isnan(value) else f"{value:,.{digits}f}"


def render(results: Results, plots: dict[str, Path], analysis: str | None) -> str:
    """BENCHMARKS.md for ``results``."""
    targets = results.targets()
    by_scenario: dict[str, list[Target]] = {}
    for t in targets:
        by_scenario.setdefault(t.scenario, []).append(t)
    parts = [
        "# Fieldgate benchmarks",
        "",
        f"Generated by `{results.command}` on {results.started:%Y-%m-%d %H:%M} UTC "
        f"({results.mode} run, {results.seconds / 60:.1f} min). Every figure is a **ratio "
        "against a limit measured in the same run** on the same machine, because absolute "
        "times on shared machines drift. Regenerate with `make bench` (full: ~10 min, plus ~4 "
        "min the first time to build and cache the 1,000,000-record store) or "
        "`python -m bench --smoke` (toy sizes, < 1 min; what CI runs).",
        "",
        "## Machine",
        "",
        _table(
            ["", ""], [[k, f"`{v}`" if k == "commit" else v] for k, v in results.machine.items()]
        ),
        "",
        "## Targets of issue 7",
        "",
        _table(
            ["scenario", "target", "measured", "status"],
            [[t.scenario, t.target, t.measured, t.status()] for t in targets],
        ),
        "",
    ]
    if results.fanout is not None:
        parts += _fanout_section(results.fanout, plots)
    if results.contract is not None:
        parts += _contract_section(results.contract)
    if results.person is not None:
        parts += _person_section(results.person)
    if results.fanout is not None:
        parts += _throughput_section(results.fanout)
    if results.policy is not None:
        parts += _policy_section(results.policy, plots)
    parts += _footprint_section(results.fanout, results.person)
    if analysis:
        parts += ["", analysis.strip(), ""]
    return "\n".join(parts).rstrip() + "\n"


def _fanout_section(fanout: FanoutResult, plots: dict[str, Path]) -> list[str]:
    s = fanout.settings
    rows = []
    for p in fanout.points:
        rows.append(
            [
                str(p.nodes),
                _f(p.echo.p50),
                _f(p.echo.p99),
                _f(p.direct.p50),
                _f(p.broker.p50),
                _f(p.broker.p99),
                f"×{p.broker.p50 / p.echo.p50:.2f}",
                f"×{p.broker.p99 / p.echo.p99:.2f}",
                f"×{p.broker.p99 / p.broker.p50:.2f}",
                f"{p.broker.p50 - p.direct.p50:+.2f}",
                f"{p.answered}/{p.nodes}, {p.hits}",
                str(p.broker.n),
            ]
        )
    slopes = fanout.slopes()
    out = [
        "## 1. Fan-out overhead",
        "",
        f"**How.** {max(s.node_counts)} real nodes (`node.server.start_node`: SQLite store of "
        f"{s.records_per_node:,} synthetic records each, the `sanctuary_county` contract, the "
        f"node's default audit log) run in **{s.node_procs} worker processes** "
        "(`python -m bench.worker`, started with `subprocess`), assigned round-robin. Every "
        f"{HOLDER_EVERY}th node holds the person searched for (two records it discloses to a "
        "detective); the rest hold people like them but not them. Beside each node, on the "
        "same event loop of the same process, runs a bare `grpc.aio` echo server: the baseline "
        "(200-byte payload) goes to exactly the processes the nodes run in. The broker "
        "(`broker.server.start_broker`) runs in a process of its own over the first N nodes; "
        "the client is the benchmark process (one channel per server, answers not parsed while "
        "timing; every search under a case number never used before, so no node answers from "
        "its decision cache). Per N the client times, in interleaved rounds: "
        "**echo** (fan-out to N echo servers), **direct** (the same search sent by the client "
        "to the N nodes at once: the broker's work without the broker) and **broker** (the "
        "search through the broker). *broker − direct* is what the broker adds; *direct − echo* "
        "is the nodes' own work, which on one 2-core machine adds up over all N nodes.",
        "",
        _table(
            [
                "N",
                "echo p50 ms",
                "echo p99 ms",
                "direct p50 ms",
                "broker p50 ms",
                "broker p99 ms",
                "p50 / echo",
                "p99 / echo p99",
                "broker p99/p50",
                "broker − direct ms",
                "answered, hits",
                "rounds",
            ],
            rows,
        ),
        "",
        f"Marginal cost per added node (least-squares slope of p50 over N): echo "
        f"{slopes['echo'] * 1000:.0f} µs, direct {slopes['direct'] * 1000:.0f} µs, broker "
        f"{slopes['broker'] * 1000:.0f} µs; the broker's own share (broker − direct) is "
        f"{(slopes['broker'] - slopes['direct']) * 1000:.0f} µs per node, the nodes' work "
        f"(direct − echo) {(slopes['direct'] - slopes['echo']) * 1000:.0f} µs per node. "
        f"Fleet start-up: {fanout.startup_seconds:.1f} s.",
        "",
    ]
    for key in ("fanout_latency", "fanout_ratio"):
        if key in plots:
            out += [f"![{key}]({_rel(plots[key])})", ""]
    return out


def _throughput_section(fanout: FanoutResult) -> list[str]:
    t = fanout.throughput
    if t is None:
        return []
    return [
        "## 4. Throughput",
        "",
        f"**How.** The fan-out fleet at N = {t.nodes}: {t.clients} concurrent clients "
        f"(coroutines of the benchmark process, each with calls back to back) for "
        f"{t.seconds:.0f} s per series, after a warm-up. The issue sets no target; the figure "
        "is the ratio to the echo fan-out at the same concurrency.",
        "",
        _table(
            ["series", "searches (fan-outs) / s", "ratio to echo", "p50 ms", "p99 ms"],
            [
                [
                    "echo fan-out",
                    _f(t.echo_per_s, 0),
                    "×1.00",
                    _f(t.echo_latency.p50),
                    _f(t.echo_latency.p99),
                ],
                [
                    "direct to nodes",
                    _f(t.direct_per_s, 0),
                    f"×{t.direct_per_s / t.echo_per_s:.2f}",
                    "",
                    "",
                ],
                [
                    "through the broker",
                    _f(t.broker_per_s, 0),
                    f"×{t.broker_per_s / t.echo_per_s:.2f}",
                    _f(t.broker_latency.p50),
                    _f(t.broker_latency.p99),
                ],
            ],
        ),
        "",
    ]


def _contract_section(contract: ContractResult) -> list[str]:
    rows = []
    for c in contract.cases:
        rows.append(
            [
                c.label,
                f"{c.hits}{'' if c.same_hits else ' (hits differ!)'}",
                _f(c.grpc_release_all.p50),
                _f(c.grpc_sanctuary.p50),
                f"×{c.grpc_ratio:.2f}",
                f"×{c.grpc_repeated_ratio:.2f} ({_f(c.grpc_sanctuary_repeated.p50)} vs "
                f"{_f(c.grpc_release_all_repeated.p50)})",
                _f(c.local_release_all.p50),
                _f(c.local_sanctuary.p50),
                f"×{c.local_ratio:.2f}",
                _f((c.local_sanctuary.p50 - c.local_release_all.p50) * 1000 / max(c.hits, 1), 0),
            ]
        )
    return [
        "## 2. Cost of the contract",
        "",
        f"**How.** Two nodes over copies of one store (KCSO's synthetic records, "
        f"{contract.records:,} background records) in one worker process: one runs "
        "`rego/contracts/sanctuary_county`, the other `bench/contracts/release_all.rego` "
        "(every field of every record to everyone; the node itself still withholds sealed, "
        "juvenile and expunged records). The detective's search discloses the same records "
        "under both (checked: same record ids in the same order). *gRPC*: client → node, "
        "interleaved, the real node with its audit log. *In process*: `AgencyNode.search` "
        "with an in-memory disclosure log: store + contract + disclosure, no transport and "
        "no audit write. Every search but those of the *repeated* column is a **first "
        "search**: it carries a case number never seen before, so the node's decision cache "
        "(`node/decision_cache.py`) cannot answer and the engine decides every hit; the "
        "target is judged on those. *Repeated*: the same search again, decided from the "
        "cache (the release-everything node caches too).",
        "",
        _table(
            [
                "query",
                "hits",
                "gRPC release-all p50 ms",
                "gRPC sanctuary p50 ms",
                "ratio",
                "repeated: ratio (ms vs ms)",
                "in-process release-all ms",
                "in-process sanctuary ms",
                "ratio",
                "extra µs per hit",
            ],
            rows,
        ),
        "",
    ]


def _person_section(person: PersonSearchResult) -> list[str]:
    out = [
        "## 3. Person search",
        "",
        f"**How.** One SQLite store with the three demo agencies' synthetic records "
        f"({person.records:,} records, {mib(person.store_bytes)} on disk), built through the "
        "node's own validation and store and cached under `bench/.cache`; the labelled queries "
        f"of `fieldgate.synthetic.generate_labelled_variants` ({person.labelled_queries:,}: "
        "every planted person and every person held by two or more agencies, by canonical "
        "name and date of birth, with every record that truly is them under whatever spelling, "
        "transposed date or alias). *Fuzzy*: `RecordStore.search(query, limit=100)`, the node's "
        "own candidate search. *Exact* (the limit): the same name and date of birth by one "
        "indexed `SELECT` on the same database, rows decoded into records the same way "
        f"(plan: {'; '.join(person.exact_plan)}). Each of {person.timed_queries} queries is "
        "timed after one warm-up (median of its repeats).",
        "",
        _table(
            ["", "p50 ms", "p90 ms", "p99 ms", "mean ms"],
            [
                [
                    "fuzzy (node's search)",
                    _f(person.fuzzy.p50),
                    _f(person.fuzzy.p90),
                    _f(person.fuzzy.p99),
                    _f(person.fuzzy.mean),
                ],
                [
                    "exact indexed lookup",
                    _f(person.exact.p50, 3),
                    _f(person.exact.p90, 3),
                    _f(person.exact.p99, 3),
                    _f(person.exact.mean, 3),
                ],
                [
                    "ratio",
                    f"×{person.ratio:.1f}",
                    "",
                    "",
                    f"×{person.fuzzy.mean / person.exact.mean:.1f}",
                ],
            ],
        ),
        "",
        f"Median per-query ratio ×{person.per_query_ratio_p50:.1f}. Candidates the fuzzy "
        f"search reads and scores per query: p50 {_f(person.candidates_p50, 0)}, p99 "
        f"{_f(person.candidates_p99, 0)}.",
        "",
        f"**Recall** over {person.recall_queries:,} labelled queries: "
        f"{person.recall:.4f} in the top {RECALL_AT} ({person.recall_found:,} of "
        f"{person.recall_expected:,} labelled records), "
        f"{person.recall_found_100 / max(person.recall_expected, 1):.4f} in the top 100; "
        f"{person.queries_complete:,} queries found every record of their person.",
        "",
    ]
    if person.misses:
        out += [
            "Some labelled records not found in the top 25:",
            "",
            _table(
                ["query", "record", "held as", "rank in top 100"],
                [
                    [m["query"], m["record_id"], m["held_as"], str(m["rank"] or "—")]
                    for m in person.misses
                ],
            ),
            "",
        ]
    return out


def _policy_section(policy: PolicyResult, plots: dict[str, Path]) -> list[str]:
    bare = policy.path("bare")
    rows = [
        [
            p.name,
            p.what,
            _f(p.wall_us, 0),
            _f(p.cpu_us, 0),
            _f(p.hits_per_core_second, 0),
            f"×{p.cpu_us / bare.cpu_us:.2f}",
        ]
        for p in policy.paths
    ]
    rule_rows = [[r.name, r.what, _f(r.wall_us, 0), _f(r.cpu_us, 0)] for r in policy.rules]
    out = [
        "## 5. Policy evaluation",
        "",
        f"**How.** {policy.records} hit records of the common-name search (several kinds, as "
        "found), their input documents built as `AgencyNode.decide` builds them, evaluated "
        "one hit at a time in this process. The limit is one bare evaluation of the same rule "
        "(`data.fieldgate.contracts.sanctuary_county.decision`) on a `regorus.Engine` with the "
        "same modules and data, called directly. Hits per second per core = hits / process "
        "CPU time (all threads).",
        "",
        _table(
            ["series", "what", "µs per hit (wall)", "µs CPU per hit", "hits/s/core", "CPU ÷ bare"],
            rows,
        ),
        "",
        "Bare cost of the sanctuary contract's rules (one `eval_rule` each, same inputs):",
        "",
        _table(["rule", "query", "µs per evaluation (wall)", "µs CPU"], rule_rows),
        "",
    ]
    if "policy" in plots:
        out += [f"![policy]({_rel(plots['policy'])})", ""]
    return out


def _footprint_section(fanout: FanoutResult | None, person: PersonSearchResult | None) -> list[str]:
    rows: list[list[str]] = []
    if fanout is not None and fanout.memory is not None:
        m = fanout.memory
        total = m.total_rss()
        rows.append(
            [
                "broker process",
                mib(m.broker.rss if m.broker else None),
                mib(m.broker.pss if m.broker else None),
            ]
        )
        for i, w in enumerate(m.workers):
            before = m.workers_before_echo_rss[i] if i < len(m.workers_before_echo_rss) else None
            rows.append(
                [
                    f"node worker {i} (nodes + echo servers; RSS before echo {mib(before)})",
                    mib(w.rss if w else None),
                    mib(w.pss if w else None),
                ]
            )
        rows.append(
            [f"**broker + {m.nodes} nodes**", f"**{mib(total)}**", f"**{mib(m.total_pss())}**"]
        )
        if total is not None:
            rows.append(["per node", mib(total / m.nodes), ""])
    if person is not None:
        rows.append(
            [
                f"one node serving {person.records:,} records (after "
                f"{person.node_latency.n if person.node_latency else 0} searches, p50 "
                f"{_f(person.node_latency.p50 if person.node_latency else math.nan)} ms)",
                mib(person.node_memory.rss if person.node_memory else None),
                mib(person.node_memory.pss if person.node_memory else None),
            ]
        )
        rows.append(
            [f"its store on disk ({person.records:,} records)", mib(person.node_disk_bytes), ""]
        )
    if not rows:
        return []
    return [
        "## 6. Footprint",
        "",
        "**How.** Resident memory from `/proc/PID/status` (RSS) and `/proc/PID/smaps_rollup` "
        "(PSS: shared pages divided among the processes sharing them), read after the "
        "fan-out at the largest N had run; disk is the store file with its WAL.",
        "",
        _table(["what", "RSS", "PSS"], rows),
        "",
    ]


def _rel(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(path)
