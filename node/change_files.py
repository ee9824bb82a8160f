"""Change files: a change set in JSON Lines or CSV, checked whole, then applied whole.

The formats are the import's (:mod:`node.importer`) with one more key or
column, ``op``: ``upsert`` (the default when absent or empty), ``delete``,
``seal``, ``unseal`` or ``expunge``. An upsert line is a whole record; the
other operations take ``record_id`` only (in CSV the other cells stay empty)::

    {"op": "upsert", "record_id": "B-1", "record_kind": "booking", "surname": "Doe"}
    {"op": "seal", "record_id": "B-7"}
    {"op": "expunge", "record_id": "B-9"}

The file is read and validated once: every line is checked (and each
change against the store and the lines before it) and nothing is written
while any line is bad, all of them listed; the checked changes, kept in
memory, are then applied in one transaction
(:func:`node.changes.apply_changes`). What is applied is exactly what was
read and hashed (the audit entry's SHA-256), so a file rewritten meanwhile
cannot slip in unchecked lines. The price is memory: the whole change set
is held (about 2 KB a record; split files of millions of lines).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path

from fieldgate.node.audit.store import AuditStore
from fieldgate.node.changes import (
    OP_KEY,
    Change,
    ChangeSetResult,
    apply_changes,
    change_or_reason,
    check_changes,
    collector_paused,
    upsert_from_line,
)
from fieldgate.node.errors import RecordImportError
from fieldgate.node.importer import FORMATS, ProgressCallback, _Reader
from fieldgate.node.store import RecordStore
from fieldgate.policy.catalog import FieldCatalog


class _ChangeReader(_Reader[Change]):
    """The import's reader, with the ``op`` column and without a required record_kind."""

    extra_columns = frozenset({OP_KEY})
    required_columns = ("record_id",)


def apply_file(
    store: RecordStore,
    audit: AuditStore,
    path: str | Path,
    catalog: FieldCatalog,
    *,
    progress: ProgressCallback | None = None,
) -> ChangeSetResult:
    """Check every change in ``path``, then apply them all in one transaction.

    The cyclic garbage collector is paused meanwhile (:func:`collector_paused`).

    Raises:
        RecordImportError: the file was refused, its ``problems`` naming the
            bad lines; nothing was changed.
        node.errors.DisclosureLogError: the audit entry could not be written;
            nothing was changed.
    """
    with collector_paused():
        return _apply_file(store, audit, Path(path), catalog, progress)


def _apply_file(
    store: RecordStore,
    audit: AuditStore,
    path: Path,
    catalog: FieldCatalog,
    progress: ProgressCallback | None,
) -> ChangeSetResult:
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise RecordImportError(
            path, f"unsupported file type {path.suffix!r}; use {', '.join(FORMATS)}"
        )

    def item(raw: Mapping[str, object]) -> Change | str:
        return change_or_reason(raw, catalog)

    def fast(line: bytes) -> Change | None:
        return upsert_from_line(line, catalog)

    try:
        size = path.stat().st_size
        reader = _ChangeReader(
            path, fmt, catalog, total=2 * size, progress=progress, item=item, fast=fast
        )
        changes, digest = _check(store, reader)
    except OSError as exc:
        raise RecordImportError(path, f"cannot read: {exc.strerror or exc}") from exc
    source = {"kind": "file", "path": str(path.resolve()), "format": fmt, "sha256": digest}

    def applied(done: int) -> None:
        if progress is not None:
            progress(size + size * done // len(changes), 2 * size)

    try:
        result = apply_changes(store, audit, changes, source=source, on_batch=applied)
    except ValueError as exc:  # the store changed since the check (another writer)
        raise RecordImportError(path, f"{exc}; nothing was changed") from exc
    if progress is not None:
        progress(2 * size, 2 * size)
    return result


def _check(store: RecordStore, reader: _ChangeReader) -> tuple[list[Change], str]:
    """The only pass: raise unless every change is good; return them and the SHA-256 (hex)."""
    problems: list[tuple[int, str]] = []
    changes: list[Change] = []
    numbered: list[tuple[int, Change]] = []
    digest = hashlib.sha256()
    for number, item in reader.parse(digest):
        if isinstance(item, str):
            problems.append((number, item))
        else:
            changes.append(item)
            numbered.append((number, item))
    # Every line is named at once: the malformed ones, and those the store refuses.
    problems = sorted(problems + check_changes(store, numbered))
    if problems:
        bad = len(problems)
        plural = "line is" if bad == 1 else "lines are"
        raise RecordImportError(
            reader.path, f"{bad} {plural} bad; nothing was changed", problems, bad
        )
    if not changes:
        what = "has a header but no changes" if reader.saw_content else "is empty"
        raise RecordImportError(reader.path, f"the file {what}; nothing was changed")
    return changes, digest.hexdigest()
