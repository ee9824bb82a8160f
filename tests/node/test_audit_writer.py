"""A running node never adopts audit entries it did not write (real gRPC, real SQLite).

Someone with write access to the audit database but not the node's key
changes it between two searches, each way the issue names. The attacker
re-computes the chain hashes wherever that helps them. The next search must
be refused (UNAVAILABLE, nothing released), no checkpoint may be signed over
the change, the node turns NOT_SERVING, counts the detection, records the
halt beside its key, and refuses to start again until an operator acts.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import grpc
import pytest

from fieldgate.devkit.local_federation import NodeSpec, node_config
from fieldgate.node.audit.canonical import GENESIS, canonical_json, chain_hash
from fieldgate.node.audit.config import AuditConfig
from fieldgate.node.audit.entries import AUDIT_PURGED, SEARCH, envelope
from fieldgate.node.audit.initialise import initialise_log
from fieldgate.node.audit.keys import ensure_key
from fieldgate.node.audit.last_head import LastHead
from fieldgate.node.audit.schema import SCHEMA_STATEMENTS, AuditReader
from fieldgate.node.audit.verify import verify_log
from fieldgate.node.audit.writer_view import AuditTamperError
from fieldgate.node.config import NodeConfig
from fieldgate.node.disclosure_log import MemoryDisclosureLog
from fieldgate.node.errors import DisclosureLogError
from fieldgate.node.server import RunningNode, open_audit_log, start_node
from fieldgate.ops.endpoints import MaintenanceConfig
from tests.helpers.federation import LoopThread, search_node
from tests.helpers.ops import health
from tests.ops.test_ops_health import REQUESTER, spec_for

TAMPER_METRIC = "fieldgate_node_audit_tamper_detected_total"


@dataclass
class Node:
    running: RunningNode
    config: NodeConfig
    log: Path
    searches: int = 0

    def search(self) -> grpc.StatusCode:
        self.searches += 1
        try:
            search_node(self.running.address, REQUESTER, request_id=f"req-{self.searches}")
        except grpc.RpcError as exc:
            return exc.code()  # type: ignore[no-any-return]
        return grpc.StatusCode.OK


@pytest.fixture(scope="module")
def spec(tmp_path_factory: pytest.TempPathFactory) -> tuple[NodeSpec, Path]:
    directory = tmp_path_factory.mktemp("writer-records")
    return spec_for(directory, "permissive"), directory


def audited_config(spec: NodeSpec, records_dir: Path, workdir: Path) -> NodeConfig:
    config = node_config(spec, records_dir)
    shutil.copyfile(config.database, workdir / "node.sqlite")
    keys = workdir / "keys"  # the key and the last known head, apart from the log
    keys.mkdir(exist_ok=True)
    return replace(
        config,
        database=workdir / "node.sqlite",
        maintenance=MaintenanceConfig("127.0.0.1:0"),
        audit=AuditConfig(
            database=workdir / "log" / "kcso.audit.sqlite",
            key=keys / "kcso.audit-key.pem",
            checkpoint_every=1000,
            checkpoint_seconds=3600,
        ),
    )


@pytest.fixture
def node(loop: LoopThread, spec: tuple[NodeSpec, Path], tmp_path: Path) -> Iterator[Node]:
    (tmp_path / "log").mkdir()
    config = audited_config(*spec, tmp_path)
    assert config.audit is not None
    running = loop.run(start_node(config))
    started = Node(running, config, config.audit.database)
    # Three searches under a signed checkpoint, three waiting for the next one.
    for _ in range(3):
        assert started.search() == grpc.StatusCode.OK
    assert running.audit is not None
    running.audit.checkpoint()
    for _ in range(3):
        assert started.search() == grpc.StatusCode.OK
    yield started
    loop.run(running.stop())


# -- the attacker: SQL on the file, triggers dropped, hashes re-chained --------


def attack(path: Path, change: Callable[[sqlite3.Connection], None]) -> None:
    db = sqlite3.connect(path, isolation_level=None)
    triggers = [s for s in SCHEMA_STATEMENTS if s.startswith("CREATE TRIGGER")]
    db.execute("BEGIN IMMEDIATE")
    for statement in triggers:
        db.execute(f"DROP TRIGGER {statement.split()[2]}")
    change(db)
    for statement in triggers:
        db.execute(statement)
    db.execute("COMMIT")
    db.close()


def rechain(db: sqlite3.Connection, start: int) -> None:
    """Recompute seq fields and hashes from ``start`` on, as a careful attacker would."""
    row = db.execute("SELECT hash FROM entries WHERE seq = ?", (start - 1,)).fetchone()
    previous = row[0] if row else GENESIS
    rows = db.execute("SELECT seq, body FROM entries WHERE seq >= ? ORDER BY seq", (start,))
    for seq, body in list(rows):
        document = {**json.loads(body), "seq": seq}
        text = canonical_json(document)
        digest = chain_hash(previous, text)
        db.execute(
            "UPDATE entries SET body = ?, prev_hash = ?, hash = ? WHERE seq = ?",
            (text, previous, digest, seq),
        )
        previous = digest


def forged(db: sqlite3.Connection, kind: str, data: dict[str, object]) -> None:
    seq, previous = db.execute("SELECT seq, hash FROM entries ORDER BY seq DESC").fetchone()
    document = envelope(seq + 1, kind, "kcso", dt.datetime.now(dt.UTC), data)
    text = canonical_json(document)
    db.execute(
        "INSERT INTO entries VALUES (?, ?, ?, ?, ?, ?)",
        (seq + 1, document["time"], kind, text, previous, chain_hash(previous, text)),
    )


def insert(path: Path) -> None:
    attack(path, lambda db: forged(db, SEARCH, {"request_id": "never-asked", "outcome": "no_hit"}))


def update(path: Path) -> None:
    def change(db: sqlite3.Connection) -> None:
        body = json.loads(db.execute("SELECT body FROM entries WHERE seq = 5").fetchone()[0])
        body["data"]["request_id"] = "someone-else"
        db.execute("UPDATE entries SET body = ? WHERE seq = 5", (canonical_json(body),))
        rechain(db, 5)

    attack(path, change)


def delete(path: Path) -> None:
    def change(db: sqlite3.Connection) -> None:
        db.execute("DELETE FROM entries WHERE seq = 5")
        db.execute("UPDATE entries SET seq = 5 WHERE seq = 6")
        rechain(db, 5)

    attack(path, change)


def reorder(path: Path) -> None:
    def change(db: sqlite3.Connection) -> None:
        four, five = (db.execute("SELECT body FROM entries WHERE seq = ?", (s,)).fetchone()[0]
                      for s in (4, 5))  # fmt: skip
        db.execute("UPDATE entries SET body = ? WHERE seq = 4", (five,))
        db.execute("UPDATE entries SET body = ? WHERE seq = 5", (four,))
        rechain(db, 4)

    attack(path, change)


def truncate(path: Path) -> None:
    attack(path, lambda db: db.execute("DELETE FROM entries WHERE seq > 4"))


def replace_file(path: Path) -> None:
    # Even an identical copy is another file: what the node wrote may differ next time.
    copy = path.with_name("copy.sqlite")
    source = sqlite3.connect(path)
    target = sqlite3.connect(copy)
    source.backup(target)
    source.close()
    target.close()
    os.replace(copy, path)


def delete_file(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)


def forged_purge(path: Path) -> None:
    def change(db: sqlite3.Connection) -> None:
        cut_hash = db.execute("SELECT hash FROM entries WHERE seq = 2").fetchone()[0]
        forged(db, AUDIT_PURGED, {"cutoff": "2026-01-01T00:00:00+00:00", "first_removed": 1,
                                  "cut_seq": 2, "cut_hash": cut_hash, "removed": 2})  # fmt: skip
        db.execute("INSERT OR REPLACE INTO audit_meta VALUES ('purge_below', '3')")
        db.execute("DELETE FROM entries WHERE seq <= 2")

    attack(path, change)


def delete_covered(path: Path) -> None:
    """An entry already under a checkpoint, removed with the rest re-numbered and re-chained."""

    def change(db: sqlite3.Connection) -> None:
        db.execute("DELETE FROM entries WHERE seq = 2")
        for seq in range(3, 7):
            db.execute("UPDATE entries SET seq = ? WHERE seq = ?", (seq - 1, seq))
        rechain(db, 2)

    attack(path, change)


ATTACKS = {
    "insert": insert,
    "update": update,
    "delete": delete,
    "reorder": reorder,
    "truncate": truncate,
    "replace the file": replace_file,
    "delete the file": delete_file,
    "forged purge": forged_purge,
    "delete a checkpointed entry": delete_covered,
}


@pytest.mark.parametrize("name", ATTACKS)
def test_a_second_writer_is_detected_before_the_next_checkpoint(
    loop: LoopThread, node: Node, name: str
) -> None:
    running = node.running
    assert running.audit is not None
    assert running.maintenance_port is not None
    registry = running.node.metrics.registry
    assert registry.get_sample_value(TAMPER_METRIC) == 0
    ATTACKS[name](node.log)

    assert node.search() == grpc.StatusCode.UNAVAILABLE
    assert running.audit.halted
    assert registry.get_sample_value(TAMPER_METRIC) == 1
    assert health(running.maintenance_port) == "NOT_SERVING"
    # Nothing more is signed, and nothing is released, whatever happens next.
    with pytest.raises(AuditTamperError):
        running.audit.checkpoint()
    assert node.search() == grpc.StatusCode.UNAVAILABLE
    assert registry.get_sample_value(TAMPER_METRIC) == 1
    if node.log.exists():
        with AuditReader(node.log) as reader:
            assert len(reader.checkpoints()) == 1
    # The halt is kept beside the key: a restart does not clear it.
    assert node.config.audit is not None
    known = LastHead(node.config.audit.last_head_path).read()
    assert known is not None
    assert known.halted
    loop.run(running.stop())
    with pytest.raises(DisclosureLogError, match=r"halted|tamper"):
        loop.run(start_node(node.config))
    node.running = loop.run(start_node(node.config, MemoryDisclosureLog()))


def test_the_key_holders_maintenance_beside_the_node_is_adopted(node: Node) -> None:
    # fieldgate node purge: a second process with the key, checkpointing what it writes.
    maintenance = open_audit_log(node.config, maintenance=True)
    try:
        maintenance.append("records_purged", {"status": "disposing", "records": []},
                           checkpoint=True)  # fmt: skip
    finally:
        maintenance.close()
    assert node.search() == grpc.StatusCode.OK
    assert node.running.audit is not None
    assert not node.running.audit.halted
    node.running.audit.checkpoint()
    assert verify_log(node.log).ok


def test_a_missing_log_is_refused_at_start(loop: LoopThread, node: Node) -> None:
    loop.run(node.running.stop())
    delete_file(node.log)
    with pytest.raises(DisclosureLogError, match=r"missing or empty.*audit-init"):
        loop.run(start_node(node.config))
    assert not node.log.exists()  # refused before anything was created
    node.running = loop.run(start_node(node.config, MemoryDisclosureLog()))


def test_a_log_rolled_back_to_an_older_copy_is_refused_at_start(
    loop: LoopThread, node: Node, tmp_path: Path
) -> None:
    backup = tmp_path / "backup.sqlite"
    source = sqlite3.connect(node.log)
    target = sqlite3.connect(backup)
    source.backup(target)
    source.close()
    target.close()
    assert node.running.audit is not None
    node.running.audit.checkpoint()  # checkpoint 2, newer than the copy
    loop.run(node.running.stop())
    delete_file(node.log)
    shutil.copyfile(backup, node.log)
    with pytest.raises(DisclosureLogError, match="rolled back"):
        loop.run(start_node(node.config))
    node.running = loop.run(start_node(node.config, MemoryDisclosureLog()))


def test_after_a_halt_an_operator_starts_a_new_log_and_the_log_says_why(
    loop: LoopThread, node: Node
) -> None:
    delete_covered(node.log)
    assert node.search() == grpc.StatusCode.UNAVAILABLE
    loop.run(node.running.stop())
    assert node.config.audit is not None
    audit = node.config.audit
    key = ensure_key(audit.key)
    common = {"node_id": "kcso", "key": key, "last_head": audit.last_head_path}
    # The changed log does not verify, so it cannot be adopted; nothing changes.
    with pytest.raises(DisclosureLogError, match="does not verify"):
        initialise_log(node.log, reason="INC-7", adopt=True, **common)  # type: ignore[arg-type]
    done = initialise_log(node.log, reason="INC-7", adopt=False, **common)  # type: ignore[arg-type]
    assert Path(done.set_aside).exists()  # the evidence is kept
    node.running = loop.run(start_node(node.config))
    assert node.search() == grpc.StatusCode.OK
    with AuditReader(node.log) as reader:
        first = next(reader.entries())
    data = first.document()["data"]
    assert first.kind == "audit_initialised"
    assert (data["mode"], data["reason"]) == ("new", "INC-7")
    assert "no longer matches checkpoint 1" in data["halted"]
    assert data["previous_head"]["checkpoint"] == 1
