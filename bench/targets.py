"""The issue's targets, judged on one run's figures (what BENCHMARKS.md's table says)."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

from bench.common import mib
from bench.contract_cost import ContractResult
from bench.fanout import FanoutResult
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
