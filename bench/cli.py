"""``python -m bench``: run the suite, write BENCHMARKS.md, the plots and the results JSON."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import pickle
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.common import REPO_ROOT
from bench.contract_cost import ContractSettings, contract_store, run_contract
from bench.data import CACHE_DIR, ensure_cache_dir
from bench.fanout import FanoutSettings, run_fanout
from bench.person_search import SearchSettings, run_person_search
from bench.policy import PolicySettings, run_policy
from bench.report import Results, load_average, machine_info, render

SCENARIOS = ("contract", "policy", "fanout", "person")
"""Scenario groups in run order: fanout also measures throughput and the fleet's memory,
person also the node's memory and disk at scale."""

ANALYSIS = Path(__file__).resolve().parent / "analysis.md"
"""Hand-written causes of missed targets, with profiles; appended to a full run's report."""


@dataclass(frozen=True)
class Settings:
    """Sizes of one run."""

    fanout: FanoutSettings
    contract: ContractSettings
    policy: PolicySettings
    search: SearchSettings


def full_settings(node_procs: int) -> Settings:
    """The issue's sizes."""
    return Settings(
        fanout=FanoutSettings(
            node_counts=(1, 10, 50, 200, 500),
            rounds={1: 400, 10: 300, 50: 200, 200: 120, 500: 80},
            warmup_rounds=10,
            records_per_node=1_000,
            node_procs=node_procs,
            throughput_nodes=10,
            throughput_clients=32,
            throughput_seconds=10.0,
        ),
        contract=ContractSettings(records=20_000, grpc_rounds=300, inprocess_rounds=300),
        policy=PolicySettings(hits=4_000),
        search=SearchSettings(
            records=1_000_000,
            timing_queries=120,
            timing_repeats=1,
            recall_queries=400,
            node_searches=30,
        ),
    )


