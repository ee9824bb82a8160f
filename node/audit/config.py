"""The ``[node.audit]`` table of a node's config.

Example::

    [node.audit]
    database = "kcso.audit.sqlite"     # default: next to the node's database
    key = "kcso.audit-key.pem"          # default: next to the node's database
    last_head = "/keys/kcso.head.json"  # default: beside the key (<key>.head.json)
    checkpoint_every = 100              # sign a checkpoint every N entries...
    checkpoint_seconds = 60             # ...or T seconds after the last, if entries wait
    retention_days = 2555               # audit entries kept (at least 365, CJIS)
    retention_override = ""             # a reason: allows retention_days below 365 (logged)
    busy_timeout_seconds = 2            # longest wait for a locked database

Every key is optional.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from pathlib import Path

from fieldgate.core.config import ConfigError, Section
from fieldgate.node.audit.witnessing import WitnessConfig

log = logging.getLogger("fieldgate.audit")

MIN_RETENTION_DAYS = 365
"""CJIS asks that audit records be kept at least a year."""

DEFAULT_RETENTION_DAYS = 7 * 365


@dataclass(frozen=True)
class AuditConfig:
    """Where and how a node keeps its audit log."""

    database: Path
    """The audit SQLite file."""
    key: Path
    """The node's Ed25519 signing key (PEM, mode 0600); created at first start if missing."""
    checkpoint_every: int = 100
    """Sign a checkpoint every this many entries."""
    checkpoint_seconds: float = 60.0
    """...or this long after the last checkpoint when entries are waiting."""
    retention_days: int = DEFAULT_RETENTION_DAYS
    """Audit entries older than this are removed by ``fieldgate node purge``."""
    busy_timeout_seconds: float = 2.0
    """Longest wait for a locked database before a search is refused."""
    retention_override: str = ""
    """Why this node keeps audit entries less than :data:`MIN_RETENTION_DAYS` ("" when
    it does not); logged at every load and written into every purge entry."""
    witnesses: tuple[WitnessConfig, ...] = ()
    """Witnesses each checkpoint is pushed to (:mod:`node.audit.witnessing`)."""
    witness_quorum: int = 0
    """How many must cosign each checkpoint; fewer raises the alert."""
    witness_timeout_seconds: float = 30.0
    """How long one witness may take to answer."""
    last_head: Path | None = None
    """The last known head of the log (:mod:`node.audit.last_head`); None: beside the key."""

    @property
    def retention_floor(self) -> int:
        """The youngest age, in days, at which an audit entry may be purged."""
        if self.retention_override:
            return min(self.retention_days, MIN_RETENTION_DAYS)
        return MIN_RETENTION_DAYS

    @property
    def last_head_path(self) -> Path:
        """Where the last known head is kept: ``last_head``, else ``<key>.head.json``."""
        return self.last_head or self.key.with_name(self.key.stem + ".head.json")


def default_audit_config(node_database: Path) -> AuditConfig:
    """The audit settings of a node whose config has no ``[node.audit]`` table."""
    stem = node_database.with_suffix("")
    return AuditConfig(
        database=stem.with_name(stem.name + ".audit.sqlite"),
        key=stem.with_name(stem.name + ".audit-key.pem"),
    )


def audit_config(section: Section, node_database: Path) -> AuditConfig:
    """Read ``[node.audit]``.

    Raises:
        fieldgate.core.config.ConfigError: naming the bad key.
    """
    default = default_audit_config(node_database)
    override = section.string("retention_override") if section.has("retention_override") else ""
    config = AuditConfig(
        database=section.path("database", str(default.database)),
        key=section.path("key", str(default.key)),
        checkpoint_every=section.integer("checkpoint_every", 100, minimum=1),
        checkpoint_seconds=section.number("checkpoint_seconds", 60.0, minimum=0.1),
        retention_days=section.integer(
            "retention_days", DEFAULT_RETENTION_DAYS, minimum=1 if override else MIN_RETENTION_DAYS
        ),
        retention_override=override,
        busy_timeout_seconds=section.number("busy_timeout_seconds", 2.0, minimum=0.01),
        last_head=section.optional_path("last_head"),
        witnesses=_witnesses(section),
        witness_timeout_seconds=section.number("witness_timeout_seconds", 30.0, minimum=0.1),
    )
    quorum = section.integer("witness_quorum", len(config.witnesses), minimum=0)
    if quorum > len(config.witnesses):
        raise ConfigError(
            section._key("witness_quorum"),
            f"is {quorum} but only {len(config.witnesses)} witnesses are configured",
        )
    config = dataclasses.replace(config, witness_quorum=quorum)
    section.finish()
    if override:
        log.warning(
            "audit retention floor overridden: entries may be purged after %d days, not %d (%s)",
            config.retention_days,
            MIN_RETENTION_DAYS,
            override,
        )
    return config


def _witnesses(section: Section) -> tuple[WitnessConfig, ...]:
    """``[[node.audit.witnesses]]``: name, url (http or https), key (hex)."""
    found = []
    if not section.has("witnesses"):
        return ()
    for table in section.sections("witnesses"):
        url = table.string("url").rstrip("/")
        if not url.startswith(("http://", "https://")):
            raise ConfigError(table._key("url"), f"must be an http or https URL, not {url!r}")
        key = table.string("key")
        if len(key) != 64 or any(c not in "0123456789abcdef" for c in key):
            raise ConfigError(table._key("key"), "must be the witness's Ed25519 key, 64 hex digits")
        found.append(WitnessConfig(table.string("name"), url, key))
        table.finish()
    return tuple(found)
