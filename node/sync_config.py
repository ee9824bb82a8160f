"""``[node.sync]``: how a node reads its records from the agency's own database.

Example (a typical RMS; see README, "Following the agency's records system")::

    [node.sync]
    source = "postgresql://fieldgate_reader@rms-db.internal/rms"  # --source overrides
    query = "SELECT * FROM fieldgate_export"   # the agency's query or view, one row per record
    key = "booking_id"                         # unique per row: orders rows with the same change
    change_column = "updated_at"               # rises whenever a row changes (or a change-log seq)
    deleted_column = "deleted"                 # optional: true deletes the record
    expunged_column = "expunged"               # optional: true expunges it for good
    batch_size = 5000                          # rows per change set (transaction, audit entry)
    every = "5m"                               # optional: default of --every

    [node.sync.columns]                        # record key or catalog field = column
    record_id = "booking_id"
    record_kind = "record_kind"
    surname = "last_name"
    given_name = "first_name"
    dob = "date_of_birth"
    sealed = "sealed"
    "address.city" = "city"

The password never belongs here: libpq reads it from ``PGPASSWORD`` or
``~/.pgpass``. Column names are SQL identifiers, quoted when the query is built.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from fieldgate.core.config import ConfigError, Section
from fieldgate.policy.catalog import ADDRESS_KEYS, RESERVED_KEYS, FieldCatalog

_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(s|m|h|d)")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class SyncConfig:
    """The mapping from the agency's database to records (``[node.sync]``)."""

    query: str
    """A SELECT (or ``SELECT * FROM a_view``) giving one row per record."""
    key: str
    """A column unique per row; with ``change_column`` it orders and resumes the sync."""
    change_column: str
    """A column that rises whenever a row changes: an updated-at time or a change-log sequence."""
    columns: Mapping[str, str]
    """Record key or catalog field (``address.city`` for address parts) → column."""
    source: str | None = None
    """The database's connection URL (``postgresql://user@host/db``), unless ``--source``."""
    deleted_column: str | None = None
    """A boolean column: true deletes the record."""
    expunged_column: str | None = None
    """A boolean column: true expunges the record for good."""
    batch_size: int = 5000
    """Rows per change set: one transaction and one audit entry each."""
    every_seconds: float | None = None
    """Default interval between sync cycles (``every``), if any."""

    def check_fields(self, catalog: FieldCatalog) -> None:
        """Refuse a mapping onto something that is neither a record key nor a catalog field.

        Raises:
            ConfigError: naming the bad ``node.sync.columns`` key.
        """
        for name in self.columns:
            field, _, part = name.partition(".")
            spec = catalog.fields.get(field)
            if part and not (spec and spec.type == "address" and part in ADDRESS_KEYS):
                raise ConfigError(f"node.sync.columns.{name}", "is not an address part")
            if not part and spec is None and field not in RESERVED_KEYS:
                raise ConfigError(
                    f"node.sync.columns.{name}", "is not a field of this node's catalog"
                )


def parse_duration(text: str, key: str = "--every") -> float:
    """Seconds in ``30s``, ``5m``, ``1h`` or ``1d``.

    Raises:
        ConfigError: naming ``key`` when the text is not such a duration.
    """
    match = _DURATION.fullmatch(text.strip().lower())
    if not match or float(match.group(1)) <= 0:
        raise ConfigError(key, f"must be a duration such as 30s, 5m or 1h, not {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def sync_config(node: Section) -> SyncConfig | None:
    """Read ``[node.sync]`` from the ``[node]`` section; None when it is absent."""
    if not node.has("sync"):
        return None
    section = node.section("sync")
    columns_section = section.section("columns")
    columns = {name: columns_section.string(name) for name in columns_section.names()}
    columns_section.finish()
    for required in ("record_id", "record_kind"):
        if required not in columns:
            raise ConfigError(f"node.sync.columns.{required}", "is required")
    every = section.string("every", "") if section.has("every") else None
    config = SyncConfig(
        query=section.string("query"),
        key=section.string("key"),
        change_column=section.string("change_column"),
        columns=columns,
        source=section.string("source") if section.has("source") else None,
        deleted_column=section.string("deleted_column") if section.has("deleted_column") else None,
        expunged_column=(
            section.string("expunged_column") if section.has("expunged_column") else None
        ),
        batch_size=section.integer("batch_size", 5000, minimum=1),
        every_seconds=parse_duration(every, "node.sync.every") if every else None,
    )
    section.finish()
    return config
