"""What unique request ids and opaque references cost a node per search (issue 16).

Each search claims its request id in the node's register
(:class:`fieldgate.node.request_ids.RequestIdRegister`, SQLite WAL with
``synchronous = NORMAL``) and each disclosed hit gets an HMAC-SHA256 reference
(:func:`fieldgate.node.references.disclosure_reference`). This times both on
this machine, in process, and prints JSON::

    python -m bench.identifier_cost [--claims 2000] [--references 20000]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from fieldgate.core.digests import KEY_BYTES, PersonDigester
from fieldgate.node.references import disclosure_reference
from fieldgate.node.request_ids import RequestIdRegister


def _summary(seconds: list[float], unit: float) -> dict[str, float]:
    ordered = sorted(seconds)
    return {
        "median": round(statistics.median(ordered) * unit, 4),
        "p99": round(ordered[int(len(ordered) * 0.99)] * unit, 4),
    }


def measure(claims: int, references: int) -> dict[str, object]:
    """Time ``claims`` request-id claims and ``references`` references."""
    with tempfile.TemporaryDirectory() as directory:
        register = RequestIdRegister(Path(directory) / "ids.sqlite", "bench")
        claimed: list[float] = []
        for number in range(claims):
            started = time.perf_counter()
            register.claim(f"bench-{number:08d}")
            claimed.append(time.perf_counter() - started)
        register.close()
    digester = PersonDigester(b"\x01" * KEY_BYTES)
    made: list[float] = []
    for number in range(references):
        started = time.perf_counter()
        disclosure_reference(digester, "kcso", f"bench-{number:08d}", "KCSO-B-004417")
        made.append(time.perf_counter() - started)
    return {
        "claims": claims,
        "claim_ms": _summary(claimed, 1e3),
        "references": references,
        "reference_us": _summary(made, 1e6),
    }


def main() -> None:
    """Parse the arguments, measure, print JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--claims", type=int, default=2000)
    parser.add_argument("--references", type=int, default=20000)
    args = parser.parse_args()
    print(json.dumps(measure(args.claims, args.references), indent=2))


if __name__ == "__main__":
    main()
