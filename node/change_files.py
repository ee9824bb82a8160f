"""Change files: a change set in JSON Lines or CSV, checked whole, then applied whole.

The formats are the import's (:mod:`node.importer`) with one more key or
column, ``op``: ``upsert`` (the default when absent or empty), ``delete``,
``seal``, ``unseal`` or ``expunge``. An upsert line is a whole record; the
other operations take ``record_id`` only (in CSV the other cells stay empty)::

    {"op": "upsert", "record_id": "B-1", "record_kind": "booking", "surname": "Doe"}
    {"op": "seal", "record_id": "B-7"}
    {"op": "expunge", "record_id": "B-9"}

Like an import, the file is read twice: the first pass checks every line
(and each change against the store and the lines before it) and writes
nothing, listing every bad line; the second applies the changes in one
transaction (:func:`node.changes.apply_changes`), after making sure by
SHA-256 that the file did not change in between.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from pathlib import Path

from fieldgate.node.audit.store import AuditStore
from fieldgate.node.changes import (
    OP_KEY,
    Change,
    ChangeSetResult,
    apply_changes,
    change_or_reason,
    check_changes,
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

    Raises:
        RecordImportError: the file was refused, its ``problems`` naming the
            bad lines; nothing was changed.
        node.errors.DisclosureLogError: the audit entry could not be written;
            nothing was changed.
    """
    path = Path(path)
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise RecordImportError(
            path, f"unsupported file type {path.suffix!r}; use {', '.join(FORMATS)}"
        )

    def item(raw: Mapping[str, object]) -> Change | str:
        return change_or_reason(raw, catalog)

    try:
        size = path.stat().st_size
        reader = _ChangeReader(path, fmt, catalog, total=2 * size, progress=progress, item=item)
        digest = _check(store, reader)
        source = {"kind": "file", "path": str(path.resolve()), "format": fmt, "sha256": digest}
        result = apply_changes(store, audit, _changes_again(reader, digest), source=source)
    except OSError as exc:
        raise RecordImportError(path, f"cannot read: {exc.strerror or exc}") from exc
    except ValueError as exc:  # the store changed between the passes
        raise RecordImportError(path, f"{exc}; nothing was changed") from exc
    if progress is not None:
        progress(2 * size, 2 * size)
    return result


def _check(store: RecordStore, reader: _ChangeReader) -> str:
    """First pass: raise unless every change is good; return the file's SHA-256 (hex)."""
    problems: list[tuple[int, str]] = []
    light: list[tuple[int, Change]] = []  # without the records: only ids and operations
    digest = hashlib.sha256()
    for number, item in reader.parse(digest):
        if isinstance(item, str):
            problems.append((number, item))
        else:
            light.append((number, Change(item.op, item.record_id)))
    # Every line is named at once: the malformed ones, and those the store refuses.
    problems = sorted(problems + check_changes(store, light))
    if problems:
        bad = len(problems)
        plural = "line is" if bad == 1 else "lines are"
        raise RecordImportError(
            reader.path, f"{bad} {plural} bad; nothing was changed", problems, bad
        )
    if not light:
        what = "has a header but no changes" if reader.saw_content else "is empty"
        raise RecordImportError(reader.path, f"the file {what}; nothing was changed")
    return digest.hexdigest()


def _changes_again(reader: _ChangeReader, first_digest: str) -> Iterator[Change]:
    """Second pass: yield the changes; raising here rolls the whole change set back."""
    digest = hashlib.sha256()
    for _, item in reader.parse(digest):
        if isinstance(item, str):
            break
        yield item
    else:
        if digest.hexdigest() == first_digest:
            return
    raise ValueError("the file changed while it was applied")
