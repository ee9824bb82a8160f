"""Witnessing across a retention purge: a real witness process keeps cosigning after the oldest
entries are deleted, ``audit verify --witnessed`` still checks the log against it, and a purge
record whose kept tree was forged by a key holder is caught.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from pathlib import Path

import grpc

from fieldgate.node.audit.canonical import canonical_json
from fieldgate.node.audit.checkpoints import Checkpoint, checkpoint_from_body
from fieldgate.node.audit.keys import ensure_key
from fieldgate.node.audit.merkle import CompactRange, leaf_hash
from fieldgate.node.audit.schema import AuditReader
from fieldgate.node.audit.tree import LogTree, tree_record
from fieldgate.node.audit.witnessing import WitnessConfig, WitnessPusher, witnessed_path
from fieldgate.node.disclosure_log import MemoryDisclosureLog
from fieldgate.node.server import start_node
from tests.helpers.federation import LoopThread
from tests.node.test_audit_witness import run, spec, verify, witnessed
from tests.node.test_audit_writer import Node, attack, rechain

__all__ = ["spec", "witnessed"]  # fixtures used by name


def _witness_size(state: Path) -> int:
    (head,) = json.loads(state.read_text(encoding="utf-8")).values()
    return int(head["size"])


def _purge_oldest(node: Node, keep_from: int) -> int:
    """Purge entries before ``keep_from`` through the serving node's own store; its seq."""
    store = node.running.audit
    assert store is not None
    with AuditReader(node.log) as reader:
        row = reader.entry(keep_from)
    assert row is not None
    cutoff = dt.datetime.fromisoformat(row.time)
    # A floor of 0 days needs a stated override; the purge records it.
    purge = store.purge_before(cutoff, minimum_days=0, override="test: purge just-written entries")
    assert purge.cut_seq == keep_from - 1
    return purge.purge_entry_seq


def test_witnesses_keep_cosigning_across_a_purge_and_verify_still_checks_them(
    witnessed: tuple[Node, WitnessConfig, str], tmp_path: Path
) -> None:
    node, auditor, _ = witnessed
    for _ in range(8):
        assert node.search() == grpc.StatusCode.OK
    pusher = node.running.witnesses
    assert pusher is not None
    assert pusher.wait(8, timeout=20)
    before = _witness_size(tmp_path / "witness-state.json")
    assert before >= 8

    purge_seq = _purge_oldest(node, keep_from=4)
    assert pusher.wait(purge_seq, timeout=20)
    for _ in range(4):
        assert node.search() == grpc.StatusCode.OK
    with AuditReader(node.log) as reader:
        last = max(row.seq for row in reader.entries())
        first = min(row.seq for row in reader.entries())
    assert first == 4  # entries 1–3 are gone from the database
    assert pusher.wait(last, timeout=20)
    assert pusher.last_quorum is True
    # The witness checked consistency from its pre-purge size to sizes after the purge.
    assert _witness_size(tmp_path / "witness-state.json") >= last > purge_seq > before

    done = verify(node, auditor)
    assert done.returncode == 0, done.stdout
    report = json.loads(done.stdout)
    assert report["witnessed_checkpoints_checked"] >= 2
    # A report over the log says it stands on a verified, witnessed log, and up to where.
    accounts = run("audit", "report", "accounts", "--db", str(node.log), "--witnessed",
                   str(witnessed_path(node.log)), "--witness",
                   f"{auditor.name}={auditor.public_key}", "--json")  # fmt: skip
    assert accounts.returncode == 0, accounts.stderr
    basis = json.loads(accounts.stdout)["log"]
    assert basis["verified"] is True
    assert basis["witnessed_by"] == [auditor.name]
    assert basis["witnessed_up_to_entry"] > purge_seq
    assert basis["first_entry"] == 4
    table = run("audit", "report", "accounts", "--db", str(node.log), "--witnessed",
                str(witnessed_path(node.log)), "--witness",
                f"{auditor.name}={auditor.public_key}")  # fmt: skip
    assert "log verified: entries 4–" in table.stdout
    assert f"cosigned by {auditor.name} up to entry" in table.stdout

    # The kept tree is the real one: the root over the kept range plus the remaining
    # entries is the root an unpurged log would have.
    db = sqlite3.connect(f"file:{node.log}?mode=ro", uri=True)
    try:
        tree = LogTree(db)
        assert tree.cut == 3
        assert tree.inclusion(5, last)
        assert tree.consistency(3, last) is not None
    finally:
        db.close()


