"""Audit storage no requester can exhaust: a per-requester and per-agency budget of audit bytes.

Every search a node answers is audited, denied ones included, so a single
credential searching a frequently-booked person at its rate limit once grew a
node's audit log by about 100 GiB a day; the shipped 5 Gi volume filled in an
hour and the node then answered UNAVAILABLE to everyone (CJIS AU-4, AU-5).

:class:`AuditBudget` counts the audit bytes each requester (its credential id,
else ``agency/subject``) and each agency caused within a window; once one is
spent, that requester's (or agency's) further searches are refused with
RESOURCE_EXHAUSTED before any record is looked at. The refusal is written to
the audit log **once per requester (or agency) and window** (a
``budget_refused`` entry, :meth:`AuditBudget.refusal_data`), logged once,
and every refused search is counted (``fieldgate_node_audit_budget_refusals_total``,
alert ``FieldgateAuditBudgetRefusing``): the refusals themselves cannot fill the
log. Everyone else keeps being served. It also watches the audit volume
(the database and its WAL): ``fieldgate_node_audit_volume_bytes`` against
``volume_bytes``, an error logged and alert ``FieldgateAuditVolumeFilling``
firing once it passes ``alert_fraction`` of it.

:class:`BudgetedDisclosureLog` wraps the node's disclosure log and charges each
entry written to its requester; the charge is the size of the entry's data as
the audit store keeps it (:func:`entry_bytes`: the whole entry and its two chain hashes).

Configured in ``[node.audit_budget]`` (every key optional)::

    [node.audit_budget]
    requester_bytes = 67108864     # audit bytes one requester may cause per window
    agency_bytes = 536870912       # ... one agency, all its requesters together
    window_seconds = 86400
    volume_bytes = 5368709120      # the audit volume; 0 watches nothing
    alert_fraction = 0.8
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from fieldgate.core.claims import RequesterClaims
from fieldgate.core.config import ConfigError, Section
from fieldgate.node.audit.canonical import canonical_json
from fieldgate.node.audit.entries import SEARCH, envelope, search_data
from fieldgate.node.disclosure_log import DisclosureEntry, DisclosureLog
from fieldgate.node.errors import NodeError

log = logging.getLogger("fieldgate.node")

__all__ = [
    "AuditBudget",
    "AuditBudgetConfig",
    "AuditBudgetExceeded",
    "BudgetedDisclosureLog",
    "audit_budget_config",
]


@dataclass(frozen=True)
class AuditBudgetConfig:
    """``[node.audit_budget]``: how much audit storage one requester and one agency may cause."""

    enabled: bool = True
    """False turns the budget off (load tests, benchmarks)."""
    requester_bytes: int = 64 * 1024 * 1024
    """Audit bytes one requester may cause per window (about 500 searches a day at 124 KiB)."""
    agency_bytes: int = 512 * 1024 * 1024
    """Audit bytes one agency's requesters together may cause per window."""
    window_seconds: float = 86_400.0
    """The window budgets are counted over; spent budgets return when it ends."""
    volume_bytes: int = 5 * 1024 * 1024 * 1024
    """Size of the audit volume, watched for the alert; 0 watches nothing."""
    alert_fraction: float = 0.8
    """Fraction of ``volume_bytes`` at which the node logs an alert."""


def audit_budget_config(section: Section) -> AuditBudgetConfig:
    """Read ``[node.audit_budget]`` (every key optional), naming a bad key."""
    d = AuditBudgetConfig()
    config = AuditBudgetConfig(
        enabled=section.boolean("enabled", d.enabled),
        requester_bytes=section.integer("requester_bytes", d.requester_bytes, minimum=1024),
        agency_bytes=section.integer("agency_bytes", d.agency_bytes, minimum=1024),
        window_seconds=section.number("window_seconds", d.window_seconds, minimum=1.0),
        volume_bytes=section.integer("volume_bytes", d.volume_bytes, minimum=0),
        alert_fraction=section.number("alert_fraction", d.alert_fraction, minimum=0.01),
    )
    section.finish()  # a misspelt key is named, not ignored
    if config.alert_fraction > 1.0:
        raise ConfigError("node.audit_budget.alert_fraction", "must be at most 1.0")
    return config


