"""Rebuilding a record store's name index to this build's version, resumably.

The ``names`` rows are derived from record bodies (:func:`node.store.name_rows`);
when the way they are derived changes (schema version 3: transliteration,
every reading of a name), a store built earlier would silently miss people,
so :meth:`node.store.RecordStore.open` refuses it and this module rebuilds it.

The rebuild walks the records in ``record_id`` order in batches, each batch
one transaction that replaces the batch's ``names`` rows and records the last
``record_id`` done in ``reindex_progress``. Killed at any point, it resumes
after the last committed batch; the store is marked with the new version only
after the last batch and the indexes, in one final transaction, so a node
never serves a half-built index.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from fieldgate.matching.candidates import INDEXES, RETIRED_INDEXES
from fieldgate.node.errors import StoreError
from fieldgate.node.store import SCHEMA_VERSION
from fieldgate.node.store_rows import INSERT_NAMES_SQL, name_rows
from fieldgate.policy.records import FieldValue, Record

DEFAULT_BATCH = 2000
"""Records re-indexed per transaction."""

Progress = Callable[[int, int], None]
"""Called with (records done, records in the store) after each batch."""


@dataclass(frozen=True)
class ReindexReport:
    """What a re-index did.

    Attributes:
        from_version: the store's version before (equal to ``to_version`` when
            there was nothing to do).
        to_version: the version it is at now.
        records: records re-indexed by this run (a resumed run counts only its own).
        resumed: whether this run continued an interrupted one.
    """

    from_version: int
    to_version: int
    records: int
    resumed: bool


def reindex(
    path: str | Path, *, batch: int = DEFAULT_BATCH, progress: Progress | None = None
) -> ReindexReport:
    """Bring the store at ``path`` to this build's name index version.

    Raises:
        StoreError: the file is missing or not a record store, or is newer
            than this build.
    """
    path = Path(path)
    if not path.is_file():
        raise StoreError(f"{path}: no such record store")
    try:
        db = sqlite3.connect(path, isolation_level=None)
    except sqlite3.Error as exc:
        raise StoreError(f"{path}: cannot open: {exc}") from exc
    try:
        db.execute("PRAGMA busy_timeout = 5000")
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA foreign_keys = ON")
        return _reindex(db, path, batch, progress)
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{path}: cannot re-index: {exc}") from exc
    finally:
        if db.in_transaction:
            db.execute("ROLLBACK")
        db.close()


def _reindex(
    db: sqlite3.Connection, path: Path, batch: int, progress: Progress | None
) -> ReindexReport:
    tables = {row[0] for row in db.execute("SELECT name FROM sqlite_schema")}
    if "schema_version" not in tables or "names" not in tables:
        raise StoreError(f"{path}: is not a Fieldgate record store")
    version = int(db.execute("SELECT max(version) FROM schema_version").fetchone()[0])
    if version > SCHEMA_VERSION:
        raise StoreError(f"{path}: has schema version {version}, newer than this build's")
    resumed = "reindex_progress" in tables
    if version == SCHEMA_VERSION and not resumed:
        return ReindexReport(version, version, 0, False)
    db.execute("BEGIN IMMEDIATE")
    columns = {row[1] for row in db.execute("PRAGMA table_info(names)")}
    if "derived" not in columns:
        db.execute("ALTER TABLE names ADD COLUMN derived INTEGER NOT NULL DEFAULT 0")
    db.execute("CREATE TABLE IF NOT EXISTS reindex_progress (last_record_id TEXT NOT NULL)")
    if db.execute("SELECT count(*) FROM reindex_progress").fetchone()[0] == 0:
        db.execute("INSERT INTO reindex_progress VALUES ('')")
    db.execute("COMMIT")
    total = int(db.execute("SELECT count(*) FROM records").fetchone()[0])
    last = str(db.execute("SELECT last_record_id FROM reindex_progress").fetchone()[0])
    done = int(
        db.execute("SELECT count(*) FROM records WHERE record_id <= ?", (last,)).fetchone()[0]
    )
    ran = 0
    if progress is not None:
        progress(done, total)
    while True:
        rows = db.execute(
            "SELECT record_id, kind, sealed, juvenile, expunged, body FROM records"
            " WHERE record_id > ? ORDER BY record_id LIMIT ?",
            (last, batch),
        ).fetchall()
        if not rows:
            break
        db.execute("BEGIN IMMEDIATE")
        for record_id, kind, sealed, juvenile, expunged, body in rows:
            fields: dict[str, FieldValue] = json.loads(body)
            record = Record(record_id, kind, bool(sealed), bool(juvenile), bool(expunged), fields)
            db.execute("DELETE FROM names WHERE record_id = ?", (record_id,))
            db.executemany(INSERT_NAMES_SQL, name_rows(record))
        last = str(rows[-1][0])
        db.execute("UPDATE reindex_progress SET last_record_id = ?", (last,))
        db.execute("COMMIT")
        done += len(rows)
        ran += len(rows)
        if progress is not None:
            progress(done, total)
    db.execute("BEGIN IMMEDIATE")
    for statement in INDEXES:
        db.execute(statement)
    for name in RETIRED_INDEXES:
        db.execute(f"DROP INDEX IF EXISTS {name}")
    db.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION,))
    db.execute("DROP TABLE reindex_progress")
    db.execute("COMMIT")
    return ReindexReport(version, SCHEMA_VERSION, ran, resumed)
