"""A node's public metrics reveal nothing about any person (issue 16, item 7).

Two real nodes, alike in everything — the same King County records, the
sanctuary county contract, the same config — each scraped over HTTP. The same
immigration officer searches one of them for the demo subject (held, and
withheld from them by the contract) and the other for a person nobody holds,
the same number of times, through real gRPC. The public ``/metrics`` texts —
what the federation's shared Prometheus, read by other agencies' operators,
scrapes — must be the same. The agency-only ports differ (matching records
were found, decided and withheld at one node only), which shows the test
compares something that could differ.

One family is left out of the comparison: the *times* of
``grpc_server_handling_seconds`` (its ``_sum`` and ``_bucket`` lines; its
``_count`` is compared). Hiding time is the answer floor's job
(node/answer_timing.py, measured in bench/ and tested statistically on its
own): every answer leaves a fixed time after its request, so held and absent
land in the same bucket, and the sum differs by scheduler jitter. On a
machine shared by many test runs an answer can overrun the floor, so
comparing buckets here would test the machine's load, not a person.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from fieldgate.devkit.demo import demo_personas
from fieldgate.devkit.local_federation import NodeSpec, import_records, start_federation
from fieldgate.devkit.synthetic import (
    DEMO_AGENCIES,
    DEMO_SUBJECT,
    generate_agency_records,
    write_jsonl,
)
from fieldgate.policy.shipped import shipped_contract
from fieldgate.v2 import common_pb2
from tests.helpers.federation import LoopThread, search_node
from tests.helpers.ops import parse, scrape, value

HELD = common_pb2.PersonQuery(
    surname=DEMO_SUBJECT.surname, given_name=DEMO_SUBJECT.given_name, dob=DEMO_SUBJECT.dob
)
ABSENT = common_pb2.PersonQuery(surname="QUIZZLEWICK", given_name="ZEBEDIAH", dob="1950-01-01")
SEARCHES = 5
TIMING = re.compile(r"^grpc_server_handling_seconds_(sum|bucket)\b")


def public_text(port: int) -> list[str]:
    """The scrape's sample lines, but for the handling times (see the module docstring)."""
    return [
        line
        for line in scrape(port).splitlines()
        if line and not line.startswith("#") and not TIMING.match(line)
    ]


def test_held_but_denied_and_absent_move_the_public_metrics_alike(
    loop: LoopThread, tmp_path: Path
) -> None:
    records = tmp_path / "kcso.jsonl"
    write_jsonl(generate_agency_records(DEMO_AGENCIES[0], count=40, seed=11), records)
    contract = shipped_contract("sanctuary_county")
    specs = [
        NodeSpec("held", "King County", contract, records),
        NodeSpec("absent", "King County", contract, records),
    ]
    for spec in specs:
        import_records(spec, tmp_path)
    federation = loop.run(start_federation(specs, tmp_path, ops=True, answer_floor_seconds=0.0))
    officer = next(
        p.requester.to_message()
        for p in demo_personas(dt.date.today())
        if p.label.startswith("Immigration officer")
    )
    try:
        held, absent = federation.nodes["held"], federation.nodes["absent"]
        assert held.metrics_port is not None
        assert absent.metrics_port is not None
        assert held.private_metrics_port is not None
        assert absent.private_metrics_port is not None
        before = public_text(held.metrics_port)
        assert before == public_text(absent.metrics_port), "the two nodes start alike"
        for _ in range(SEARCHES):
            assert not search_node(held.address, officer, HELD).hits
            assert not search_node(absent.address, officer, ABSENT).hits
        public = public_text(held.metrics_port), public_text(absent.metrics_port)
        private = (
            parse(scrape(held.private_metrics_port)),
            parse(scrape(absent.private_metrics_port)),
        )
    finally:
        loop.run(federation.stop())
    assert public[0] != before, "the searches moved the public series"
    assert public[0] == public[1]
    # Behind the agency's own port the held person shows: records found and withheld.
    assert value(private[0], "fieldgate_node_hits_total", outcome="withheld") > 0
    assert value(private[1], "fieldgate_node_hits_total", outcome="withheld") == 0
    assert value(private[0], "fieldgate_node_denied_queries_total") == SEARCHES
    assert value(private[1], "fieldgate_node_denied_queries_total") == 0