class AuditBudgetExceeded(NodeError):
    """A requester or agency has spent its audit budget for this window.

    Attributes:
        message: what the requester is told (which budget, when it returns).
        budget: ``requester`` or ``agency``: which budget is spent.
        first: whether this is the first refusal of that budget in the window
            (the one the audit log records).
        audit: the ``data`` of the ``budget_refused`` entry to write when ``first``.
    """

    def __init__(
        self, message: str, budget: str = "requester", *, first: bool = False,
        audit: dict[str, object] | None = None,
    ) -> None:  # fmt: skip
        super().__init__(message)
        self.message = message
        self.budget = budget
        self.first = first
        self.audit = audit or {}


def requester_key(claims: RequesterClaims) -> str:
    """Whom a search is charged to: the credential when signed, else ``agency/subject``."""
    return claims.credential_id or f"{claims.agency}/{claims.subject}"


class AuditBudget:
    """Counts audit bytes per requester and per agency in fixed windows; refuses the spent."""

    def __init__(
        self,
        config: AuditBudgetConfig,
        *,
        volume_path: Path | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Budget by ``config``; ``volume_path`` is the audit database whose size is watched."""
        self.config = config
        self._clock = clock
        self._volume_path = volume_path
        self._lock = threading.Lock()
        self._window_start = clock()
        self._spent: dict[str, int] = {}
        self._refused_noted: set[str] = set()
        self.refusals = 0
        """Searches refused for a spent budget since start."""
        self.volume_alerted = False
        """Whether the audit volume has passed ``alert_fraction`` (logged once)."""
        self.volume_used = 0
        """Bytes of the audit volume in use when last looked at (database and WAL)."""
        self.on_refusal: Callable[[str], None] | None = None
        """Called with ``requester`` or ``agency`` for every refused search (a metric)."""
        self.audit_refusal: Callable[[dict[str, object]], object] | None = None
        """Writes a ``budget_refused`` entry with the data given (the node's audit log)."""

    def _roll(self, now: float) -> None:
        if now - self._window_start >= self.config.window_seconds:
            self._window_start = now
            self._spent.clear()
            self._refused_noted.clear()

    def admit(self, claims: RequesterClaims) -> None:
        """Return if ``claims``' requester and agency may cause more audit entries now.

        Raises:
            AuditBudgetExceeded: either budget is spent for this window.
        """
        if not self.config.enabled:
            return
        now = self._clock()
        who, agency = requester_key(claims), f"agency:{claims.agency}"
        with self._lock:
            self._roll(now)
            over = None
            if self._spent.get(who, 0) >= self.config.requester_bytes:
                over = (who, "this requester's")
            elif self._spent.get(agency, 0) >= self.config.agency_bytes:
                over = (agency, "this agency's")
            if over is None:
                return
            self.refusals += 1
            first = over[0] not in self._refused_noted
            self._refused_noted.add(over[0])
            returns_in = self.config.window_seconds - (now - self._window_start)
            spent = self._spent.get(over[0], 0)
        budget = "requester" if over[0] == who else "agency"
        if self.on_refusal is not None:
            self.on_refusal(budget)
        if first:
            # Once per requester and window: the refusals themselves must not fill the log.
            log.error(
                "audit budget spent by %.200s: further searches refused for %.0f s",
                over[0],
                returns_in,
            )
        raise AuditBudgetExceeded(
            f"{over[1]} audit budget at this node is spent; searches are accepted again "
            f"in {returns_in:.0f} s",
            budget,
            first=first,
            audit=self.refusal_data(claims, budget, spent, returns_in) if first else None,
        )

    def refusal_data(
        self, claims: RequesterClaims, budget: str, spent: int, returns_in: float
    ) -> dict[str, object]:
        """The ``data`` of the ``budget_refused`` entry: who, which budget, how much, until when.

        Bounded in size whatever the requester sent: every claim is cut to 200 characters.
        """
        return {
            "requester": {
                "subject": claims.subject[:200],
                "agency": claims.agency[:200],
                "agency_type": claims.agency_type[:200],
                "credential_id": claims.credential_id[:200],
                "purpose": claims.purpose[:200],
            },
            "budget": budget,
            "spent_bytes": spent,
            "limit_bytes": (
                self.config.requester_bytes if budget == "requester" else self.config.agency_bytes
            ),
            "window_seconds": int(self.config.window_seconds),
            "refused_for_seconds": int(returns_in),
        }

    def charge(self, claims: RequesterClaims, nbytes: int) -> None:
        """Count ``nbytes`` of audit storage against the requester and its agency."""
        if not self.config.enabled:
            return
        who, agency = requester_key(claims), f"agency:{claims.agency}"
        with self._lock:
            self._roll(self._clock())
            self._spent[who] = self._spent.get(who, 0) + nbytes
            self._spent[agency] = self._spent.get(agency, 0) + nbytes
        self._watch_volume()

    def spent(self, claims: RequesterClaims) -> int:
        """Audit bytes charged to ``claims``' requester in the current window."""
        with self._lock:
            return self._spent.get(requester_key(claims), 0)

    def volume_in_use(self) -> int:
        """Bytes of the audit database and its WAL now (0 when no database is watched)."""
        if self._volume_path is None:
            return 0
        return sum(
            p.stat().st_size
            for p in (
                self._volume_path,
                self._volume_path.with_name(self._volume_path.name + "-wal"),
            )
            if p.exists()
        )

    def record_refusal(self, refusal: AuditBudgetExceeded) -> None:
        """Write the first refusal of a budget in its window to the audit log (if one is set).

        Called off the event loop: it waits for the audit write. A failure is
        logged; the search stays refused either way.
        """
        if self.audit_refusal is None or not refusal.first:
            return
        try:
            self.audit_refusal(refusal.audit)
        except NodeError as exc:
            log.error("audit budget refusal could not be written to the audit log: %s", exc)

    def _watch_volume(self) -> None:
        if self._volume_path is None or not self.config.volume_bytes:
            return
        used = self.volume_used = self.volume_in_use()
        if self.volume_alerted:
            return
        if used >= self.config.alert_fraction * self.config.volume_bytes:
            self.volume_alerted = True
            log.error(
                "audit volume %s holds %d bytes, %.0f%% of its %d: expand it or purge (AU-5)",
                self._volume_path,
                used,
                100 * used / self.config.volume_bytes,
                self.config.volume_bytes,
            )


_CHAIN_HASHES = 2 * 64
"""Each entry's row also keeps its previous and its own chain hash (hex)."""
_LARGEST_SEQ = 10**15
"""A sequence number no log reaches: the envelope charged is never smaller than the one kept."""


def entry_bytes(entry: DisclosureEntry) -> int:
    """Bytes the audit store keeps for ``entry``: its canonical JSON and its two hashes."""
    document = envelope(_LARGEST_SEQ, SEARCH, entry.node_id, entry.time, search_data(entry))
    return len(canonical_json(document).encode("utf-8")) + _CHAIN_HASHES


class BudgetedDisclosureLog:
    """A disclosure log that charges each entry written to its requester's budget."""

    def __init__(self, inner: DisclosureLog, budget: AuditBudget) -> None:
        self.inner = inner
        self.budget = budget

    def write(self, entry: DisclosureEntry) -> int | None:
        """Write through to the real log, then charge the entry's size.

        The size the log reports keeping (the audit store's canonical JSON, made
        once) when it reports one; else :func:`entry_bytes` (a bound, from a
        second serialisation).
        """
        kept = self.inner.write(entry)
        size = kept + _CHAIN_HASHES if isinstance(kept, int) else entry_bytes(entry)
        self.budget.charge(entry.requester, size)
        return kept
