"""A purge record forged without the node's key cannot explain away deleted entries."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from fieldgate.node.audit.canonical import canonical_json, chain_hash
from fieldgate.node.audit.entries import AUDIT_PURGED, envelope
from fieldgate.node.audit.store import AuditStore
from fieldgate.node.audit.verify import verify_log


def test_deleting_entries_behind_a_forged_purge_record_is_detected(tmp_path: Path) -> None:
    path = tmp_path / "audit.sqlite"
    key = Ed25519PrivateKey.generate()
    store = AuditStore.open(path, node_id="kcso", key=key, checkpoint_every=3)
    for i in range(10):
        store.append("records_purged", {"n": i})
    store.close()
    assert verify_log(path, public_key=key.public_key()).problems == []

    # Someone with write access to the file but not the key: append an
    # audit_purged record with a correct chain hash, then delete entries 1–7.
    db = sqlite3.connect(path, isolation_level=None)
    cut = 7
    cut_hash = db.execute("SELECT hash FROM entries WHERE seq = ?", (cut,)).fetchone()[0]
    last, previous = db.execute("SELECT seq, hash FROM entries ORDER BY seq DESC").fetchone()
    now = dt.datetime.now(dt.UTC)
    document = envelope(last + 1, AUDIT_PURGED, "kcso", now, {
        "cutoff": now.isoformat(), "first_removed": 1, "cut_seq": cut, "cut_hash": cut_hash,
        "removed": cut,
    })  # fmt: skip
    text = canonical_json(document)
    db.execute(
        "INSERT INTO entries VALUES (?, ?, ?, ?, ?, ?)",
        (last + 1, document["time"], AUDIT_PURGED, text, previous, chain_hash(previous, text)),
    )
    db.execute("INSERT OR REPLACE INTO audit_meta VALUES ('purge_below', ?)", (str(cut + 1),))
    db.execute("DELETE FROM entries WHERE seq <= ?", (cut,))
    db.close()

    report = verify_log(path, public_key=key.public_key())
    removed = [p for p in report.problems if p.kind == "removed"]
    assert removed, report.problems
    assert "not covered by any signed checkpoint" in removed[0].message
    assert removed[0].seq == 1
