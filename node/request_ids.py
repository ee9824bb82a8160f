"""Each request id once: a search whose id this node already answered is refused.

The broker chooses a search's request id, and the audit log files each
disclosure under it; an auditor, and the agency resolving a reference its
investigator quotes, look a disclosure up by that id. A replaying or careless
broker that sends the same id twice would give one id two disclosures (issue
16, item 6), so the node claims every id before it looks at any record and
refuses one already claimed (ALREADY_EXISTS, :mod:`fieldgate.node.status`) —
before any limit is counted, any record read or any audit entry written. The
refusal depends only on the ids the broker sent, never on what the node holds.

:class:`RequestIdRegister` keeps the claimed ids in a SQLite file beside the
store (a primary key makes the claim atomic across concurrent searches and
durable across restarts). A register created beside an existing audit log is
first filled from that log's search entries, so losing the file does not
reopen old ids. A claim is not fsynced (``synchronous = NORMAL``: it survives
the process being killed, not a power cut, and costs no second fsync per
search beside the audit entry's); at every start the ids of the audit log's
newest search entries are claimed again, so the last claims lost to a power
cut come back from the fsynced log. :class:`MemoryRequestIds` is the in-process form for tools and
tests that run a node without files.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Protocol

from fieldgate.node.errors import NodeError


class DuplicateRequestId(NodeError):
    """A search whose request id this node has already answered (or refused)."""

    def __init__(self, request_id: str) -> None:
        super().__init__(
            f"request id {request_id!r} was already used at this node; "
            "each search needs a new request id"
        )
        self.request_id = request_id


class RequestIds(Protocol):
    """Where a node claims each request id once."""

    def claim(self, request_id: str) -> None:
        """Claim ``request_id`` or raise :class:`DuplicateRequestId`."""
        ...

    def close(self) -> None:
        """Release any file the register holds."""
        ...


class MemoryRequestIds:
    """Claimed ids in memory: for a node without files (tools, tests, the bench)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ids: set[str] = set()

    def claim(self, request_id: str) -> None:
        """Claim ``request_id`` or raise :class:`DuplicateRequestId`."""
        with self._lock:
            if request_id in self._ids:
                raise DuplicateRequestId(request_id)
            self._ids.add(request_id)

    def close(self) -> None:
        """Nothing to release."""


class RequestIdRegister:
    """Claimed ids in a SQLite file; thread-safe."""

    def __init__(
        self,
        path: Path,
        node_id: str,
        seed: Callable[[bool], Iterable[str]] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Open (creating if new) the register of node ``node_id`` at ``path``.

        Ids are claimed per node: two nodes sharing one database directory (a
        test, a development setup) each answer the broker's search once.
        ``seed(everything)``: ids already in the node's audit log — all of them
        when the register is new (a lost register reopens none), else its newest
        ones (claims a power cut lost); claimed at once.
        """
        new = not path.exists()
        self._node = node_id
        self._clock = clock
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode = WAL")
        self._db.execute("PRAGMA busy_timeout = 2000")
        self._db.execute("PRAGMA synchronous = NORMAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS request_ids (node TEXT NOT NULL, id TEXT NOT NULL,"
            " at REAL NOT NULL, PRIMARY KEY (node, id)) STRICT"
        )
        if seed is not None:
            now = clock()
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany(
                    "INSERT OR IGNORE INTO request_ids (node, id, at) VALUES (?, ?, ?)",
                    ((node_id, request_id, now) for request_id in seed(new)),
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def claim(self, request_id: str) -> None:
        """Claim ``request_id`` durably or raise :class:`DuplicateRequestId`."""
        with self._lock:
            try:
                self._db.execute(
                    "INSERT INTO request_ids (node, id, at) VALUES (?, ?, ?)",
                    (self._node, request_id, self._clock()),
                )
            except sqlite3.IntegrityError:
                raise DuplicateRequestId(request_id) from None

    def close(self) -> None:
        """Close the register."""
        with self._lock:
            self._db.close()


def default_request_ids_path(database: Path) -> Path:
    """The register's file: beside the node's store."""
    return database.with_name(database.stem + ".request_ids.sqlite")
