"""Sync from the agency's own database: the node follows the system of record, batch by batch.

``fieldgate node sync`` reads the rows of the agency's query (``[node.sync]``,
:mod:`node.sync_config`) that changed since the node's watermark, in the
order of (change column, key), ``batch_size`` rows at a time::

    SELECT * FROM (<query>) AS fieldgate_source
     WHERE (<change_column>, <key>) > (<watermark>)
     ORDER BY <change_column>, <key> LIMIT <batch_size>

Each batch becomes one change set (:mod:`node.changes`): a row whose
expunged column is true expunges its record, one whose deleted column is
true deletes it, any other row upserts the record its mapped columns make
(sealed included). The batch, its ``records_changed`` audit entry and the
new watermark (the last row's change value and key) are committed together,
so a sync killed at any point resumes exactly after the last batch applied:
nothing lost, nothing applied twice. A bad row refuses its whole batch, the
error naming the row by its key; the watermark stays, and the next cycle
tries again.

What the watermark cannot see: a row deleted outright from the query's
result (use a deleted flag, or a change-log view), and a row whose change
value is lower than one already read — an updated-at set by a transaction
that commits after a later one. A change-log table filled by triggers with
a sequence, read after its writers commit, avoids the second; README
("Following the agency's records system") shows both mappings.
"""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import json
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.rows import dict_row

from fieldgate.node.audit.store import AuditStore
from fieldgate.node.changes import (
    DELETE,
    EXPUNGE,
    Change,
    apply_changes,
    change_or_reason,
    check_changes,
    collector_paused,
)
from fieldgate.node.errors import NodeError
from fieldgate.node.store import RecordStore
from fieldgate.node.sync_config import SyncConfig
from fieldgate.policy.catalog import RESERVED_KEYS, FieldCatalog

WATERMARK_SOURCE = "node.sync"
"""The name the sync's watermark is stored under in the record store."""

MAX_LISTED_ROWS = 20
"""Most bad rows one error lists."""

SyncProgress = Callable[[int, int], None]
"""Called as ``progress(rows done, rows pending at the start)``."""


class SyncError(NodeError):
    """A sync cycle stopped: the database cannot be read, or a batch was refused."""


@dataclass
class SyncCycle:
    """What one sync cycle did.

    Attributes:
        rows: rows read.
        batches: change sets applied.
        counts: per operation (and ``unchanged``), summed over the batches.
        watermark: the watermark after the cycle (None: nothing read yet, ever).
        audit_seqs: the ``records_changed`` entries written.
    """

    rows: int = 0
    batches: int = 0
    counts: Counter[str] = field(default_factory=Counter)
    watermark: str | None = None
    audit_seqs: list[int] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """For people and JSON."""
        return {
            "rows": self.rows,
            "batches": self.batches,
            "counts": dict(sorted(self.counts.items())),
            "watermark": json.loads(self.watermark) if self.watermark else None,
            "audit_entries": self.audit_seqs,
        }


def safe_source(url: str) -> str:
    """The connection string without its password, fit for logs and the audit log."""
    try:
        params = conninfo_to_dict(url)
    except psycopg.ProgrammingError as exc:
        raise SyncError(f"--source: not a PostgreSQL connection string: {exc}") from None
    params.pop("password", None)
    return make_conninfo(**{k: str(v) for k, v in params.items() if v is not None})


def sync_once(
    store: RecordStore,
    audit: AuditStore,
    catalog: FieldCatalog,
    config: SyncConfig,
    source: str,
    *,
    progress: SyncProgress | None = None,
) -> SyncCycle:
    """Read every row changed since the watermark and apply it, one change set per batch.

    Raises:
        SyncError: the database cannot be read, or a batch has bad rows
            (named by key); batches applied before it stay applied.
        node.errors.DisclosureLogError: an audit entry could not be written;
            that batch was not applied.
    """
    config.check_fields(catalog)
    shown = safe_source(source)
    origin = {
        "kind": "postgresql",
        "database": shown,
        "query_sha256": hashlib.sha256(config.query.encode()).hexdigest(),
    }
    cycle = SyncCycle(watermark=store.watermark(WATERMARK_SOURCE))
    try:
        with (
            collector_paused(),
            psycopg.connect(source, autocommit=True, row_factory=dict_row) as db,
        ):
            total = _pending(db, config, cycle.watermark)
            while True:
                rows = _batch(db, config, cycle.watermark)
                if not rows:
                    break
                changes = _changes(rows, config, catalog, store)
                mark = _encode_watermark(rows[-1][config.change_column], rows[-1][config.key])
                result = apply_changes(
                    store, audit, changes, source=origin, watermark=(WATERMARK_SOURCE, mark)
                )
                cycle.watermark = mark
                cycle.rows += len(rows)
                cycle.batches += 1
                cycle.counts.update({k: v for k, v in result.summary().items() if v})
                cycle.audit_seqs.append(result.audit_seq)
                if progress is not None:
                    progress(cycle.rows, max(total, cycle.rows))
                if len(rows) < config.batch_size:
                    break
    except psycopg.Error as exc:
        raise SyncError(f"{shown}: {str(exc).strip()}") from None
    return cycle


