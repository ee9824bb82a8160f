"""Time the demo's search per persona through a real broker (in-process servers, loopback).

Usage: ``.venv/bin/python scripts/measure_demo.py [SEARCHES]`` (default 100 per persona).
The benchmark suite (``make bench``) is the place for targets; this is a quick
check of what an investigator waits for on the demo federation.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import statistics
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console

from fieldgate.client.broker_client import AsyncSearchClient
from fieldgate.devkit.demo import demo_personas, prepare_nodes
from fieldgate.devkit.local_federation import start_federation
from fieldgate.devkit.synthetic import DEMO_SUBJECT


async def main(searches: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        specs = prepare_nodes(Path(tmp), 3000, 2026, Console(quiet=True))
        federation = await start_federation(specs, Path(tmp))
        client = AsyncSearchClient(federation.broker_address)
        try:
            for persona in demo_personas(dt.date.today()):
                times = []
                for _ in range(searches):
                    started = time.perf_counter()
                    await client.search(
                        persona.requester,
                        surname=DEMO_SUBJECT.surname,
                        given_name=DEMO_SUBJECT.given_name,
                        dob=DEMO_SUBJECT.dob,
                    )
                    times.append((time.perf_counter() - started) * 1000)
                times.sort()
                name = persona.label.split("\n")[0]
                p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
                print(f"{name}: p50 {statistics.median(times):.1f} ms, p99 {p99:.1f} ms")
        finally:
            await client.close()
            await federation.stop()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 100))
