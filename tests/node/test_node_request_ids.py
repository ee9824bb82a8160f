"""Request ids are unique in each audit log: a replaying broker is refused by the node.

A real node with its real audit store, over real gRPC. The attacker is a
broker that sends a second search — the same one, or a different one — under
a request id the node already answered: the node refuses it with
ALREADY_EXISTS before looking at any record, writes no second audit entry
under that id, and still refuses after a restart, even when the register file
was lost (it is refilled from the audit log).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import grpc
import pytest

from fieldgate.devkit.demo import demo_personas
from fieldgate.devkit.local_federation import (
    LocalFederation,
    NodeSpec,
    import_records,
    start_federation,
)
from fieldgate.devkit.synthetic import (
    DEMO_AGENCIES,
    DEMO_SUBJECT,
    generate_agency_records,
    write_jsonl,
)
from fieldgate.node.audit.schema import AuditReader
from fieldgate.node.request_ids import default_request_ids_path
from fieldgate.policy.shipped import shipped_contract
from fieldgate.v2 import common_pb2
from tests.helpers.federation import LoopThread, search_node

SUBJECT = common_pb2.PersonQuery(
    surname=DEMO_SUBJECT.surname, given_name=DEMO_SUBJECT.given_name, dob=DEMO_SUBJECT.dob
)
OTHER = common_pb2.PersonQuery(surname="QUIZZLEWICK", given_name="ZEBEDIAH", dob="1950-01-01")


def _audited_ids(path: Path) -> list[str]:
    with AuditReader(path) as reader:
        return [row.document()["data"]["request_id"] for row in reader.entries("search")]


def test_a_replayed_request_id_is_refused_and_files_no_second_disclosure(
    loop: LoopThread, tmp_path: Path
) -> None:
    records = tmp_path / "kcso.jsonl"
    write_jsonl(generate_agency_records(DEMO_AGENCIES[0], count=30, seed=5), records)
    spec = NodeSpec("kcso", "King County", shipped_contract("sanctuary_county"), records)
    import_records(spec, tmp_path)
    detective = demo_personas(dt.date.today())[0].requester.to_message()

    started: list[LocalFederation] = []

    def start() -> tuple[str, Path]:
        federation = loop.run(
            start_federation([spec], tmp_path, audit=True, answer_floor_seconds=0.0)
        )
        started.append(federation)
        return federation.nodes["kcso"].address, federation.audit_store("kcso").path

    address, audit_path = start()
    try:
        first = search_node(address, detective, SUBJECT, request_id="replayed-1")
        assert first.hits, "the detective is shown the subject (the id then names a disclosure)"
        # The same search again, and a different search, under the same id.
        for query in (SUBJECT, OTHER):
            with pytest.raises(grpc.RpcError) as refused:
                search_node(address, detective, query, request_id="replayed-1")
            assert refused.value.code() == grpc.StatusCode.ALREADY_EXISTS
            assert "replayed-1" in (refused.value.details() or "")
        # A new id is answered as before.
        again = search_node(address, detective, SUBJECT, request_id="replayed-2")
        assert len(again.hits) == len(first.hits)
        loop.run(started.pop().stop())
        assert _audited_ids(audit_path).count("replayed-1") == 1

        # Across a restart, and with the register file lost: refilled from the audit log.
        default_request_ids_path(tmp_path / "kcso.sqlite").unlink()
        address, audit_path = start()
        for request_id in ("replayed-1", "replayed-2"):
            with pytest.raises(grpc.RpcError) as refused:
                search_node(address, detective, SUBJECT, request_id=request_id)
            assert refused.value.code() == grpc.StatusCode.ALREADY_EXISTS
        loop.run(started.pop().stop())
        ids = _audited_ids(audit_path)
        assert ids.count("replayed-1") == 1
        assert ids.count("replayed-2") == 1
    finally:
        for federation in started:
            loop.run(federation.stop())
