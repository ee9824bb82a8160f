"""Witnesses: a real ``fieldgate witness serve`` process cosigns a running node's checkpoints,
and a rewrite of history by someone holding the node's key is caught by it.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import grpc
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from fieldgate.devkit.local_federation import NodeSpec
from fieldgate.node.audit.canonical import canonical_json
from fieldgate.node.audit.checkpoints import Checkpoint, checkpoint_from_body
from fieldgate.node.audit.keys import ensure_key
from fieldgate.node.audit.note import origin_of
from fieldgate.node.audit.schema import AuditReader
from fieldgate.node.audit.witnessing import WitnessConfig, WitnessPusher, witnessed_path
from fieldgate.node.disclosure_log import MemoryDisclosureLog
from fieldgate.node.server import open_audit_log, start_node
from tests.helpers.federation import LoopThread
from tests.node.test_audit_writer import Node, attack, audited_config, rechain

FIELDGATE = str(Path(sys.executable).parent / "fieldgate")


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([FIELDGATE, *args], capture_output=True, text=True, timeout=60,
                          check=False)  # fmt: skip


@pytest.fixture(scope="module")
def spec(tmp_path_factory: pytest.TempPathFactory) -> tuple[NodeSpec, Path]:
    from tests.ops.test_ops_health import spec_for

    directory = tmp_path_factory.mktemp("witness-records")
    return spec_for(directory, "permissive"), directory


@pytest.fixture
def witnessed(
    loop: LoopThread, spec: tuple[NodeSpec, Path], tmp_path: Path
) -> Iterator[tuple[Node, WitnessConfig, str]]:
    (tmp_path / "log").mkdir()
    config = audited_config(*spec, tmp_path)
    assert config.audit is not None
    open_audit_log(config).close()  # the log and its id exist before the witness is told
    follow = run("witness", "describe-log", "--db", str(config.audit.database))
    assert follow.returncode == 0, follow.stderr
    made = run("witness", "keygen", "--key", str(tmp_path / "witness.pem"))
    assert made.returncode == 0, made.stderr
    process = subprocess.Popen(
        [FIELDGATE, "witness", "serve", "--name", "county-auditor", "--key",
         str(tmp_path / "witness.pem"), "--state", str(tmp_path / "witness-state.json"),
         "--log", follow.stdout.strip(), "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        ready = json.loads(process.stdout.readline())
        auditor = WitnessConfig("county-auditor", ready["url"], ready["public_key"])
        config = replace(
            config,
            audit=replace(config.audit, checkpoint_every=2, witnesses=(auditor,), witness_quorum=1),
        )
        running = loop.run(start_node(config))
        node = Node(running, config, config.audit.database if config.audit else Path())
        yield node, auditor, follow.stdout.strip().rpartition("=")[0]
        loop.run(node.running.stop())
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()


def verify(node: Node, auditor: WitnessConfig) -> subprocess.CompletedProcess[str]:
    return run("audit", "verify", "--db", str(node.log), "--witnessed",
               str(witnessed_path(node.log)), "--witness",
               f"{auditor.name}={auditor.public_key}", "--json")  # fmt: skip


def test_each_checkpoint_is_cosigned_and_the_log_verifies_against_it(
    witnessed: tuple[Node, WitnessConfig, str],
) -> None:
    node, auditor, _ = witnessed
    for _ in range(6):
        assert node.search() == grpc.StatusCode.OK
    pusher = node.running.witnesses
    assert pusher is not None
    assert pusher.wait(6, timeout=20)
    assert pusher.last_quorum is True
    metric = "fieldgate_node_audit_witness_quorum_missing"
    assert node.running.node.metrics.registry.get_sample_value(metric) == 0
    done = verify(node, auditor)
    assert done.returncode == 0, done.stdout
    assert json.loads(done.stdout)["witnessed_checkpoints_checked"] >= 1


def rewrite_with_the_key(path: Path, key: Ed25519PrivateKey) -> None:
    """What a key holder can do: change entry 2, re-chain, and re-sign every checkpoint."""

    def change(db: sqlite3.Connection) -> None:
        body = json.loads(db.execute("SELECT body FROM entries WHERE seq = 2").fetchone()[0])
        body["data"]["request_id"] = "nobody-asked-this"
        db.execute("UPDATE entries SET body = ? WHERE seq = 2", (canonical_json(body),))
        rechain(db, 2)
        rows = db.execute("SELECT number, body FROM checkpoints ORDER BY number").fetchall()
        db.execute("DELETE FROM checkpoints")
        previous = ""
        for number, text in rows:
            old = checkpoint_from_body(json.loads(text), "")
            head = db.execute("SELECT hash FROM entries WHERE seq = ?", (old.seq,)).fetchone()[0]
            fresh = Checkpoint(number, old.seq, head, old.time, previous, old.node_id,
                               old.key_id).signed(key)  # fmt: skip
            db.execute("INSERT INTO checkpoints VALUES (?, ?, ?, ?)",
                       (number, old.seq, fresh.body_text(), fresh.signature))  # fmt: skip
            previous = fresh.digest()

    attack(path, change)


def test_a_key_holders_rewrite_is_caught_by_the_witness(
    loop: LoopThread, witnessed: tuple[Node, WitnessConfig, str]
) -> None:
    node, auditor, origin = witnessed
    for _ in range(6):
        assert node.search() == grpc.StatusCode.OK
    pusher = node.running.witnesses
    assert pusher is not None
    assert pusher.wait(6, timeout=20)
    loop.run(node.running.stop())
    assert node.config.audit is not None
    key = ensure_key(node.config.audit.key)
    rewrite_with_the_key(node.log, key)
    # The log alone, even checked against the node's own key, says intact...
    alone = run("audit", "verify", "--db", str(node.log), "--json")
    assert alone.returncode == 0, alone.stdout
    # ...but not against what the witness cosigned.
    caught = verify(node, auditor)
    assert caught.returncode == 1
    kinds = {p["kind"] for p in json.loads(caught.stdout)["problems"]}
    assert "rewritten" in kinds
    # And the witness refuses to cosign the rewritten history, however it is pushed.
    with AuditReader(node.log) as reader:
        size = max(row.seq for row in reader.entries())
    attacker = WitnessPusher(node.log, origin, key, [auditor], quorum=1, timeout_seconds=5)
    try:
        attacker.submit(size)
        assert attacker.wait(size, timeout=20)
        assert attacker.last_quorum is False
        # A shorter tree (a rollback) is refused too.
        shorter = WitnessPusher(node.log, origin, key, [auditor], quorum=1, timeout_seconds=5)
        try:
            shorter.submit(2)
            assert shorter.wait(2, timeout=20)
            assert shorter.last_quorum is False
        finally:
            shorter.close()
    finally:
        attacker.close()
    node.running = loop.run(start_node(node.config, MemoryDisclosureLog()))


def test_origin_names_the_node_and_the_log(witnessed: tuple[Node, WitnessConfig, str]) -> None:
    node, _, origin = witnessed
    assert node.running.audit is not None
    assert origin == origin_of("kcso", node.running.audit.log_id)