def _forge_kept_tree(path: Path, purge_seq: int, key_path: Path) -> None:
    """What a key holder can do: claim another history for the purged entries, re-chain from
    the purge record and re-sign every checkpoint from there."""
    key = ensure_key(key_path)

    def change(db: sqlite3.Connection) -> None:
        body = json.loads(
            db.execute("SELECT body FROM entries WHERE seq = ?", (purge_seq,)).fetchone()[0]
        )
        fake = CompactRange()
        for number in range(body["data"]["cut_seq"]):
            fake.append(leaf_hash(f"an entry nobody wrote {number}".encode()))
        body["data"]["tree"] = tree_record(fake)
        db.execute("UPDATE entries SET body = ? WHERE seq = ?", (canonical_json(body), purge_seq))
        rechain(db, purge_seq)
        rows = db.execute("SELECT number, body FROM checkpoints ORDER BY number").fetchall()
        previous = ""
        for number, text in rows:
            old = checkpoint_from_body(json.loads(text), "")
            if old.seq >= purge_seq:
                head = db.execute("SELECT hash FROM entries WHERE seq = ?", (old.seq,)).fetchone()[
                    0
                ]
                fresh = Checkpoint(number, old.seq, head, old.time, previous, old.node_id,
                                   old.key_id).signed(key)  # fmt: skip
                db.execute("DELETE FROM checkpoints WHERE number = ?", (number,))
                db.execute("INSERT INTO checkpoints VALUES (?, ?, ?, ?)",
                           (number, old.seq, fresh.body_text(), fresh.signature))  # fmt: skip
                previous = fresh.digest()
            else:
                previous = old.digest()

    attack(path, change)


def test_a_key_holders_forged_purge_tree_is_caught(
    loop: LoopThread, witnessed: tuple[Node, WitnessConfig, str]
) -> None:
    node, auditor, origin = witnessed
    for _ in range(8):
        assert node.search() == grpc.StatusCode.OK
    pusher = node.running.witnesses
    assert pusher is not None
    assert pusher.wait(8, timeout=20)
    purge_seq = _purge_oldest(node, keep_from=4)
    assert pusher.wait(purge_seq, timeout=20)
    assert pusher.last_quorum is True
    loop.run(node.running.stop())
    assert node.config.audit is not None
    _forge_kept_tree(node.log, purge_seq, node.config.audit.key)

    # The log alone, with the node's key, says intact: the forger holds the key...
    alone = run("audit", "verify", "--db", str(node.log), "--json")
    assert alone.returncode == 0, alone.stdout
    # ...but the roots the witness cosigned after the purge no longer match.
    caught = verify(node, auditor)
    assert caught.returncode == 1, caught.stdout
    assert "rewritten" in {p["kind"] for p in json.loads(caught.stdout)["problems"]}
    # A report over it says so in its header.
    report = run("audit", "report", "denials", "--db", str(node.log), "--witnessed",
                 str(witnessed_path(node.log)), "--witness",
                 f"{auditor.name}={auditor.public_key}")  # fmt: skip
    assert report.returncode == 0, report.stderr
    assert "log NOT VERIFIED: rewritten:" in report.stdout
    # And the witness refuses the forged tree however it is pushed.
    with AuditReader(node.log) as reader:
        size = max(row.seq for row in reader.entries())
    key = ensure_key(node.config.audit.key)
    attacker = WitnessPusher(node.log, origin, key, [auditor], quorum=1, timeout_seconds=5)
    try:
        attacker.submit(size)
        assert attacker.wait(size, timeout=20)
        assert attacker.last_quorum is False
    finally:
        attacker.close()
    node.running = loop.run(start_node(node.config, MemoryDisclosureLog()))
