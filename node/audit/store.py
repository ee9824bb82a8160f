"""The append-only SQLite audit store: the node's disclosure log.

It implements :class:`~fieldgate.node.disclosure_log.DisclosureLog`.

:meth:`AuditStore.write` returns only once the entry is committed to disk
(WAL with ``synchronous = FULL``: the commit is fsynced); anything else
(disk full, I/O error, the database locked for longer than
``busy_timeout_seconds``) raises :class:`~fieldgate.node.errors.DisclosureLogError`, and
the node releases nothing. Each append reads the head of the chain inside its
own ``BEGIN IMMEDIATE`` transaction, so a second writer (``fieldgate node
purge`` while the node serves) extends the same chain instead of forking it.

Search entries written at the same moment share one transaction and one
``fsync`` (:mod:`fieldgate.node.audit.group_commit`).

Every ``checkpoint_every`` entries, or ``checkpoint_seconds`` after the last
checkpoint when entries have been written since, the store signs a checkpoint
in the same transaction as the entry; a background timer covers a quiet node,
and :meth:`AuditStore.close` signs the head on the way out.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import sqlite3
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from fieldgate.node.audit.canonical import (
    GENESIS,
    NotCanonicalError,
    canonical_json,
    chain_hash,
    check_canonical,
)
from fieldgate.node.audit.checkpoints import Checkpoint, checkpoint_from_body
from fieldgate.node.audit.entries import AUDIT_PURGED, SEARCH, envelope, search_data
from fieldgate.node.audit.group_commit import GroupCommit
from fieldgate.node.audit.keys import key_id, public_hex
from fieldgate.node.audit.schema import SCHEMA_FORMAT, create_schema
from fieldgate.node.disclosure_log import DisclosureEntry
from fieldgate.node.errors import DisclosureLogError

log = logging.getLogger("fieldgate.audit")

Clock = Callable[[], dt.datetime]
T = TypeVar("T")


def utc_now() -> dt.datetime:
    """The current time in UTC."""
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class AuditPurge:
    """What a purge of old audit entries removed.

    Attributes:
        removed: how many entries were deleted.
        cut_seq: the last entry removed (0 when nothing was).
        purge_entry_seq: the ``audit_purged`` entry that records it (0 when nothing was).
    """

    removed: int
    cut_seq: int
    purge_entry_seq: int


class _Tip:
    """The head of the chain and the last checkpoint, read from the database when first needed.

    Every append reads both, inside its transaction. Kept from one transaction
    to the next while no other connection (``fieldgate node purge``, a second
    process) has committed, it saves two or three reads per search.
    """

    __slots__ = ("checkpoint", "checkpoint_read", "head")

    def __init__(self) -> None:
        self.head: tuple[int, str] | None = None
        self.checkpoint: Checkpoint | None = None
        self.checkpoint_read = False


class AuditStore:
    """A node's tamper-evident audit log in one SQLite file."""

    def __init__(
        self,
        db: sqlite3.Connection,
        path: Path,
        node_id: str,
        key: Ed25519PrivateKey,
        *,
        checkpoint_every: int,
        checkpoint_seconds: float,
        clock: Clock,
    ) -> None:
        """Wrap an open database; use :meth:`open` instead."""
        self._db = db
        self.path = path
        self.node_id = node_id
        self._key = key
        self._key_id = key_id(key.public_key())
        self._every = checkpoint_every
        self._seconds = checkpoint_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._closed = False
        self._stop = threading.Event()
        self._timer: threading.Thread | None = None
        # The chain's tip as this connection last committed it, trusted while
        # SQLite's data_version says no other connection has written since.
        self._committed, self._committed_version = _Tip(), -1
        self._tip = _Tip()
        self._failures_lock = threading.Lock()  # failures are also counted outside _lock
        self.write_failures = 0
        """Writes that failed (a metric an alert fires on)."""
        self.group: GroupCommit[tuple[str, Any], int] = GroupCommit(self._append_batch)
        """Search entries' group commit; its counters say how many shared a transaction."""
        self.last_failure = ""

    @classmethod
    def open(
        cls,
        path: Path,
        *,
        node_id: str,
        key: Ed25519PrivateKey,
        checkpoint_every: int = 100,
        checkpoint_seconds: float = 60.0,
        busy_timeout_seconds: float = 2.0,
        clock: Clock = utc_now,
    ) -> AuditStore:
        """Open (creating if new) the audit database at ``path`` for ``node_id``.

        Raises:
            DisclosureLogError: the file cannot be used, belongs to another
                node, or was created with another signing key.
        """
        try:
            db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            db.execute(f"PRAGMA busy_timeout = {int(busy_timeout_seconds * 1000)}")
            mode = db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if mode != "wal":
                raise DisclosureLogError(f"{path}: cannot use WAL journaling (got {mode!r})")
            db.execute("PRAGMA synchronous = FULL")
            cls._ensure(db, path, node_id, public_hex(key.public_key()))
        except sqlite3.Error as exc:
            raise DisclosureLogError(f"{path}: cannot open the audit log: {exc}") from exc
        return cls(
            db,
            path,
            node_id,
            key,
            checkpoint_every=checkpoint_every,
            checkpoint_seconds=checkpoint_seconds,
            clock=clock,
        )

    @staticmethod
    def _ensure(db: sqlite3.Connection, path: Path, node_id: str, public_key: str) -> None:
        db.execute("BEGIN IMMEDIATE")
        try:
            tables = {row[0] for row in db.execute("SELECT name FROM sqlite_schema")}
            if not tables:
                create_schema(db)
                db.executemany(
                    "INSERT INTO audit_meta (key, value) VALUES (?, ?)",
                    [("format", SCHEMA_FORMAT), ("node_id", node_id), ("public_key", public_key)],
                )
            elif "audit_meta" not in tables:
                raise DisclosureLogError(f"{path}: is an SQLite file but not an audit log")
            meta = dict(db.execute("SELECT key, value FROM audit_meta").fetchall())
            if meta.get("format") != SCHEMA_FORMAT:
                raise DisclosureLogError(
                    f"{path}: audit log format {meta.get('format')!r}; this build writes "
                    f"{SCHEMA_FORMAT}"
                )
            if meta.get("node_id") != node_id:
                raise DisclosureLogError(
                    f"{path}: is the audit log of node {meta.get('node_id')!r}, not {node_id!r}"
                )
            if meta.get("public_key") != public_key:
                raise DisclosureLogError(
                    f"{path}: was signed with another key than the configured audit key; "
                    "a node keeps its audit key for the life of its log"
                )
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise

    # -- writing ---------------------------------------------------------

    def write(self, entry: DisclosureEntry) -> None:
        """Append a search entry durably (the :class:`DisclosureLog` interface).

        Entries written at the same moment by several searches share one
        transaction (:mod:`fieldgate.node.audit.group_commit`); each call still returns
        only once its own entry is committed.

        Raises:
            DisclosureLogError: the entry is not on disk; nothing may be released.
        """
        data = search_data(entry)
        try:
            # Refused before it can join a batch: one bad entry must not fail the others.
            check_canonical(data)
        except NotCanonicalError as exc:
            self._failed(exc, 1)
            raise DisclosureLogError(f"{self.path}: cannot write the audit log: {exc}") from exc
        self.group.submit((SEARCH, data))

    def _append_batch(self, batch: Sequence[tuple[str, Any]]) -> list[int]:
        """Append ``batch`` in one transaction; a failure writes none of it."""
        return self._transaction(
            lambda: [self._append(kind, data) for kind, data in batch], entries=len(batch)
        )

    def append(self, kind: str, data: Any) -> int:
        """Append one entry of ``kind`` and return its sequence number.

        Raises:
            DisclosureLogError: the entry could not be made durable.
        """
        return self._transaction(lambda: self._append(kind, data))

    def checkpoint(self) -> Checkpoint | None:
        """Sign a checkpoint of the head now, unless the last one already covers it."""
        return self._transaction(lambda: self._checkpoint(due_only=False))

    def checkpoint_if_due(self) -> Checkpoint | None:
        """Sign a checkpoint if entries are waiting and ``checkpoint_seconds`` have passed."""
        return self._transaction(lambda: self._checkpoint(due_only=True))

    def purge_before(self, cutoff: dt.datetime) -> AuditPurge:
        """Remove the entries written before ``cutoff``, keeping the rest verifiable.

        The oldest run of entries whose time is before ``cutoff`` is deleted;
        an ``audit_purged`` entry recording the cut (its seq and chain hash) is
        appended, and a checkpoint signed over it, in one transaction.
        """
        return self._transaction(lambda: self._purge(cutoff))

    def _transaction(self, body: Callable[[], T], *, entries: int = 1) -> T:
        """Run ``body`` in one write transaction; a failure counts ``entries`` failed writes."""
        with self._lock:
            if self._closed:
                raise DisclosureLogError(f"{self.path}: the audit log is closed")
            try:
                self._db.execute("BEGIN IMMEDIATE")
                version = self._db.execute("PRAGMA data_version").fetchone()[0]
                self._tip = self._committed if version == self._committed_version else _Tip()
                result = body()
                self._db.execute("COMMIT")
                # Our own commits leave data_version as it was; another connection's move it.
                self._committed, self._committed_version = self._tip, version
                return result
            except (sqlite3.Error, NotCanonicalError, ValueError) as exc:
                self._rollback()
                self._failed(exc, entries)
                raise DisclosureLogError(f"{self.path}: cannot write the audit log: {exc}") from exc
            except BaseException:
                self._rollback()
                raise

    def _failed(self, exc: Exception, entries: int) -> None:
        """Count ``entries`` refused writes and log why."""
        with self._failures_lock:
            self.write_failures += entries
            self.last_failure = str(exc)
        log.error("audit log %s: write failed: %s", self.path, exc)

    def _rollback(self) -> None:
        self._committed, self._tip = _Tip(), _Tip()  # read the tip again next time
        try:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
        except sqlite3.Error:
            log.exception("audit log %s: rollback failed", self.path)

    def _head(self) -> tuple[int, str]:
        if self._tip.head is None:
            row = self._db.execute(
                "SELECT seq, hash FROM entries ORDER BY seq DESC LIMIT 1"
            ).fetchone()
            self._tip.head = (int(row[0]), str(row[1])) if row else (0, GENESIS)
        return self._tip.head

    def _append(self, kind: str, data: Any) -> int:
        last_seq, previous = self._head()
        seq = last_seq + 1
        now = self._clock()
        document = envelope(seq, kind, self.node_id, now, data)
        text = canonical_json(document)
        digest = chain_hash(previous, text)
        self._db.execute(
            "INSERT INTO entries (seq, time, kind, body, prev_hash, hash)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (seq, document["time"], kind, text, previous, digest),
        )
        self._tip.head = (seq, digest)
        self._checkpoint(due_only=True)
        return seq

    def _last_checkpoint(self) -> Checkpoint | None:
        if not self._tip.checkpoint_read:
            row = self._db.execute(
                "SELECT body, signature FROM checkpoints ORDER BY number DESC LIMIT 1"
            ).fetchone()
            self._tip.checkpoint = (
                None if row is None else checkpoint_from_body(json.loads(row[0]), row[1])
            )
            self._tip.checkpoint_read = True
        return self._tip.checkpoint

    def _checkpoint(self, *, due_only: bool) -> Checkpoint | None:
        seq, head = self._head()
        if seq == 0:
            return None
        last = self._last_checkpoint()
        now = self._clock()
        if last is not None:
            waiting = seq - last.seq
            if waiting <= 0:
                return None
            if due_only:
                age = (now - dt.datetime.fromisoformat(last.time)).total_seconds()
                if waiting < self._every and age < self._seconds:
                    return None
        elif last is None and due_only and seq < self._every:
            # The first checkpoint of a log is due by count, or by the timer.
            first = self._db.execute("SELECT time FROM entries ORDER BY seq LIMIT 1").fetchone()
            age = (now - dt.datetime.fromisoformat(first[0])).total_seconds()
            if age < self._seconds:
                return None
        checkpoint = Checkpoint(
            number=(last.number if last else 0) + 1,
            seq=seq,
            head=head,
            time=now.astimezone(dt.UTC).isoformat(),
            previous=last.digest() if last else "",
            node_id=self.node_id,
            key_id=self._key_id,
        ).signed(self._key)
        self._db.execute(
            "INSERT INTO checkpoints (number, seq, body, signature) VALUES (?, ?, ?, ?)",
            (checkpoint.number, checkpoint.seq, checkpoint.body_text(), checkpoint.signature),
        )
        self._tip.checkpoint, self._tip.checkpoint_read = checkpoint, True
        return checkpoint

    def _purge(self, cutoff: dt.datetime) -> AuditPurge:
        limit = cutoff.astimezone(dt.UTC).isoformat()
        first = self._db.execute("SELECT min(seq) FROM entries").fetchone()[0]
        # The cut is the end of the oldest run of entries older than the cutoff.
        newer = self._db.execute(
            "SELECT min(seq) FROM entries WHERE time >= ?", (limit,)
        ).fetchone()[0]
        last_seq, _ = self._head()
        cut = (newer - 1) if newer is not None else last_seq
        if first is None or cut < first:
            return AuditPurge(0, 0, 0)
        cut_hash = self._db.execute("SELECT hash FROM entries WHERE seq = ?", (cut,)).fetchone()[0]
        purge_seq = self._append(
            AUDIT_PURGED,
            {
                "cutoff": limit,
                "first_removed": first,
                "cut_seq": cut,
                "cut_hash": cut_hash,
                "removed": cut - first + 1,
            },
        )
        self._db.execute(
            "INSERT INTO audit_meta (key, value) VALUES ('purge_below', ?)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (str(cut + 1),),
        )
        self._db.execute("DELETE FROM entries WHERE seq <= ?", (cut,))
        self._checkpoint(due_only=False)
        return AuditPurge(cut - first + 1, cut, purge_seq)

    # -- life cycle --------------------------------------------------------

    def start_timer(self) -> None:
        """Sign due checkpoints from a background thread while the node is quiet."""
        if self._timer is not None:
            return
        interval = max(0.05, self._seconds / 2)

        def run() -> None:
            while not self._stop.wait(interval):
                # A failure is logged and counted; the next write or tick retries.
                with contextlib.suppress(DisclosureLogError):
                    self.checkpoint_if_due()

        self._timer = threading.Thread(target=run, name="audit-checkpoints", daemon=True)
        self._timer.start()

    def close(self) -> None:
        """Sign the head, fold the WAL into the database and close it."""
        self._stop.set()
        if self._timer is not None:
            self._timer.join(timeout=5)
        if self._closed:
            return
        # A failure is already logged; the chain still protects the tail.
        with contextlib.suppress(DisclosureLogError):
            self.checkpoint()
        with self._lock:
            self._closed = True
            try:
                self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            except sqlite3.Error as exc:
                log.warning("audit log %s: WAL checkpoint failed: %s", self.path, exc)
            self._db.close()

    def __enter__(self) -> AuditStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
