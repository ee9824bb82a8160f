"""What the node's per-search readiness check costs (issue 16 item 5).

Before each search a node asks itself whether it can decide at all
(:func:`fieldgate.node.readiness.not_answering_reason`: its contract, the age
of its trust files, its audit log). This times that check on a node with a
trust bundle, many times, and prints the median and p99 in microseconds as
JSON: ``python -m bench.readiness_cost [--calls 20000]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path

from fieldgate.devkit.demo import CONTRACT_OF
from fieldgate.devkit.dev_trust import DevTrust
from fieldgate.devkit.local_federation import NodeSpec, import_records, start_federation
from fieldgate.devkit.synthetic import DEMO_AGENCIES, generate_agency_records, write_jsonl
from fieldgate.node.readiness import not_answering_reason
from fieldgate.policy.shipped import shipped_contract


async def measure(calls: int) -> dict[str, float]:
    """Median and p99 (µs) of ``calls`` readiness checks on a trusting demo node."""
    with tempfile.TemporaryDirectory() as directory:
        work = Path(directory)
        kit = DevTrust(work / "trust")
        kit.add_issuer("bellevue-pd", "local_law_enforcement")
        kit.write()
        agency = DEMO_AGENCIES[0]
        records = work / f"{agency.node_id}.jsonl"
        write_jsonl(generate_agency_records(agency, count=300, seed=1), records)
        spec = NodeSpec(
            agency.node_id, agency.name, shipped_contract(CONTRACT_OF[agency.node_id]), records
        )
        import_records(spec, work)
        federation = await start_federation([spec], work, trust=kit.config())
        try:
            running = federation.nodes[agency.node_id]
            assert running.gate.verifier is not None
            trust = running.gate.verifier.trust
            samples = []
            for _ in range(calls):
                started = time.perf_counter_ns()
                reason = not_answering_reason(running.node, trust)
                samples.append(time.perf_counter_ns() - started)
                assert reason == ""
        finally:
            await federation.stop()
    samples.sort()
    return {
        "calls": calls,
        "median_us": round(samples[len(samples) // 2] / 1000, 1),
        "p99_us": round(samples[int(len(samples) * 0.99)] / 1000, 1),
    }


def main() -> None:
    """Run the measurement and print it as JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=20000)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(measure(args.calls))))


if __name__ == "__main__":
    main()
