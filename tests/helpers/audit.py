"""Helpers for audit-log tests: make a log, tamper with it as an attacker would, dump it."""

from __future__ import annotations

import datetime as dt
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from fieldgate.node.audit.canonical import canonical_json, chain_hash
from fieldgate.node.audit.entries import SEARCH, search_data
from fieldgate.node.audit.keys import ensure_key
from fieldgate.node.audit.schema import SCHEMA_STATEMENTS
from fieldgate.node.audit.store import AuditStore
from fieldgate.node.disclosure_log import DisclosureEntry


class StepClock:
    """A clock that moves on one second per call, from a fixed start."""

    def __init__(self, start: dt.datetime) -> None:
        self.now = start

    def __call__(self) -> dt.datetime:
        self.now += dt.timedelta(seconds=1)
        return self.now


def make_log(
    directory: Path,
    entries: int = 30,
    every: int = 10,
    clock: Callable[[], dt.datetime] | None = None,
) -> tuple[Path, Ed25519PrivateKey]:
    """A closed log of ``entries`` search entries ``req-0001``..., a checkpoint every ``every``."""
    key = ensure_key(directory / "audit-key.pem")
    path = directory / "audit.sqlite"
    store = AuditStore.open(
        path,
        node_id="kcso",
        key=key,
        checkpoint_every=every,
        checkpoint_seconds=3600,
        clock=clock or StepClock(dt.datetime(2026, 1, 1, tzinfo=dt.UTC)),
    )
    for number in range(1, entries + 1):
        store.append("search", {"request_id": f"req-{number:04d}", "outcome": "no_hit"})
    store.close()
    return path, key


class PreWarrantsAuditLog:
    """The real audit store, writing search entries as builds did before ``warrants_applied``.

    The entry is the node's own (:func:`node.audit.entries.search_data`) with
    the key removed from every record before it is chained and signed, so the
    log verifies like any other.
    """

    def __init__(self, store: AuditStore) -> None:
        self.store = store

    def write(self, entry: DisclosureEntry) -> None:
        data = search_data(entry)
        for record in data["records"]:
            del record["warrants_applied"]  # KeyError if the node stops logging it
        self.store.append(SEARCH, data)


def tamper(path: Path, *statements: str | tuple[str, tuple[object, ...]]) -> None:
    """Run SQL on the log as someone with the file would: triggers off, then put back."""
    db = sqlite3.connect(path, isolation_level=None)
    triggers = [s for s in SCHEMA_STATEMENTS if s.startswith("CREATE TRIGGER")]
    db.execute("BEGIN")
    for statement in triggers:
        db.execute(f"DROP TRIGGER {statement.split()[2]}")
    for item in statements:
        sql, params = (item, ()) if isinstance(item, str) else item
        db.execute(sql, params)
    for statement in triggers:
        db.execute(statement)
    db.execute("COMMIT")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()


def forge_entry(seq: int, request_id: str, previous: str) -> tuple[str, str, str]:
    """(time, body, hash) of a well-formed entry an attacker writes, chained to ``previous``."""
    time = "2026-01-01T00:00:00.500000+00:00"
    body = canonical_json(
        {
            "format": 1,
            "seq": seq,
            "kind": "search",
            "node_id": "kcso",
            "time": time,
            "data": {"request_id": request_id, "outcome": "no_hit"},
        }
    )
    return time, body, chain_hash(previous, body)


def dump(path: Path) -> list[tuple[object, ...]]:
    """Everything the log says: schema, metadata, entries and checkpoints.

    Except ``log_id``: it names the file, not its content, and is checked
    against the node's last known head at start (tests/node/test_audit_writer.py),
    not by ``verify``.
    """
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows: list[tuple[object, ...]] = list(
            db.execute("SELECT type, name, sql FROM sqlite_schema ORDER BY name")
        )
        for table in ("audit_meta", "entries", "checkpoints"):
            rows += list(db.execute(f"SELECT * FROM {table} ORDER BY 1"))
        rows = [row for row in rows if row[:1] != ("log_id",)]
        return rows
    finally:
        db.close()


def copy_log(source: Path, target: Path) -> Path:
    """Copy a closed log (no WAL) to ``target``."""
    shutil.copyfile(source, target)
    return target
