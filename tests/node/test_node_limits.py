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

import grpc
import pytest

from fieldgate.broker.config import BrokerConfig, NodeEntry
from fieldgate.broker.limits import LimitsConfig
from fieldgate.broker.server import start_broker
from fieldgate.core.claims import RequesterClaims, validate_requester
from fieldgate.core.digests import PersonDigester
from fieldgate.core.query import validate_query
from fieldgate.devkit.demo import demo_personas
from fieldgate.devkit.local_federation import NodeSpec, import_records, start_federation
from fieldgate.devkit.synthetic import DEMO_AGENCIES, generate_agency_records, write_jsonl
from fieldgate.node.audit.schema import AuditReader
from fieldgate.node.limits import NodeLimitExceeded, NodeLimits, NodeLimitsConfig
from fieldgate.policy.shipped import shipped_contract
from fieldgate.v2 import broker_pb2, common_pb2, node_pb2
from tests.helpers.federation import LoopThread, broker_stub, search_node

LIMITS = NodeLimitsConfig(sweep_max_persons=4, poll_max_repeats=3)
TODAY = dt.date.today()


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


SPELLINGS = (
    common_pb2.PersonQuery(surname="HERNANDEZ", given_name="MIGUEL", dob="1986-03-07"),
    common_pb2.PersonQuery(surname="HERNANDES", given_name="MIGEL", dob="1986-07-03"),
    common_pb2.PersonQuery(
        identifiers=[common_pb2.Identifier(kind="state_id", value="WA21857340")]
    ),
    common_pb2.PersonQuery(
        identifiers=[common_pb2.Identifier(kind="booking_number", value="K26004417")]
    ),
)
"""Four spellings of the demo subject, each a different person to the query-keyed count."""

ABSENT = tuple(
    common_pb2.PersonQuery(surname=surname, given_name=given, dob=dob)
    for surname, given, dob in (
        ("QUIZZLEWICK", "ZEBEDIAH", "1950-01-01"),
        ("QUIZZELWICK", "ZEBEDIA", "1950-01-01"),
        ("QUIZZLEWICK", "ZEBEDIAH", "1950-01-01"),
        ("QUIZZLEWICK", "ZEBEDIAH", "1950-01-01"),
    )
)


def _release_date(answer: node_pb2.NodeServiceSearchResponse) -> str:
    for hit in answer.hits:
        for released in hit.fields:
            if released.name == "release_date":
                return str(released.value.string_value)
    return ""


def test_reading_one_release_date_under_new_spellings_is_refused_at_n_plus_1(
    loop: LoopThread, tmp_path: Path
) -> None:
    """Polling is keyed on the record disclosed, so re-spelling does not reset it.

    The same spellings by an immigration officer, to whom the sanctuary
    contract withholds the subject, are all answered exactly as an absent
    person's are: withheld records are never counted, so when refusals start
    tells nobody whether the node holds a person.
    """
    records = tmp_path / "kcso.jsonl"
    write_jsonl(generate_agency_records(DEMO_AGENCIES[0], count=30, seed=5), records)
    # The same King County records under the permissive contract (which shows the
    # detective the release date) and under the sanctuary contract (which
    # withholds the subject from the immigration officer).
    specs = [
        NodeSpec("open", "Open County", shipped_contract("permissive"), records),
        NodeSpec("kcso", "King County", shipped_contract("sanctuary_county"), records),
    ]
    for spec in specs:
        import_records(spec, tmp_path)
    federation = loop.run(
        start_federation(
            specs,
            tmp_path,
            node_limits=NodeLimitsConfig(poll_max_repeats=3),
            answer_floor_seconds=0.0,
            audit=True,
        )
    )
    address, sanctuary = federation.nodes["open"].address, federation.nodes["kcso"].address
    personas = {p.label.split("\n")[0]: p.requester.to_message() for p in demo_personas(TODAY)}
    detective, officer = personas["Detective"], personas["Immigration officer"]
    try:
        read = [_release_date(search_node(address, detective, q)) for q in SPELLINGS[:3]]
        with pytest.raises(grpc.RpcError) as refused:
            search_node(address, detective, SPELLINGS[3])
        denied = [search_node(sanctuary, officer, q) for q in SPELLINGS]
        absent = [search_node(sanctuary, officer, q) for q in ABSENT]
        polling = federation.nodes["open"].node.metrics.limit_refusals.labels("polling")
        refusals = polling._value.get()
        with AuditReader(federation.audit_store("open").path) as reader:
            versions = [r.document()["data"]["contract_version"] for r in reader.entries("search")]
        # Nothing about the withheld subject was counted against the officer.
        kcso = federation.nodes["kcso"].node.metrics.limit_refusals.labels("polling")
        officer_refusals = kcso._value.get()
    finally:
        loop.run(federation.stop())
    # Three reads of the same release date under three spellings; the fourth refused.
    assert read == ["2026-12-18"] * 3
    assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "polling" in (refused.value.details() or "")
    assert refusals == 1
    assert versions.count("refused:polling") == 1
    # Held-but-denied: every spelling answered, byte for byte the absent answer.
    assert officer_refusals == 0
    assert all(not a.hits for a in denied)
    stripped = {_without_id(a) for a in denied + absent}
    assert len(stripped) == 1, "held-but-denied answers differ from absent ones"


def _without_id(answer: node_pb2.NodeServiceSearchResponse) -> bytes:
    """The answer's bytes but for its request id (each search has its own)."""
    copy = node_pb2.NodeServiceSearchResponse()
    copy.CopyFrom(answer)
    copy.request_id = ""
    return copy.SerializeToString(deterministic=True)
