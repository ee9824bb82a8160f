"""The owner's limits: each node refuses sweeps, polling and floods itself, durably.

The broker's limits live in each broker process, so two brokers doubled every
limit and a refusal at one was answered by the other (issue 16). A node keeps
its own, in a SQLite file beside its store (so a restart forgets nothing), on
the requester as verified — the person behind every credential: issuer,
agency and subject, not the credential id — and on the agency:

- **rate**: searches per requester, and per agency, in the last minute;
- **sweep**: distinct persons one requester searched in the window;
- **polling**: searches of the same person by one requester in the window.

Polling is counted twice over, and either count refuses:

- on the query: a keyed digest of the query normalised the way the matcher
  compares names — the surname's phonetic key, the given name's initial and
  the date of birth — checked before any record is looked at;
- on what was disclosed: a keyed digest of each record this requester was
  shown (:meth:`NodeLimits.admit_disclosed`), checked after the contract
  decided and before anything leaves. Re-spelling a name, transposing a date
  or switching to an identifier makes a new query but the same record, so it
  no longer resets the count (issue 16: one requester read a release date 14
  times under a limit of 3).

Why only disclosed records, never every matched one: counting a record the
contract withholds would refuse a held-but-denied person's re-spellings
while an absent person's go on, so *when refusals start* would tell "held"
from "absent". A record this requester was shown is one they already know
of; refusing them a further look tells them nothing new. So every count
reads only the requester's own history and what they were already shown,
never the store as such: a refusal (RESOURCE_EXHAUSTED) says nothing about
whether a record exists (docs/threat-model.md).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from fieldgate.core.claims import RequesterClaims
from fieldgate.core.config import Section
from fieldgate.core.digests import PersonDigester
from fieldgate.core.query import PersonQuery
from fieldgate.matching.matcher import phonetic_keys
from fieldgate.node.errors import NodeError

NODE_LIMIT_REASONS = ("rate_requester", "rate_agency", "sweep", "polling")
RATE_WINDOW_SECONDS = 60.0


@dataclass(frozen=True)
class NodeLimitsConfig:
    """``[node.limits]``: generous defaults, far above an investigator's pace."""

    enabled: bool = True
    requester_per_minute: int = 600
    """Searches one requester may make in any minute."""
    agency_per_minute: int = 6000
    """Searches one agency's requesters together may make in any minute."""
    window_seconds: float = 3600.0
    """The window in which persons and repeats are counted."""
    sweep_max_persons: int = 2000
    """Distinct persons one requester may search within the window."""
    poll_max_repeats: int = 60
    """Searches of the same person by one requester within the window."""


def node_limits_config(parent: Section) -> NodeLimitsConfig:
    """Read ``[node.limits]`` under ``parent`` (every key optional)."""
    if not parent.has("limits"):
        return NodeLimitsConfig()
    section = parent.section("limits")
    d = NodeLimitsConfig()
    config = NodeLimitsConfig(
        enabled=section.boolean("enabled", d.enabled),
        requester_per_minute=section.integer(
            "requester_per_minute", d.requester_per_minute, minimum=1
        ),
        agency_per_minute=section.integer("agency_per_minute", d.agency_per_minute, minimum=1),
        window_seconds=section.number("window_seconds", d.window_seconds, minimum=1.0),
        sweep_max_persons=section.integer("sweep_max_persons", d.sweep_max_persons, minimum=1),
        poll_max_repeats=section.integer("poll_max_repeats", d.poll_max_repeats, minimum=1),
    )
    section.finish()
    return config


