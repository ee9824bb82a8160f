"""No log holds a digest a dictionary can reverse; the key's holder still finds a person.

A real broker (with its search log) and a real node (with its audit store)
answer one search. Both logs' person digests are HMAC-SHA256 under each
deployment's own key (a file beside, not inside, the log): not the unkeyed
SHA-256 a dictionary of names × dates of birth reverses, and exactly what an
auditor computes from the key file and the person.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from fieldgate.core.digests import (
    PersonDigester,
    canonical_query,
    default_digest_key_path,
    ensure_digest_key,
    load_digest_key,
)
from fieldgate.core.query import validate_query
from fieldgate.devkit.demo import demo_personas
from fieldgate.devkit.local_federation import LocalFederation, NodeSpec, start_federation
from fieldgate.node.audit.schema import AuditReader
from fieldgate.policy.shipped import shipped_contract
from fieldgate.v2 import broker_pb2, common_pb2
from tests.helpers.federation import LoopThread, broker_stub

QUERY = common_pb2.PersonQuery(surname="QUILLFEATHER", given_name="ZEBEDEE", dob="1961-07-13")


@pytest.fixture
def federation(loop: LoopThread, tmp_path: Path) -> Iterator[tuple[LocalFederation, Path]]:
    spec = NodeSpec("kcso", "King County", shipped_contract("sanctuary_county"))
    running = loop.run(start_federation([spec], tmp_path, audit=True))
    yield running, tmp_path
    loop.run(running.stop())


def test_logged_person_digests_are_keyed_and_found_with_the_key(
    federation: tuple[LocalFederation, Path],
) -> None:
    running, workdir = federation
    requester = demo_personas(dt.date.today())[0].requester.to_message()
    channel, stub = broker_stub(running.broker_address)
    with channel:
        answer = stub.Search(broker_pb2.SearchRequest(requester=requester, query=QUERY), timeout=10)
    validated = validate_query(QUERY)
    unkeyed = hashlib.sha256(canonical_query(validated).encode()).hexdigest()

    assert running.broker.search_log is not None
    (row,) = running.broker.search_log.rows()
    broker_key = load_digest_key(default_digest_key_path(workdir / "broker-searches.sqlite"))
    assert row["query_digest"] != unkeyed
    assert row["query_digest"] == broker_key.query(validated)

    with AuditReader(running.audit_store("kcso").path) as reader:
        (entry,) = [r.document()["data"] for r in reader.entries("search")]
    node_key = load_digest_key(default_digest_key_path(workdir / "kcso.sqlite"))
    assert entry["request_id"] == answer.request_id
    assert entry["query_digest"] != unkeyed
    assert entry["query_digest"] == node_key.query(validated)
    # Each deployment's own secret: the broker's digests join nothing at the node.
    assert entry["query_digest"] != row["query_digest"]


def test_the_key_file_is_private_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "d.key"
    first = ensure_digest_key(path)
    assert path.stat().st_mode & 0o077 == 0
    again = ensure_digest_key(path)
    assert first.digest("x") == again.digest("x")
    assert first.digest("x") != PersonDigester(b"k" * 32).digest("x")
