"""The audit database's schema and read-only access to it.

Schema (format :data:`SCHEMA_FORMAT`)::

    audit_meta(key PK, value)            node_id, public_key, format, purge_below
    entries(seq PK, time, kind, body, prev_hash, hash)
    checkpoints(number PK, seq, body, signature)

``body`` is an entry's canonical JSON (:mod:`fieldgate.node.audit.entries`), ``hash`` its
chain hash (:mod:`fieldgate.node.audit.canonical`). Triggers refuse every UPDATE of
entries and checkpoints and every DELETE except of entries below
``audit_meta.purge_below`` (set by a retention purge in the same
transaction): the node's own code can only append. Someone with the file can
still rewrite it; the chain and the signed checkpoints are what make that
show.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fieldgate.node.errors import NodeError

SCHEMA_FORMAT = "1"

SCHEMA_STATEMENTS: tuple[str, ...] = (
    "CREATE TABLE audit_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT",
    "CREATE TABLE entries (seq INTEGER PRIMARY KEY, time TEXT NOT NULL, kind TEXT NOT NULL,"
    " body TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL) STRICT",
    "CREATE TABLE checkpoints (number INTEGER PRIMARY KEY, seq INTEGER NOT NULL,"
    " body TEXT NOT NULL, signature TEXT NOT NULL) STRICT",
    "CREATE TRIGGER entries_append_only BEFORE UPDATE ON entries"
    " BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END",
    "CREATE TRIGGER entries_purge_only BEFORE DELETE ON entries"
    " WHEN old.seq >= COALESCE((SELECT CAST(value AS INTEGER) FROM audit_meta"
    " WHERE key = 'purge_below'), 0)"
    " BEGIN SELECT RAISE(ABORT, 'audit entries are removed only by a retention purge'); END",
    "CREATE TRIGGER checkpoints_append_only BEFORE UPDATE ON checkpoints"
    " BEGIN SELECT RAISE(ABORT, 'checkpoints are append-only'); END",
    "CREATE TRIGGER checkpoints_kept BEFORE DELETE ON checkpoints"
    " BEGIN SELECT RAISE(ABORT, 'checkpoints are never deleted'); END",
)
"""Exactly the statements that create a log; :func:`schema_differences` compares with them."""


class AuditReadError(NodeError):
    """An audit database that cannot be opened or read."""


class NotAnAuditDatabase(AuditReadError):
    """A file that is no Fieldgate audit database at all (a wrong ``--db``, not tampering)."""


@dataclass(frozen=True)
class EntryRow:
    """One row of ``entries`` as stored."""

    seq: int
    time: str
    kind: str
    body: str
    prev_hash: str
    hash: str

    def well_formed(self) -> bool:
        """Whether every column has its type (a damaged file can yield NULLs or numbers)."""
        texts = (self.time, self.kind, self.body, self.prev_hash, self.hash)
        return isinstance(self.seq, int) and all(isinstance(t, str) for t in texts)

    def document(self) -> dict[str, Any]:
        """The parsed body; {} when it is not a JSON object."""
        if not isinstance(self.body, str):
            return {}
        try:
            parsed = json.loads(self.body)
        except (json.JSONDecodeError, RecursionError):
            return {}
        return parsed if isinstance(parsed, dict) else {}


@dataclass(frozen=True)
class CheckpointRow:
    """One row of ``checkpoints`` as stored."""

    number: int
    seq: int
    body: str
    signature: str


def create_schema(db: sqlite3.Connection) -> None:
    """Create the tables and triggers in an empty database (inside the caller's transaction)."""
    for statement in SCHEMA_STATEMENTS:
        db.execute(statement)


_SCHEMA_QUERY = "SELECT type, name, tbl_name, sql FROM sqlite_schema"


def _expected_schema() -> set[tuple[object, ...]]:
    db = sqlite3.connect(":memory:")
    try:
        create_schema(db)
        return set(db.execute(_SCHEMA_QUERY))
    finally:
        db.close()


def schema_differences(db: sqlite3.Connection) -> list[str]:
    """What differs between the database's schema table and the one a new log has.

    Every row of ``sqlite_schema`` (type, name, table, SQL; not the page
    numbers) is compared, the automatic indexes included.
    """
    found = set(db.execute(_SCHEMA_QUERY))
    expected = _expected_schema()
    problems = [f"missing or altered: {row[1]}" for row in sorted(expected - found, key=str)]
    problems += [f"unexpected: {str(row)[:80]}" for row in sorted(found - expected, key=str)]
    return problems


class AuditReader:
    """Read-only access to an audit database (for verification, reports and exports)."""

    def __init__(self, path: Path) -> None:
        """Open ``path`` read-only.

        Raises:
            AuditReadError: it does not exist or is not an audit database.
        """
        self.path = path
        if not path.is_file():
            raise AuditReadError(f"{path}: no such audit database")
        try:
            self.db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
            self.db.execute("PRAGMA busy_timeout = 2000")
            tables = {r[0] for r in self.db.execute("SELECT name FROM sqlite_schema")}
        except (sqlite3.Error, UnicodeDecodeError) as exc:
            raise AuditReadError(f"{path}: cannot read as an audit database: {exc}") from exc
        wanted = {"audit_meta", "entries", "checkpoints"}
        if not wanted & tables:
            # None of the log's tables: another database (records, limits), not a damaged log.
            self.db.close()
            raise NotAnAuditDatabase(
                f"{path}: is not a Fieldgate audit database (no audit tables; is --db the "
                "node's audit log, <database>.audit.sqlite?)"
            )
        if not wanted <= tables:
            self.db.close()
            raise AuditReadError(f"{path}: is not a Fieldgate audit database")

    def close(self) -> None:
        """Close the connection."""
        self.db.close()

    def __enter__(self) -> AuditReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def meta(self) -> dict[str, str]:
        """The ``audit_meta`` table as a dict."""
        return {str(k): str(v) for k, v in self.db.execute("SELECT key, value FROM audit_meta")}

    def entries(self, kind: str | None = None) -> Iterator[EntryRow]:
        """Every entry row in ``seq`` order, optionally of one kind."""
        sql = "SELECT seq, time, kind, body, prev_hash, hash FROM entries"
        params: tuple[str, ...] = ()
        if kind is not None:
            sql += " WHERE kind = ?"
            params = (kind,)
        for row in self.db.execute(sql + " ORDER BY seq", params):
            yield EntryRow(*row)

    def newest(self, kind: str, count: int) -> Iterator[EntryRow]:
        """The latest ``count`` entries of ``kind``, newest first."""
        sql = (
            "SELECT seq, time, kind, body, prev_hash, hash FROM entries"
            " WHERE kind = ? ORDER BY seq DESC LIMIT ?"
        )
        for row in self.db.execute(sql, (kind, count)):
            yield EntryRow(*row)

    def entry(self, seq: int) -> EntryRow | None:
        """The entry row ``seq``, or None."""
        row = self.db.execute(
            "SELECT seq, time, kind, body, prev_hash, hash FROM entries WHERE seq = ?", (seq,)
        ).fetchone()
        return EntryRow(*row) if row else None

    def checkpoints(self) -> list[CheckpointRow]:
        """Every checkpoint row in ``number`` order."""
        return [
            CheckpointRow(*row)
            for row in self.db.execute(
                "SELECT number, seq, body, signature FROM checkpoints ORDER BY number"
            )
        ]