class NodeLimitExceeded(NodeError):
    """A search over one of the node's limits; ``reason`` is in :data:`NODE_LIMIT_REASONS`."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def requester_key(claims: RequesterClaims) -> str:
    """The person behind the credentials: issuer, agency and subject (not the credential)."""
    return f"{claims.issuer}|{claims.agency}|{claims.subject}"


def person_key(digester: PersonDigester, query: PersonQuery) -> str:
    """The searched person, as the matcher would compare them, keyed (never the name)."""
    surname_key = phonetic_keys(query.surname)[0] if query.surname else ""
    given = query.given_name[:1]
    dob = query.dob.isoformat() if query.dob else ""
    identifiers = ",".join(f"{k}={v}" for k, v in sorted(query.identifiers))
    return digester.digest("person", surname_key, given, dob, identifiers)


_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS searches (at REAL NOT NULL, requester TEXT NOT NULL,"
    " agency TEXT NOT NULL, person TEXT NOT NULL) STRICT",
    "CREATE INDEX IF NOT EXISTS searches_requester ON searches (requester, at)",
    "CREATE INDEX IF NOT EXISTS searches_agency ON searches (agency, at)",
    "CREATE TABLE IF NOT EXISTS shown (at REAL NOT NULL, requester TEXT NOT NULL,"
    " record TEXT NOT NULL) STRICT",
    "CREATE INDEX IF NOT EXISTS shown_requester ON shown (requester, record, at)",
)


class NodeLimits:
    """The node's limits over its durable search history; thread-safe."""

    def __init__(
        self,
        path: Path,
        config: NodeLimitsConfig,
        digester: PersonDigester,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Open (creating if new) the history at ``path``; wall-clock time survives restarts."""
        self.config = config
        self._digester = digester
        self._clock = clock
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode = WAL")
        self._db.execute("PRAGMA busy_timeout = 2000")
        for statement in _SCHEMA:
            self._db.execute(statement)

    def admit(self, claims: RequesterClaims, query: PersonQuery) -> None:
        """Count one search, or raise :class:`NodeLimitExceeded` (nothing counted then)."""
        c = self.config
        if not c.enabled:
            return
        who, agency = requester_key(claims), claims.agency
        person = person_key(self._digester, query)
        with self._lock:
            now = self._clock()
            db = self._db
            minute = now - RATE_WINDOW_SECONDS
            window = now - c.window_seconds
            db.execute("DELETE FROM searches WHERE at < ?", (min(window, minute),))
            (mine,) = db.execute(
                "SELECT count(*) FROM searches WHERE requester = ? AND at >= ?", (who, minute)
            ).fetchone()
            if mine >= c.requester_per_minute:
                raise NodeLimitExceeded(
                    "rate_requester",
                    f"this agency's node refuses more than {c.requester_per_minute} searches "
                    "a minute by one requester; retry in a minute",
                )
            (theirs,) = db.execute(
                "SELECT count(*) FROM searches WHERE agency = ? AND at >= ?", (agency, minute)
            ).fetchone()
            if theirs >= c.agency_per_minute:
                raise NodeLimitExceeded(
                    "rate_agency",
                    f"this agency's node refuses more than {c.agency_per_minute} searches a "
                    f"minute from agency {agency!r}; retry in a minute",
                )
            (repeats,) = db.execute(
                "SELECT count(*) FROM searches WHERE requester = ? AND person = ? AND at >= ?",
                (who, person, window),
            ).fetchone()
            if repeats >= c.poll_max_repeats:
                raise NodeLimitExceeded(
                    "polling",
                    f"this requester searched the same person {repeats} times within "
                    f"{c.window_seconds:g} s (the limit is {c.poll_max_repeats}); "
                    "polling one person is refused",
                )
            if repeats == 0:
                (persons,) = db.execute(
                    "SELECT count(DISTINCT person) FROM searches WHERE requester = ? AND at >= ?",
                    (who, window),
                ).fetchone()
                if persons >= c.sweep_max_persons:
                    raise NodeLimitExceeded(
                        "sweep",
                        f"this requester searched {persons} different persons within "
                        f"{c.window_seconds:g} s (the limit is {c.sweep_max_persons}); bulk "
                        "searching is refused — call the agency if this is legitimate work",
                    )
            db.execute(
                "INSERT INTO searches (at, requester, agency, person) VALUES (?, ?, ?, ?)",
                (now, who, agency, person),
            )

    def admit_disclosed(self, claims: RequesterClaims, record_ids: Sequence[str]) -> None:
        """Count records about to be shown to this requester, or refuse them all.

        Called after the contract decided, with only the records it disclosed
        (never the withheld ones: see the module docstring). Raises
        :class:`NodeLimitExceeded` ("polling", nothing counted) when any of them
        was shown to this requester ``poll_max_repeats`` times in the window.
        """
        c = self.config
        if not c.enabled or not record_ids:
            return
        who = requester_key(claims)
        # Keyed: the history file never holds a record id an outsider could read.
        records = sorted({self._digester.digest("shown", rid) for rid in record_ids})
        with self._lock:
            now = self._clock()
            db = self._db
            window = now - c.window_seconds
            db.execute("DELETE FROM shown WHERE at < ?", (window,))
            marks = ",".join("?" * len(records))
            (most,) = db.execute(
                "SELECT coalesce(max(n), 0) FROM (SELECT count(*) AS n FROM shown WHERE"
                f" requester = ? AND at >= ? AND record IN ({marks}) GROUP BY record)",
                (who, window, *records),
            ).fetchone()
            if most >= c.poll_max_repeats:
                raise NodeLimitExceeded(
                    "polling",
                    f"this requester was shown the same record {most} times within "
                    f"{c.window_seconds:g} s under different spellings (the limit is "
                    f"{c.poll_max_repeats}); polling one person is refused",
                )
            db.executemany(
                "INSERT INTO shown (at, requester, record) VALUES (?, ?, ?)",
                ((now, who, record) for record in records),
            )

    def close(self) -> None:
        """Close the history."""
        with self._lock:
            self._db.close()


def default_limits_path(database: Path) -> Path:
    """The history's file: beside the node's store."""
    return database.with_name(database.stem + ".limits.sqlite")
