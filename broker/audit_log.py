"""The broker's own log of searches: who asked, for what, and which nodes it asked.

The broker holds no records, so its log is about traffic, not disclosures
(each node writes those itself, before answering). One row per search,
written after the fan-out, in an append-only SQLite table (triggers refuse
UPDATE and DELETE)::

    searches(seq PK, time, request_id, subject, agency, agency_type, purpose,
             case_number, credential_id, query_digest, nodes JSON)

``query_digest`` is keyed (HMAC-SHA256 under the deployment's digest key,
:mod:`fieldgate.core.digests`): an auditor with the key finds a person's
searches; a dictionary over names and dates of birth finds nothing.

``nodes`` lists every node asked with its status and hit count. ``request_id``
is the id each node's audit entry carries, so an auditor can join the two.
An agency hedged to a replica (``broker.straggler``) also lists ``asked``, the
addresses asked, primary first, and ``answered_by``: each of them may hold an
audit entry for the search, though the requester saw one answer. A search the
requester cancelled is logged too, its unfinished nodes with status
``NODE_STATUS_UNSPECIFIED``: they were asked, and may have logged it.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import secrets
import sqlite3
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path

from fieldgate.broker.config import BrokerConfig
from fieldgate.broker.errors import BrokerError
from fieldgate.core.digests import (
    KEY_BYTES,
    PersonDigester,
    default_digest_key_path,
    ensure_digest_key,
)
from fieldgate.core.query import PersonQuery
from fieldgate.v2 import broker_pb2, common_pb2

log = logging.getLogger("fieldgate.broker")

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS searches (seq INTEGER PRIMARY KEY, time TEXT NOT NULL,"
    " request_id TEXT NOT NULL, subject TEXT NOT NULL, agency TEXT NOT NULL,"
    " agency_type TEXT NOT NULL, purpose TEXT NOT NULL, case_number TEXT NOT NULL,"
    " credential_id TEXT NOT NULL, query_digest TEXT NOT NULL, nodes TEXT NOT NULL) STRICT",
    "CREATE TRIGGER IF NOT EXISTS searches_append_only BEFORE UPDATE ON searches"
    " BEGIN SELECT RAISE(ABORT, 'the broker search log is append-only'); END",
    "CREATE TRIGGER IF NOT EXISTS searches_kept BEFORE DELETE ON searches"
    " BEGIN SELECT RAISE(ABORT, 'the broker search log is append-only'); END",
)


class BrokerLogError(BrokerError):
    """The broker's search log cannot be opened or written."""


def search_log_digester(config: BrokerConfig) -> PersonDigester:
    """The deployment's digester for the search log: ``digest_key``, or a new key beside the log.

    Raises:
        fieldgate.core.digests.DigestKeyError: the key file is unusable.
    """
    assert config.search_log is not None
    return ensure_digest_key(config.digest_key or default_digest_key_path(config.search_log))


class BrokerSearchLog:
    """An append-only SQLite log of the searches a broker fanned out."""

    def __init__(self, path: Path, digester: PersonDigester | None = None) -> None:
        """Open (creating if new) the log at ``path``; persons digested with ``digester``.

        Without ``digester`` the log digests under a random key of its own,
        never unkeyed (so its digests then join nothing, not even each other
        across restarts).

        Raises:
            BrokerLogError: the file cannot be used.
        """
        self.path = path
        self._digester = digester or PersonDigester(secrets.token_bytes(KEY_BYTES))
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA busy_timeout = 2000")
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA synchronous = FULL")
            for statement in _SCHEMA:
                self._db.execute(statement)
        except sqlite3.Error as exc:
            raise BrokerLogError(f"{path}: cannot open the broker search log: {exc}") from exc

    def write(
        self,
        request_id: str,
        requester: common_pb2.Requester,
        query: PersonQuery | None,
        results: Sequence[broker_pb2.AgencyResult],
        credential_id: str = "",
        hedged: Mapping[str, tuple[Sequence[str], str]] | None = None,
        sealed: str = "",
    ) -> None:
        """Append one search.

        ``query`` is the clear query of a development search; a sealed search
        has none the broker can read, and ``sealed`` (the proof's salted
        commitment) is logged in its place, prefixed ``sealed:``.

        ``hedged`` maps the node id of each agency whose replicas were asked to
        the addresses asked (primary first) and the one that answered ("" if none).

        Raises:
            BrokerLogError: the row could not be written.
        """
        nodes: list[dict[str, object]] = []
        for r in results:
            node: dict[str, object] = {
                "node_id": r.node_id,
                "status": broker_pb2.NodeStatus.Name(r.status),
                "hits": len(r.hits),
            }
            if hedged and r.node_id in hedged:
                asked, answered_by = hedged[r.node_id]
                node["asked"] = list(asked)
                node["answered_by"] = answered_by
            nodes.append(node)
        row = (
            dt.datetime.now(dt.UTC).isoformat(),
            request_id,
            requester.subject,
            requester.agency,
            requester.agency_type,
            requester.purpose,
            requester.case_number,
            credential_id,
            self._digester.query(query) if query is not None else f"sealed:{sealed}",
            json.dumps(nodes, sort_keys=True),
        )
        with self._lock:
            try:
                self._db.execute(
                    "INSERT INTO searches (time, request_id, subject, agency, agency_type,"
                    " purpose, case_number, credential_id, query_digest, nodes)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    row,
                )
            except sqlite3.Error as exc:
                raise BrokerLogError(f"{self.path}: cannot write: {exc}") from exc

    def rows(self) -> list[dict[str, object]]:
        """Every logged search, oldest first (for tools and tests)."""
        with self._lock:
            cursor = self._db.execute("SELECT * FROM searches ORDER BY seq")
            names = [d[0] for d in cursor.description]
            found = [dict(zip(names, row, strict=True)) for row in cursor]
        for row in found:
            row["nodes"] = json.loads(str(row["nodes"]))
        return found

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()
