"""The audit log behind the node's disclosure seam, over real gRPC and real SQLite."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from fieldgate.client.broker_client import Requester, SearchClient
from fieldgate.devkit.demo import demo_personas
from fieldgate.devkit.local_federation import (
    LocalFederation,
    NodeSpec,
    import_records,
    node_config,
    start_federation,
)
from fieldgate.devkit.synthetic import (
    DEMO_AGENCIES,
    DEMO_SUBJECT,
    generate_agency_records,
    write_jsonl,
)
from fieldgate.node.audit.config import AuditConfig
from fieldgate.node.audit.reports import record_ids_for_person, subject_history
from fieldgate.node.audit.schema import AuditReader
from fieldgate.node.audit.verify import verify_log
from fieldgate.node.server import start_node
from fieldgate.policy.shipped import shipped_contract
from fieldgate.v2 import common_pb2, node_pb2
from tests.conftest import write_contract
from tests.helpers.federation import LoopThread, node_stub

PERSONAS = {p.label.split("\n")[0]: p.requester for p in demo_personas(dt.date.today())}
DETECTIVE = PERSONAS["Detective"]
SUBJECT_QUERY = common_pb2.PersonQuery(
    surname=DEMO_SUBJECT.surname, given_name=DEMO_SUBJECT.given_name, dob=DEMO_SUBJECT.dob
)
NOBODY_QUERY = common_pb2.PersonQuery(
    surname="QUIZZLEWICK", given_name="ZEBEDIAH", dob="1950-01-01"
)
CONFLICTING = """package fieldgate.contracts.conflicting
import rego.v1
decision := {"disclose": true, "release": {"surname"}, "mask": {}} if true
decision := {"disclose": true, "release": {"given_name"}, "mask": {}} if true
"""
FIELDGATE = str(Path(sys.executable).parent / "fieldgate")


def node_search(
    address: str, requester: Requester, query: common_pb2.PersonQuery, request_id: str
) -> node_pb2.NodeServiceSearchResponse:
    channel, stub = node_stub(address)
    with channel:
        return stub.Search(
            node_pb2.NodeServiceSearchRequest(
                request_id=request_id, requester=requester.to_message(), query=query
            ),
            timeout=10,
        )


def search_entries(path: Path) -> dict[str, dict[str, Any]]:
    """request id → data of its search entry."""
    with AuditReader(path) as reader:
        found = {}
        for row in reader.entries("search"):
            data = row.document()["data"]
            found[data["request_id"]] = data
        return found


@pytest.fixture(scope="module")
def records_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("audit-records") / "kcso.jsonl"
    write_jsonl(generate_agency_records(DEMO_AGENCIES[0], count=80, seed=21), path)
    return path


@pytest.fixture
def federation(
    loop: LoopThread, tmp_path: Path, records_file: Path
) -> Iterator[tuple[LocalFederation, Path]]:
    """A sanctuary-county node, a permissive one and a broken one, each with its real audit log."""
    specs = [
        NodeSpec("kcso", "King County", shipped_contract("sanctuary_county"), records_file),
        NodeSpec("pcso", "Pierce County", shipped_contract("permissive"), records_file),
        NodeSpec(
            "broken", "Broken County", write_contract(tmp_path, "c.rego", CONFLICTING), records_file
        ),
    ]
    for spec in specs:
        import_records(spec, tmp_path)
    running = loop.run(start_federation(specs, tmp_path, audit=True))
    yield running, tmp_path
    loop.run(running.stop())


def test_every_query_path_writes_one_entry_before_answering(
    federation: tuple[LocalFederation, Path],
) -> None:
    fed, workdir = federation
    kcso, broken = fed.nodes["kcso"].address, fed.nodes["broken"].address
    answers = {
        "hit": node_search(kcso, DETECTIVE, SUBJECT_QUERY, "path-hit"),
        "no_hit": node_search(kcso, DETECTIVE, NOBODY_QUERY, "path-nohit"),
        "denied": node_search(kcso, PERSONAS["Immigration officer"], SUBJECT_QUERY, "path-denied"),
        "policy_error": node_search(broken, DETECTIVE, SUBJECT_QUERY, "path-error"),
    }
    # Entries are on disk as soon as the answers are back: read them while the nodes run.
    kcso_entries = search_entries(workdir / "kcso.audit.sqlite")
    broken_entries = search_entries(workdir / "broken.audit.sqlite")
    expected = {
        "hit": kcso_entries["path-hit"],
        "no_hit": kcso_entries["path-nohit"],
        "denied": kcso_entries["path-denied"],
        "policy_error": broken_entries["path-error"],
    }
    for outcome, data in expected.items():
        assert data["outcome"] == outcome
        assert data["contract_version"] == (
            fed.nodes["kcso" if outcome != "policy_error" else "broken"].node.contract.version
        )
        assert len(data["query_digest"]) == 64
    assert not answers["denied"].hits
    assert not answers["no_hit"].hits
    assert not answers["policy_error"].hits
    assert expected["no_hit"]["records"] == []
    assert expected["denied"]["records"]
    assert not expected["denied"]["disclosed"]
    errors = {r["error"] for r in expected["policy_error"]["records"]}
    assert any("conflict" in e for e in errors)
    # The requester is logged in full, the warrant-less detective included.
    assert expected["hit"]["requester"]["subject"] == DETECTIVE.subject
    assert expected["hit"]["requester"]["purpose"] == DETECTIVE.purpose
    assert "credential_id" in expected["hit"]["requester"]
    # Per hit: exactly the fields that went out, with their masks; the rest withheld with reasons.
    hit_entry = expected["hit"]
    assert hit_entry["disclosed"] == [h.record_id for h in answers["hit"].hits]
    by_record = {r["record_id"]: r for r in hit_entry["records"]}
    for hit in answers["hit"].hits:
        fields = by_record[hit.record_id]["fields"]
        sent = {f["name"]: f["mask"] for f in fields if f["outcome"] != "withheld"}
        assert sent == {f.name: f.mask for f in hit.fields}
        assert all(f["reason"] for f in fields)
        assert {f["name"] for f in fields if f["outcome"] == "withheld"} >= {"citizenship"} & {
            f["name"] for f in fields
        }
    for node_id in ("kcso", "broken"):
        assert verify_log(workdir / f"{node_id}.audit.sqlite").ok


def test_the_broker_logs_each_search_and_the_nodes_it_asked(
    federation: tuple[LocalFederation, Path],
) -> None:
    fed, _ = federation
    with SearchClient(fed.broker_address) as client:
        result = client.search(
            DETECTIVE,
            surname=DEMO_SUBJECT.surname,
            given_name=DEMO_SUBJECT.given_name,
            dob=DEMO_SUBJECT.dob,
        )
    assert fed.broker.search_log is not None
    row = fed.broker.search_log.rows()[-1]
    assert row["request_id"] == result.request_id
    assert (row["subject"], row["purpose"]) == (DETECTIVE.subject, DETECTIVE.purpose)
    assert {n["node_id"] for n in row["nodes"]} == {"kcso", "pcso", "broken"}  # type: ignore[union-attr]
    hits = {a.node_id: len(a.hits) for a in result.agencies}
    assert {n["node_id"]: n["hits"] for n in row["nodes"]} == hits  # type: ignore[union-attr]


def test_subject_history_is_exactly_the_disclosures_made(
    federation: tuple[LocalFederation, Path],
) -> None:
    fed, workdir = federation
    made: set[tuple[str, str, str, str]] = set()
    subject_records = {r.record_id for r in DEMO_SUBJECT.records_at("kcso")}
    assert subject_records
    with SearchClient(fed.broker_address) as client:
        for requester in [*PERSONAS.values(), DETECTIVE]:
            result = client.search(
                requester,
                surname=DEMO_SUBJECT.surname,
                given_name=DEMO_SUBJECT.given_name,
                dob=DEMO_SUBJECT.dob,
            )
            for agency in result.agencies:
                if agency.node_id != "kcso":
                    continue
                for hit in agency.hits:
                    if hit.record_id in subject_records:
                        made.add(
                            (
                                result.request_id,
                                hit.record_id,
                                ",".join(n for n, v in hit.fields.items() if not v.mask),
                                ",".join(f"{n}({v.mask})" for n, v in hit.fields.items() if v.mask),
                            )
                        )
    assert made, "the searches disclosed the person's records"
    with AuditReader(workdir / "kcso.audit.sqlite") as reader:
        report = subject_history(reader, subject_records)
    reported = {(r["request_id"], r["record_id"], r["released"], r["masked"]) for r in report.rows}
    assert reported == made
    # The immigration officer got nothing, so nothing of theirs is in the history.
    assert "ice-ero-seattle" not in {r["agency"] for r in report.rows}


def test_name_and_birth_date_map_to_the_persons_records(records_file: Path, tmp_path: Path) -> None:
    spec = NodeSpec("kcso", "King County", None, records_file)
    import_records(spec, tmp_path)
    found = record_ids_for_person(
        tmp_path / "kcso.sqlite",
        DEMO_SUBJECT.surname,
        DEMO_SUBJECT.given_name,
        dt.date.fromisoformat(DEMO_SUBJECT.dob),
        min_score=None,
    )
    planted = {r.record_id for r in DEMO_SUBJECT.records_at("kcso")}
    assert found
    assert found <= planted
    fuzzy = record_ids_for_person(
        tmp_path / "kcso.sqlite",
        DEMO_SUBJECT.surname,
        DEMO_SUBJECT.given_name,
        dt.date.fromisoformat(DEMO_SUBJECT.dob),
        min_score=0.8,
    )
    assert found <= fuzzy


def test_a_locked_audit_log_refuses_every_search_and_releases_nothing(
    loop: LoopThread, tmp_path: Path, records_file: Path
) -> None:
    import sqlite3

    spec = NodeSpec("kcso", "King County", shipped_contract("permissive"), records_file)
    import_records(spec, tmp_path)
    audit = AuditConfig(
        database=tmp_path / "audit.sqlite", key=tmp_path / "key.pem", busy_timeout_seconds=0.1
    )
    config = dataclasses.replace(node_config(spec, tmp_path), audit=audit)
    running = loop.run(start_node(config))
    try:
        assert node_search(running.address, DETECTIVE, SUBJECT_QUERY, "before").hits
        blocker = sqlite3.connect(audit.database, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")  # another process holds the write lock
        try:
            codes = []
            for query in (SUBJECT_QUERY, NOBODY_QUERY):
                with pytest.raises(grpc.RpcError) as caught:
                    node_search(running.address, DETECTIVE, query, "locked")
                codes.append((caught.value.code(), caught.value.details()))
            assert codes[0] == codes[1]
            assert codes[0][0] == grpc.StatusCode.UNAVAILABLE
            assert running.audit is not None
            assert running.audit.write_failures == 2
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        assert node_search(running.address, DETECTIVE, SUBJECT_QUERY, "after").hits
    finally:
        loop.run(running.stop())
    entries = search_entries(audit.database)
    assert set(entries) == {"before", "after"}
    assert verify_log(audit.database).ok


def _node_toml(tmp_path: Path, records_file: Path) -> Path:
    spec = NodeSpec("pcso", "Pierce County", shipped_contract("permissive"), records_file)
    import_records(spec, tmp_path)
    config = node_config(spec, tmp_path)
    path = tmp_path / "pcso.toml"
    path.write_text(
        "\n".join(
            [
                "[node]",
                'id = "pcso"',
                'agency_name = "Pierce County"',
                'listen = "127.0.0.1:0"',
                f'database = "{config.database}"',
                f'contract = "{spec.contract}"',
                f'rego_library = "{config.rego_library}"',
                "insecure = true",
                "[node.audit]",
                "checkpoint_every = 100000",  # the tail is covered by the chain alone
                "checkpoint_seconds = 3600",
                "[node.contact]",
                'unit = "Records"',
                'phone = "253-555-0130"',
            ]
        )
    )
    return path


def _start(config: Path) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [FIELDGATE, "node", "serve", "--config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    assert "listening on" in line, line + (process.stderr.read() if process.stderr else "")
    return process, line.split("listening on ")[1].split()[0]


@pytest.mark.slow
def test_a_node_killed_while_answering_disclosed_nothing_without_an_entry(
    tmp_path: Path, records_file: Path
) -> None:
    config = _node_toml(tmp_path, records_file)
    process, address = _start(config)
    received: dict[str, list[str]] = {}
    lock = threading.Lock()
    enough = threading.Event()

    def hammer(worker: int) -> None:
        channel, stub = node_stub(address)
        with channel:
            for number in range(10_000):
                request_id = f"w{worker}-{number}"
                query = SUBJECT_QUERY if number % 3 else NOBODY_QUERY
                try:
                    answer = stub.Search(
                        node_pb2.NodeServiceSearchRequest(
                            request_id=request_id,
                            requester=DETECTIVE.to_message(),
                            query=query,
                        ),
                        timeout=10,
                    )
                except grpc.RpcError:
                    return  # the node is gone
                with lock:
                    received[request_id] = [h.record_id for h in answer.hits]
                    if len(received) >= 60:
                        enough.set()

    workers = [threading.Thread(target=hammer, args=(n,)) for n in range(4)]
    for worker in workers:
        worker.start()
    try:
        assert enough.wait(60)
        os.killpg(process.pid, signal.SIGKILL)  # mid-stream: searches are in flight
        process.communicate(timeout=10)
    finally:
        for worker in workers:
            worker.join(timeout=30)
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    with lock:
        answered = dict(received)
    # Restart: the node reopens its log and extends the same chain.
    restarted, address = _start(config)
    try:
        assert node_search(address, DETECTIVE, SUBJECT_QUERY, "after-restart").hits
    finally:
        os.killpg(restarted.pid, signal.SIGTERM)
        restarted.communicate(timeout=20)
    audit_db = tmp_path / "pcso.audit.sqlite"
    entries = search_entries(audit_db)
    assert any(h for h in answered.values())
    for request_id, hits in answered.items():
        assert request_id in entries, f"{request_id} was answered without an audit entry"
        assert entries[request_id]["disclosed"] == hits
    report = verify_log(audit_db)
    assert report.ok, report.problems
    assert report.uncovered == 0  # the graceful stop signed the head
