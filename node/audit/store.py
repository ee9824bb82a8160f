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
import logging
import secrets
import sqlite3
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from fieldgate.node.audit.canonical import (
    NotCanonicalError,
    canonical_json,
    chain_hash,
    check_canonical,
)
from fieldgate.node.audit.checkpoints import Checkpoint
from fieldgate.node.audit.config import MIN_RETENTION_DAYS
from fieldgate.node.audit.entries import AUDIT_PURGED, SEARCH, envelope, search_data
from fieldgate.node.audit.group_commit import GroupCommit
from fieldgate.node.audit.keys import key_id, public_hex
from fieldgate.node.audit.last_head import (
    HeadRecord,
    LastHead,
    check_known_head,
    check_known_head_before_open,
)
from fieldgate.node.audit.schema import SCHEMA_FORMAT, create_schema
from fieldgate.node.audit.tree import LogTree, TreeError, tree_record
from fieldgate.node.audit.writer_view import (
    AuditTamperError,
    WriterView,
    check_file,
    read_view,
    reconcile,
)
from fieldgate.node.disclosure_log import DisclosureEntry
from fieldgate.node.errors import DisclosureLogError, NodeError

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


class AuditRetentionError(NodeError):
    """A purge that would remove audit entries younger than the retention floor."""


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
        view: WriterView,
        last_head: LastHead | None = None,
        log_id: str = "",
        maintenance: bool = False,
    ) -> None:
        """Wrap an open database; use :meth:`open` instead."""
        self._db = db
        self.path = path
        self.node_id = node_id
        self._key = key
        self._key_id = key_id(key.public_key())
        self._public = key.public_key()
        self._every = checkpoint_every
        self._seconds = checkpoint_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._closed = False
        self._stop = threading.Event()
        self._timer: threading.Thread | None = None
        # What this writer knows the log to be; checked against the file whenever
        # SQLite's data_version says another connection has written since.
        self._view = view
        self._committed_version = -1
        self._last_head = last_head
        self._log_id = log_id
        self._maintenance = maintenance
        self.halted = ""
        """Why the store refuses every write ("" while it writes): tampering was found."""
        self.tamper_detected = 0
        """Times tampering was found (a metric an alert fires on)."""
        self.on_tamper: Callable[[str], None] | None = None
        """Called with the reason when tampering is found (the node counts it)."""
        self.on_checkpoint: Callable[[Checkpoint], None] | None = None
        """Called with each checkpoint once it is committed (the node's witnesses get it)."""
        self._failures_lock = threading.Lock()  # failures are also counted outside _lock
        self.write_failures = 0
        """Writes that failed (a metric an alert fires on)."""
        self.group: GroupCommit[tuple[str, Any], tuple[int, int]] = GroupCommit(self._append_batch)
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
        last_head: Path | None = None,
        maintenance: bool = False,
    ) -> AuditStore:
        """Open (creating if new) the audit database at ``path`` for ``node_id``.

        With ``last_head`` (the node's last-known-head file, beside its key) a
        log that is missing, empty, replaced or rolled back behind that head is
        refused (:mod:`node.audit.last_head`); a new log is created only when
        no head was ever recorded. The tail after the newest checkpoint is
        verified either way (:func:`~node.audit.writer_view.read_view`).

        A ``maintenance`` writer (``fieldgate node purge`` beside the serving
        node) adopts the serving node's search entries that wait for their
        checkpoint as long as they chain; the serving node adopts only what a
        checkpoint signed with its key covers.

        Raises:
            DisclosureLogError: the file cannot be used, belongs to another
                node, was created with another signing key, or is not the log
                the last known head names (:class:`AuditTamperError`).
        """
        head_file = LastHead(last_head) if last_head is not None else None
        known = head_file.read() if head_file is not None else None
        if known is not None:
            check_known_head_before_open(path, known)
        try:
            db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise DisclosureLogError(f"{path}: cannot open the audit log: {exc}") from exc
        try:
            db.execute(f"PRAGMA busy_timeout = {int(busy_timeout_seconds * 1000)}")
            mode = db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if mode != "wal":
                raise DisclosureLogError(f"{path}: cannot use WAL journaling (got {mode!r})")
            db.execute("PRAGMA synchronous = FULL")
            created, log_id = cls._ensure(db, path, node_id, public_hex(key.public_key()))
            view = read_view(db, path, key.public_key())
            if head_file is not None:
                check_known_head(db, path, known, log_id, view, created=created)
                if known is None:
                    head_file.write(HeadRecord(node_id, log_id))
                    log.info("audit log %s: new log %s, last head kept in %s",
                             path, log_id, head_file.path)  # fmt: skip
        except sqlite3.Error as exc:
            db.close()
            raise DisclosureLogError(f"{path}: cannot open the audit log: {exc}") from exc
        except BaseException:
            db.close()
            raise
        return cls(
            db,
            path,
            node_id,
            key,
            checkpoint_every=checkpoint_every,
            checkpoint_seconds=checkpoint_seconds,
            clock=clock,
            view=view,
            last_head=head_file,
            log_id=log_id,
            maintenance=maintenance,
        )

    @staticmethod
    def _ensure(
        db: sqlite3.Connection, path: Path, node_id: str, public_key: str
    ) -> tuple[bool, str]:
        """Create the schema in an empty file; check an existing log is this node's.

        Returns:
            Whether the log was created now, and its ``log_id``.
        """
        db.execute("BEGIN IMMEDIATE")
        created = False
        try:
            tables = {row[0] for row in db.execute("SELECT name FROM sqlite_schema")}
            if not tables:
                create_schema(db)
                db.executemany(
                    "INSERT INTO audit_meta (key, value) VALUES (?, ?)",
                    [
                        ("format", SCHEMA_FORMAT),
                        ("node_id", node_id),
                        ("public_key", public_key),
                        ("log_id", secrets.token_hex(16)),
                    ],
                )
                created = True
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
            if "log_id" not in meta:
                # A log made before log ids: it gets one now (its last head is recorded next).
                meta["log_id"] = secrets.token_hex(16)
                db.execute(
                    "INSERT INTO audit_meta (key, value) VALUES ('log_id', ?)", (meta["log_id"],)
                )
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        return created, str(meta["log_id"])

    # -- writing ---------------------------------------------------------

    def write(self, entry: DisclosureEntry) -> int:
        """Append a search entry durably (the :class:`DisclosureLog` interface); return
        the bytes of its canonical JSON as kept (what its requester's audit budget is
        charged, without serialising it a second time).

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
        return self.group.submit((SEARCH, data))[1]

    def _append_batch(self, batch: Sequence[tuple[str, Any]]) -> list[tuple[int, int]]:
        """Append ``batch`` in one transaction; a failure writes none of it."""
        return self._transaction(
            lambda: [self._append_sized(kind, data) for kind, data in batch],
            entries=len(batch),
        )

    def append(self, kind: str, data: Any, *, checkpoint: bool = False) -> int:
        """Append one entry of ``kind`` and return its sequence number.

        With ``checkpoint`` a checkpoint is signed over it in the same
        transaction. Maintenance beside a serving node (``fieldgate node
        purge``, a second process) must ask for one: the node adopts only
        entries that a checkpoint signed with its key covers, which is how it
        tells them from a forgery.

        Raises:
            DisclosureLogError: the entry could not be made durable.
        """

        def body() -> int:
            seq = self._append(kind, data)
            if checkpoint:
                self._checkpoint(due_only=False)
            return seq

        return self._transaction(body)

    def checkpoint(self) -> Checkpoint | None:
        """Sign a checkpoint of the head now, unless the last one already covers it."""
        return self._transaction(lambda: self._checkpoint(due_only=False))

    def checkpoint_if_due(self) -> Checkpoint | None:
        """Sign a checkpoint if entries are waiting and ``checkpoint_seconds`` have passed."""
        return self._transaction(lambda: self._checkpoint(due_only=True))

    def purge_before(
        self, cutoff: dt.datetime, *, minimum_days: int = MIN_RETENTION_DAYS, override: str = ""
    ) -> AuditPurge:
        """Remove the entries written before ``cutoff``, keeping the rest verifiable.

        The oldest run of entries whose time is before ``cutoff`` is deleted;
        an ``audit_purged`` entry recording the cut (its seq and chain hash) is
        appended, and a checkpoint signed over it, in one transaction.

        The floor is checked against the store's own clock, not against the
        day a caller claims it is: no entry younger than ``minimum_days`` is
        ever removed. A ``minimum_days`` below :data:`MIN_RETENTION_DAYS`
        needs an ``override`` reason, which the purge entry records.

        Raises:
            AuditRetentionError: ``cutoff`` is later than the floor allows;
                nothing was written.
        """
        if minimum_days < MIN_RETENTION_DAYS and not override:
            raise AuditRetentionError(
                f"{self.path}: keeping audit entries less than {MIN_RETENTION_DAYS} days "
                "needs an explicit override ([node.audit] retention_override)"
            )
        floor = self._clock() - dt.timedelta(days=minimum_days)
        if cutoff > floor:
            raise AuditRetentionError(
                f"{self.path}: refusing to remove audit entries written after "
                f"{floor.date().isoformat()}: audit entries are kept at least {minimum_days} "
                f"days (asked to remove everything before {cutoff.date().isoformat()})"
            )
        return self._transaction(lambda: self._purge(cutoff, minimum_days, override))

    def _transaction(self, body: Callable[[], T], *, entries: int = 1) -> T:
        """Run ``body`` in one write transaction; a failure counts ``entries`` failed writes.

        The file is first checked against the writer's view
        (:mod:`node.audit.writer_view`); tampering halts the store for good.
        """
        with self._lock:
            if self._closed:
                raise DisclosureLogError(f"{self.path}: the audit log is closed")
            if self.halted:
                self._failed_quietly(entries)
                raise AuditTamperError(self.path, self.halted)
            before = self._view.copy()
            signed = self._view.checkpoint
            try:
                check_file(self.path, self._view)
                self._db.execute("BEGIN IMMEDIATE")
                version = self._db.execute("PRAGMA data_version").fetchone()[0]
                if version != self._committed_version:
                    # Another connection committed: check what it did before building on it.
                    reconcile(
                        self._db, self.path, self._view, self._public,
                        adopt_unsigned=self._maintenance,
                    )  # fmt: skip
                result = body()
                self._db.execute("COMMIT")
                # Our own commits leave data_version as it was; another connection's move it.
                self._committed_version = version
            except AuditTamperError as exc:
                self._view = before
                self._rollback()
                self._failed(exc, entries)
                self._halt(exc.reason)
                raise
            except (sqlite3.Error, NotCanonicalError, ValueError) as exc:
                self._view = before
                self._rollback()
                self._failed(exc, entries)
                raise DisclosureLogError(f"{self.path}: cannot write the audit log: {exc}") from exc
            except BaseException:
                self._view = before
                self._rollback()
                raise
            if self._view.checkpoint is not signed:
                self._record_head()
                if self.on_checkpoint is not None and self._view.checkpoint is not None:
                    self.on_checkpoint(self._view.checkpoint)
            return result

    def _record_head(self) -> None:
        """Write the newest checkpoint to the last-known-head file (after it is committed)."""
        checkpoint = self._view.checkpoint
        if self._last_head is None or checkpoint is None:
            return
        try:
            self._last_head.write(
                HeadRecord(self.node_id, self._log_id, checkpoint.number, checkpoint.seq,
                           checkpoint.head, checkpoint.digest())
            )  # fmt: skip
        except DisclosureLogError as exc:
            # The log itself is committed; a stale head only makes the next start stricter.
            log.error("audit log %s: %s", self.path, exc)

    def _halt(self, reason: str) -> None:
        """Refuse every further write: the log was changed by someone else."""
        self.halted = reason
        self.tamper_detected += 1
        log.critical("audit log %s: TAMPERING DETECTED, disclosures stop: %s", self.path, reason)
        if self._last_head is not None:
            try:
                known = self._last_head.read() or HeadRecord(self.node_id, self._log_id)
                self._last_head.write(known.halt(reason))
            except DisclosureLogError as exc:
                log.error("audit log %s: cannot record the halt: %s", self.path, exc)
        if self.on_tamper is not None:
            self.on_tamper(reason)

    def _failed(self, exc: Exception, entries: int) -> None:
        """Count ``entries`` refused writes and log why."""
        with self._failures_lock:
            self.write_failures += entries
            self.last_failure = str(exc)
        log.error("audit log %s: write failed: %s", self.path, exc)

    def _failed_quietly(self, entries: int) -> None:
        """Count ``entries`` writes refused because the store is halted (logged once already)."""
        with self._failures_lock:
            self.write_failures += entries

    def _rollback(self) -> None:
        try:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
        except sqlite3.Error:
            log.exception("audit log %s: rollback failed", self.path)

    def _append(self, kind: str, data: Any) -> int:
        return self._append_sized(kind, data)[0]

    def _append_sized(self, kind: str, data: Any) -> tuple[int, int]:
        """Append one entry; its sequence number and the UTF-8 bytes of its body."""
        view = self._view
        seq = view.seq + 1
        now = self._clock()
        document = envelope(seq, kind, self.node_id, now, data)
        text = canonical_json(document)
        digest = chain_hash(view.head, text)
        self._db.execute(
            "INSERT INTO entries (seq, time, kind, body, prev_hash, hash)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (seq, document["time"], kind, text, view.head, digest),
        )
        view.seq, view.head = seq, digest
        self._checkpoint(due_only=True)
        return seq, len(text.encode("utf-8"))

    def _checkpoint(self, *, due_only: bool) -> Checkpoint | None:
        view = self._view
        seq, head = view.seq, view.head
        if seq == 0:
            return None
        last = view.checkpoint
        now = self._clock()
        if last is not None:
            waiting = seq - last.seq
            if waiting <= 0:
                return None
            if due_only:
                age = (now - dt.datetime.fromisoformat(last.time)).total_seconds()
                if waiting < self._every and age < self._seconds:
                    return None
        elif due_only and seq < self._every:
            # The first checkpoint of a log is due by count, or by the timer.
            first = self._db.execute("SELECT time FROM entries ORDER BY seq LIMIT 1").fetchone()
            age = (now - dt.datetime.fromisoformat(first[0])).total_seconds()
            if age < self._seconds:
                return None
        # Never sign what was not checked: everything since the last checkpoint, again.
        reconcile(self._db, self.path, view, self._public, adopt_unsigned=self._maintenance)
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
        view.checkpoint = checkpoint
        return checkpoint

    def _purge(self, cutoff: dt.datetime, minimum_days: int, override: str) -> AuditPurge:
        limit = cutoff.astimezone(dt.UTC).isoformat()
        first = self._db.execute("SELECT min(seq) FROM entries").fetchone()[0]
        # The cut is the end of the oldest run of entries older than the cutoff.
        newer = self._db.execute(
            "SELECT min(seq) FROM entries WHERE time >= ?", (limit,)
        ).fetchone()[0]
        cut = (newer - 1) if newer is not None else self._view.seq
        if first is None or cut < first:
            return AuditPurge(0, 0, 0)
        cut_hash = self._db.execute("SELECT hash FROM entries WHERE seq = ?", (cut,)).fetchone()[0]
        try:
            # The purged entries' subtree roots: every tree from the cut on stays provable,
            # so witnesses keep checking consistency across the purge.
            tree: dict[str, Any] = {"tree": tree_record(LogTree(self._db).prefix_range(cut))}
        except TreeError as exc:
            log.warning("audit log %s: the purge keeps no tree: %s", self.path, exc)
            tree = {}
        purge_seq = self._append(
            AUDIT_PURGED,
            {
                "cutoff": limit,
                "first_removed": first,
                "cut_seq": cut,
                "cut_hash": cut_hash,
                "removed": cut - first + 1,
                "minimum_days": minimum_days,
                **({"retention_override": override} if override else {}),
                **tree,
            },
        )
        self._db.execute(
            "INSERT INTO audit_meta (key, value) VALUES ('purge_below', ?)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (str(cut + 1),),
        )
        self._db.execute("DELETE FROM entries WHERE seq <= ?", (cut,))
        self._view.first_seq = cut + 1
        self._checkpoint(due_only=False)
        return AuditPurge(cut - first + 1, cut, purge_seq)

    @property
    def log_id(self) -> str:
        """The log's random id (``audit_meta.log_id``)."""
        return self._log_id

    def head_record(self) -> HeadRecord:
        """What the last-known-head file should say for this log now."""
        with self._lock:
            checkpoint = self._view.checkpoint
            if checkpoint is None:
                return HeadRecord(self.node_id, self._log_id)
            return HeadRecord(self.node_id, self._log_id, checkpoint.number, checkpoint.seq,
                              checkpoint.head, checkpoint.digest())  # fmt: skip

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
        # A failure is already logged; the chain still protects the tail. A halted
        # store signs nothing more.
        if not self.halted:
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