def smoke_settings(node_procs: int) -> Settings:
    """Every scenario at toy size: well under a minute on two cores."""
    return Settings(
        fanout=FanoutSettings(
            node_counts=(1, 10),
            rounds={1: 40, 10: 40},
            warmup_rounds=3,
            records_per_node=200,
            node_procs=node_procs,
            throughput_nodes=10,
            throughput_clients=32,
            throughput_seconds=1.5,
        ),
        contract=ContractSettings(records=2_000, grpc_rounds=40, inprocess_rounds=40),
        policy=PolicySettings(hits=300),
        search=SearchSettings(
            records=10_000,
            timing_queries=30,
            timing_repeats=1,
            recall_queries=0,
            node_searches=10,
        ),
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Fieldgate's benchmark suite (issue 7): every figure a ratio against a "
        "limit measured in the same run.",
    )
    parser.add_argument(
        "--smoke", action="store_true", help="every scenario at toy size (< 1 min); what CI runs"
    )
    parser.add_argument(
        "--out", type=Path, help="report file (default: BENCHMARKS.md; smoke: bench/.cache/smoke/)"
    )
    parser.add_argument(
        "--json",
        type=Path,
        dest="json_out",
        help="results JSON (default: bench/results.json; smoke: beside --out)",
    )
    parser.add_argument(
        "--plots", type=Path, help="directory of PNG plots (default: bench/plots; smoke: none)"
    )
    parser.add_argument("--no-plots", action="store_true", help="write no plots")
    parser.add_argument(
        "--only",
        default=",".join(SCENARIOS),
        help=f"comma-separated scenarios to run (of {', '.join(SCENARIOS)})",
    )
    parser.add_argument(
        "--node-procs",
        type=int,
        default=2,
        help="worker processes the fan-out nodes share (default 2)",
    )
    parser.add_argument(
        "--cache",
        type=Path,
        default=CACHE_DIR,
        help="where large stores are cached (default bench/.cache)",
    )
    parser.add_argument(
        "--workdir", type=Path, help="scratch directory (default: a temporary one, removed after)"
    )
    parser.add_argument(
        "--render-only",
        action="store_true",
        help="measure nothing: write the report, JSON and plots again from the "
        "last run of this mode (e.g. after editing bench/analysis.md)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the suite; 0 when it ran (missed targets are results, not failures)."""
    args = _parser().parse_args(argv)
    only = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = sorted(set(only) - set(SCENARIOS))
    if unknown:
        print(f"unknown scenario(s): {', '.join(unknown)}", file=sys.stderr)
        return 2
    mode = "smoke" if args.smoke else "full"
    settings = (smoke_settings if args.smoke else full_settings)(args.node_procs)
    cache = ensure_cache_dir(args.cache)
    out: Path = args.out or (
        cache / "smoke" / "BENCHMARKS.md" if args.smoke else REPO_ROOT / "BENCHMARKS.md"
    )
    json_out: Path = args.json_out or (
        out.with_name("results.json") if args.smoke else REPO_ROOT / "bench" / "results.json"
    )
    plots_dir: Path | None = None
    if not args.no_plots:
        plots_dir = args.plots or (None if args.smoke else REPO_ROOT / "bench" / "plots")
    command = "python -m bench" + (
        " " + " ".join(argv if argv is not None else sys.argv[1:])
        if (argv if argv is not None else sys.argv[1:])
        else ""
    )
    started_wall = time.monotonic()

    def log(message: str) -> None:
        elapsed = time.monotonic() - started_wall
        print(f"[bench {elapsed:7.1f}s] {message}", file=sys.stderr, flush=True)

    last_run = cache / f"last-{mode}.pickle"
    if args.render_only:
        if not last_run.exists():
            print(f"no earlier {mode} run to render ({last_run} is missing)", file=sys.stderr)
            return 2
        with last_run.open("rb") as handle:
            results: Results = pickle.load(handle)  # noqa: S301 - our own file
    else:
        results = Results(
            mode=mode,
            command=command.strip(),
            started=dt.datetime.now(dt.UTC),
            seconds=0.0,
            machine=machine_info(),
        )
        workdir = args.workdir or Path(tempfile.mkdtemp(prefix="fieldgate-bench-"))
        log(f"{mode} run, scratch in {workdir}")
        try:
            asyncio.run(_run(results, settings, only, cache, workdir, log))
        finally:
            if args.workdir is None:
                shutil.rmtree(workdir, ignore_errors=True)
        results.seconds = time.monotonic() - started_wall
        results.machine["load average at end"] = load_average()
        with last_run.open("wb") as saved:
            pickle.dump(results, saved)
    plots: dict[str, Path] = {}
    if plots_dir is not None:
        from bench.plots import write_plots

        try:
            plots = write_plots(results.fanout, results.policy, plots_dir)
        except ImportError:
            log("no plots: matplotlib is not installed (pip install -e '.[bench]')")
    analysis = None
    if not args.smoke and ANALYSIS.exists():
        analysis = ANALYSIS.read_text(encoding="utf-8")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render(results, plots, analysis), encoding="utf-8")
    json_out.parent.mkdir(parents=True, exist_ok=True)
    json_out.write_text(json.dumps(results.as_dict(), indent=2) + "\n", encoding="utf-8")
    log(f"wrote {out}, {json_out}" + (f" and {len(plots)} plots" if plots else ""))
    for target in results.targets():
        log(f"{target.status().strip('*'):>12}  {target.target}: {target.measured}")
    return 0


async def _run(
    results: Results,
    settings: Settings,
    only: list[str],
    cache: Path,
    workdir: Path,
    log: Callable[[str], None],
) -> None:
    store: Path | None = None
    if "contract" in only:
        results.contract = await run_contract(settings.contract, workdir, log)
        store = results.contract.store
    if "policy" in only:
        if store is None:
            store = contract_store(workdir, settings.contract.records)
        results.policy = await asyncio.to_thread(run_policy, settings.policy, store, workdir, log)
    if "fanout" in only:
        results.fanout = await run_fanout(settings.fanout, workdir, log)
    if "person" in only:
        results.person = await run_person_search(settings.search, cache, workdir, log)