def _source_sql(config: SyncConfig, watermark: str | None, *, count: bool) -> sql.Composed:
    query = sql.SQL(config.query.strip().rstrip(";"))  # the agency's own SQL, from its config
    change, key = sql.Identifier(config.change_column), sql.Identifier(config.key)
    parts = [
        sql.SQL("SELECT count(*) AS n" if count else "SELECT *"),
        sql.SQL(" FROM ({query}) AS fieldgate_source").format(query=query),
    ]
    if watermark is not None:
        parts.append(sql.SQL(" WHERE ({}, {}) > (%s, %s)").format(change, key))
    if not count:
        parts.append(sql.SQL(" ORDER BY {}, {} LIMIT %s").format(change, key))
    return sql.Composed(parts)


def _params(watermark: str | None) -> list[Any]:
    return list(_decode_watermark(watermark)) if watermark is not None else []


def _pending(db: psycopg.Connection[dict[str, Any]], config: SyncConfig, mark: str | None) -> int:
    row = db.execute(_source_sql(config, mark, count=True), _params(mark)).fetchone()
    return int(row["n"]) if row else 0


def _batch(
    db: psycopg.Connection[dict[str, Any]], config: SyncConfig, mark: str | None
) -> list[dict[str, Any]]:
    rows = db.execute(
        _source_sql(config, mark, count=False), [*_params(mark), config.batch_size]
    ).fetchall()
    if rows:
        wanted = {config.key, config.change_column, *config.columns.values()}
        wanted |= {c for c in (config.deleted_column, config.expunged_column) if c}
        missing = sorted(wanted - set(rows[0]))
        if missing:
            raise SyncError(f"node.sync: the query gives no column {missing[0]!r}")
    return rows


def _changes(
    rows: list[dict[str, Any]], config: SyncConfig, catalog: FieldCatalog, store: RecordStore
) -> list[Change]:
    """The batch's changes; raise naming the bad rows when any is bad."""
    problems: list[tuple[int, str]] = []
    changes: list[Change] = []
    for number, row in enumerate(rows):
        item = _row_change(row, config, catalog)
        if isinstance(item, str):
            problems.append((number, item))
        else:
            changes.append(item)
    if not problems:
        problems = check_changes(store, enumerate(changes), expunge_unknown=True)
    if problems:
        listed = [f"  row {config.key}={rows[n][config.key]!r}: {why}" for n, why in problems][
            :MAX_LISTED_ROWS
        ]
        more = len(problems) - len(listed)
        tail = [f"  ... and {more} more bad rows"] if more else []
        raise SyncError(
            "\n".join(
                [f"node.sync: {len(problems)} bad rows; this batch was not applied", *listed, *tail]
            )
        )
    return changes


def _row_change(row: Mapping[str, Any], config: SyncConfig, catalog: FieldCatalog) -> Change | str:
    record_id = row[config.columns["record_id"]]
    if record_id is None:
        return "record_id: is missing"
    for column, op in ((config.expunged_column, EXPUNGE), (config.deleted_column, DELETE)):
        if column and row[column]:
            return Change(op, str(record_id).strip())
    raw: dict[str, object] = {}
    for name, column in config.columns.items():
        field_name, _, part = name.partition(".")
        if part:
            address = raw.setdefault(field_name, {})
            assert isinstance(address, dict)
            address[part] = _text(row[column])
            continue
        field_type = "string" if name in RESERVED_KEYS else catalog.fields[name].type
        if name in ("sealed", "juvenile", "expunged"):
            raw[name] = bool(row[column])
        else:
            raw[name] = _value(row[column], field_type)
    return change_or_reason(raw, catalog)


def _value(value: Any, field_type: str) -> object:
    """A database value as the record model wants it (validated after)."""
    if value is None:
        return None
    if field_type == "date" and isinstance(value, dt.date):
        return (value.date() if isinstance(value, dt.datetime) else value).isoformat()
    if field_type == "integer" and isinstance(value, decimal.Decimal) and value == int(value):
        return int(value)
    if field_type == "string_list" and isinstance(value, list):
        return [_text(item) for item in value if item is not None]
    if field_type in ("string", "date"):
        return _text(value)
    return value


def _text(value: Any) -> Any:
    """Numbers and identifiers (a booking number kept as an integer) as text."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, int | decimal.Decimal) and not isinstance(value, bool):
        return str(value)
    return value


def _encode_watermark(change: Any, key: Any) -> str:
    return json.dumps([_tagged(change), _tagged(key)])


def _tagged(value: Any) -> list[str]:
    if isinstance(value, bool) or value is None:
        raise SyncError(f"node.sync: the change column and key cannot be {value!r}")
    if isinstance(value, dt.datetime):
        return ["datetime", value.isoformat()]
    if isinstance(value, dt.date):
        return ["date", value.isoformat()]
    if isinstance(value, int):
        return ["int", str(value)]
    if isinstance(value, decimal.Decimal):
        return ["decimal", str(value)]
    return ["str", str(value)]


def _decode_watermark(text: str) -> tuple[Any, Any]:
    decoders: dict[str, Callable[[str], Any]] = {
        "datetime": dt.datetime.fromisoformat,
        "date": dt.date.fromisoformat,
        "int": int,
        "decimal": decimal.Decimal,
        "str": str,
    }
    try:
        (change_type, change), (key_type, key) = json.loads(text)
        return decoders[change_type](change), decoders[key_type](key)
    except (ValueError, KeyError, TypeError) as exc:
        raise SyncError(f"the stored sync watermark {text[:80]!r} is unreadable: {exc}") from None
