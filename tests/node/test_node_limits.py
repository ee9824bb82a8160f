"""The owner enforces the limits: a sweep through two brokers is stopped by the node.

Two real brokers, their own limits off (as if each were a replica with
per-process counters), in front of one real node with its own limits. A
requester spreading a sweep over both brokers — and re-spelling names to dodge
the polling limit — is refused by the node with RESOURCE_EXHAUSTED; each
refusal is audited and counted, and the limits survive a node restart (the
history is a SQLite file beside the store).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from fieldgate.broker.config import BrokerConfig, NodeEntry
from fieldgate.broker.limits import LimitsConfig
from fieldgate.broker.server import start_broker
from fieldgate.core.claims import RequesterClaims, validate_requester
from fieldgate.core.digests import PersonDigester
from fieldgate.core.query import validate_query
from fieldgate.devkit.demo import demo_personas
from fieldgate.devkit.local_federation import NodeSpec, start_federation
from fieldgate.node.audit.schema import AuditReader
from fieldgate.node.limits import NodeLimitExceeded, NodeLimits, NodeLimitsConfig
from fieldgate.policy.shipped import shipped_contract
from fieldgate.v2 import broker_pb2, common_pb2
from tests.helpers.federation import LoopThread, broker_stub

LIMITS = NodeLimitsConfig(sweep_max_persons=4, poll_max_repeats=3)


def person(number: int) -> common_pb2.PersonQuery:
    return common_pb2.PersonQuery(
        surname=f"SWEEPSON{chr(65 + number)}", given_name="ALEX", dob=f"19{60 + number}-01-01"
    )


def test_a_sweep_through_two_brokers_is_stopped_by_the_node(
    loop: LoopThread, tmp_path: Path
) -> None:
    spec = NodeSpec("kcso", "King County", shipped_contract("sanctuary_county"))
    federation = loop.run(
        start_federation(
            [spec],
            tmp_path,
            audit=True,
            limits=LimitsConfig(enabled=False),
            node_limits=LIMITS,
            answer_floor_seconds=0.0,
        )
    )
    node = federation.nodes["kcso"]
    second = loop.run(
        start_broker(
            BrokerConfig(
                listen="127.0.0.1:0",
                nodes=(NodeEntry("kcso", "King County", node.address),),
                insecure=True,
                search_log=None,
                limits=LimitsConfig(enabled=False),
            )
        )
    )
    requester = demo_personas(dt.date.today())[0].requester.to_message()
    statuses: list[int] = []
    try:
        for number in range(6):
            address = (federation.broker_address, second.address)[number % 2]
            channel, stub = broker_stub(address)
            with channel:
                answer = stub.Search(
                    broker_pb2.SearchRequest(requester=requester, query=person(number)),
                    timeout=10,
                )
            statuses.append(answer.results[0].status)
        refused = node.node.metrics.limit_refusals.labels("sweep")._value.get()
        with AuditReader(federation.audit_store("kcso").path) as reader:
            versions = [r.document()["data"]["contract_version"] for r in reader.entries("search")]
    finally:
        loop.run(second.stop())
        loop.run(federation.stop())
    # Four persons answered, through either broker; the fifth and sixth refused by the node.
    answered = broker_pb2.NODE_STATUS_ANSWERED
    assert statuses[:4] == [answered] * 4
    assert all(s != answered for s in statuses[4:]), statuses
    assert refused == 2
    assert versions.count("refused:sweep") == 2


def _as_claims(message: common_pb2.Requester) -> RequesterClaims:
    return validate_requester(message)


def test_polling_under_any_spelling_is_refused_and_survives_a_restart(tmp_path: Path) -> None:
    digester = PersonDigester(b"k" * 32)
    claims = _as_claims(demo_personas(dt.date.today())[0].requester.to_message())
    spellings = ["HERNANDEZ", "HERNANDES", "HERNANDEZ"]
    limits = NodeLimits(tmp_path / "l.sqlite", LIMITS, digester)
    for surname in spellings:
        limits.admit(claims, validate_query(_q(surname)))
    limits.close()
    restarted = NodeLimits(tmp_path / "l.sqlite", LIMITS, digester)
    with pytest.raises(NodeLimitExceeded) as refused:
        restarted.admit(claims, validate_query(_q("HERNANDEZ")))
    assert refused.value.reason == "polling"
    # Someone else is not affected.
    other = _as_claims(demo_personas(dt.date.today())[1].requester.to_message())
    restarted.admit(other, validate_query(_q("HERNANDEZ")))
    restarted.close()


def _q(surname: str) -> common_pb2.PersonQuery:
    return common_pb2.PersonQuery(surname=surname, given_name="MIGUEL", dob="1986-03-07")
