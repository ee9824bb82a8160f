"""Bulk import of records from JSON Lines or CSV, all or nothing.

Formats, chosen by the file's suffix:

- ``.jsonl`` / ``.ndjson``: one JSON object per line (see :mod:`fieldgate.policy.records`);
  blank lines are skipped.
- ``.csv``: a header row naming the columns, then one record per row. Columns
  are the record keys and catalog fields; an address field ``F`` is spread over
  ``F.street``, ``F.city``, ``F.state`` and ``F.postal_code``; list fields
  separate entries with ``|``; booleans are true/false/1/0 (empty is false);
  empty cells are absent.

The import runs in two passes. The first reads and checks every line and
writes nothing; if any line is bad (malformed, not UTF-8, not a valid record,
a record_id repeated in the file or already stored) the import is refused with
every bad line listed. Only when all lines are good does the second pass read
the file again and insert it in one transaction. Reading twice keeps memory
flat however large the file; a SHA-256 of each pass makes sure the file did
not change in between.
"""

from __future__ import annotations

import csv
import hashlib
import heapq
import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Generic, Protocol, TypeVar

from fieldgate.node.errors import DuplicateRecordError, RecordImportError
from fieldgate.node.store import RecordStore
from fieldgate.policy.catalog import ADDRESS_KEYS, RESERVED_KEYS, FieldCatalog
from fieldgate.policy.errors import RecordError
from fieldgate.policy.record_decoder import record_decoder
from fieldgate.policy.records import Record, validate_record

FORMATS: Mapping[str, str] = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv"}
"""File suffix → format."""

LIST_SEPARATOR = "|"
"""Separates the entries of a list field in a CSV cell."""

ProgressCallback = Callable[[int, int], None]
"""Called as ``progress(done, total)`` in bytes; both passes count, so total is twice the size."""

_PROGRESS_STEP = 1 << 16  # report at most every 64 KiB
_BOOLEANS = {"": None, "true": True, "1": True, "false": False, "0": False}
_INTEGER = re.compile(r"[+-]?\d{1,19}")
_Item = TypeVar("_Item")  # what a reader makes of a line: a Record, or a change (node.changes)


class _Digest(Protocol):
    def update(self, data: bytes, /) -> None: ...


@dataclass(frozen=True)
class ImportReport:
    """What an import did.

    Attributes:
        path: the file imported.
        format: ``jsonl`` or ``csv``.
        imported: how many records were inserted.
        size: the file's size in bytes.
    """

    path: Path
    format: str
    imported: int
    size: int


def import_file(
    store: RecordStore,
    path: str | Path,
    catalog: FieldCatalog,
    *,
    progress: ProgressCallback | None = None,
) -> ImportReport:
    """Check every record in ``path``, then insert them all in one transaction.

    Args:
        store: where the records go.
        path: a ``.jsonl``, ``.ndjson`` or ``.csv`` file.
        catalog: the node's field catalog; records may hold its fields only.
        progress: called with (bytes done, bytes total) as the file is read.

    Raises:
        RecordImportError: the file was refused; its ``problems`` list the bad
            lines. Nothing was written.
    """
    path = Path(path)
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise RecordImportError(
            path, f"unsupported file type {path.suffix!r}; use {', '.join(FORMATS)}"
        )
    try:
        size = path.stat().st_size
        reader = _Reader(
            path,
            fmt,
            catalog,
            total=2 * size,
            progress=progress,
            item=record_or_reason(catalog),
            fast=_fast_record(catalog),
        )
        first_digest = _check(store, reader)
        imported = store.insert_many(_records_again(reader, first_digest))
    except OSError as exc:
        raise RecordImportError(path, f"cannot read: {exc.strerror or exc}") from exc
    except DuplicateRecordError as exc:  # stored by someone else between the passes
        raise RecordImportError(path, f"{exc}; nothing was imported") from exc
    if progress is not None:
        progress(2 * size, 2 * size)
    return ImportReport(path=path, format=fmt, imported=imported, size=size)


def _check(store: RecordStore, reader: _Reader[Record]) -> bytes:
    """First pass: raise unless every line is a good, new record; return the file's digest."""
    listed: list[tuple[int, str]] = []
    bad = 0
    first_line: dict[str, int] = {}

    def problem(number: int, reason: str) -> None:
        nonlocal bad
        bad += 1
        if len(listed) < RecordImportError.MAX_LISTED_PROBLEMS:
            listed.append((number, reason))

    digest = hashlib.sha256()
    for number, item in reader.parse(digest):
        if isinstance(item, str):
            problem(number, item)
        elif (earlier := first_line.get(item.record_id)) is not None:
            problem(number, f"record_id {item.record_id!r} already appears on line {earlier}")
        else:
            first_line[item.record_id] = number
    stored = store.existing_ids(first_line)
    if stored:
        # These can come before lines already listed; keep the first ones in file order.
        bad += len(stored)
        earliest = heapq.nsmallest(
            RecordImportError.MAX_LISTED_PROBLEMS, ((first_line[i], i) for i in stored)
        )
        listed += [(line, f"record_id {i!r} is already in the store") for line, i in earliest]
        listed = sorted(listed)[: RecordImportError.MAX_LISTED_PROBLEMS]
    if bad:
        plural = "line is" if bad == 1 else "lines are"
        raise RecordImportError(
            reader.path, f"{bad} {plural} bad; nothing was imported", listed, bad
        )
    if not first_line:
        what = "has a header but no records" if reader.saw_content else "is empty"
        raise RecordImportError(reader.path, f"the file {what}; nothing was imported")
    return digest.digest()


def _records_again(reader: _Reader[Record], first_digest: bytes) -> Iterator[Record]:
    """Second pass: yield the records; raising here rolls the whole insert back."""
    digest = hashlib.sha256()
    for _, item in reader.parse(digest):
        if isinstance(item, str):
            break
        yield item
    else:
        if digest.digest() == first_digest:
            return
    raise RecordImportError(reader.path, "the file changed during the import; nothing was imported")


class _Reader(Generic[_Item]):
    """Reads one import file, line by line, as (line number, item or reason).

    ``item`` turns a line's raw object into the item (a record for imports);
    ``fast``, when given, makes the item straight from a JSON line's bytes in
    compiled code, or returns None for ``item`` to judge the line;
    ``extra_columns`` are CSV columns kept as text beside the record keys
    (``op`` in change files), and ``required_columns`` must be in the header.
    """

    extra_columns: frozenset[str] = frozenset()
    required_columns: tuple[str, ...] = ("record_id", "record_kind")

    def __init__(
        self,
        path: Path,
        fmt: str,
        catalog: FieldCatalog,
        *,
        total: int,
        progress: ProgressCallback | None,
        item: Callable[[Mapping[str, object]], _Item | str],
        fast: Callable[[bytes], _Item | None] | None = None,
    ) -> None:
        self.path, self.fmt, self.catalog = path, fmt, catalog
        self._item, self._fast = item, fast
        self.saw_content = False
        self._total, self._progress = total, progress
        self._done = self._reported = 0

    def parse(self, digest: _Digest) -> Iterator[tuple[int, _Item | str]]:
        with self.path.open("rb") as handle:
            lines = self._lines(handle, digest)
            yield from self._jsonl(lines) if self.fmt == "jsonl" else self._csv(lines)

    def _lines(self, handle: BinaryIO, digest: _Digest) -> Iterator[tuple[int, bytes]]:
        """Yield (line number, bytes) and count progress."""
        for number, raw in enumerate(handle, start=1):
            digest.update(raw)
            self._done += len(raw)
            if self._progress is not None and self._done - self._reported >= _PROGRESS_STEP:
                self._reported = self._done
                self._progress(self._done, self._total)
            yield number, raw

    def _jsonl(self, lines: Iterator[tuple[int, bytes]]) -> Iterator[tuple[int, _Item | str]]:
        fast = self._fast
        for number, raw in lines:
            if not raw.strip():
                continue
            if fast is not None and (item := fast(raw)) is not None:
                self.saw_content = True
                yield number, item
                continue
            text, clean = _text(number, raw)
            if not text.strip():  # blank but for Unicode spaces
                continue
            self.saw_content = True
            if not clean:
                yield number, "not valid UTF-8"
                continue
            try:
                raw = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_nan)
            except ValueError as exc:
                reason = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
                yield number, f"not valid JSON: {reason}"
                continue
            except RecursionError:
                yield number, "not valid JSON: nested too deeply"
                continue
            if not isinstance(raw, dict):
                yield number, f"expected a JSON object, got {type(raw).__name__}"
                continue
            yield number, self._item(raw)

    def _csv(self, lines: Iterator[tuple[int, bytes]]) -> Iterator[tuple[int, _Item | str]]:
        unclean: set[int] = set()

        def texts() -> Iterator[str]:
            for number, raw in lines:
                text, clean = _text(number, raw)
                if not clean:
                    unclean.add(number)
                yield text

        rows = csv.reader(texts(), strict=True)
        header: list[str] | None = None
        end = 0
        while True:
            start = end + 1
            try:
                row = next(rows)
            except StopIteration:
                return
            except csv.Error as exc:
                end = rows.line_num
                self.saw_content = True
                if header is None:
                    raise RecordImportError(
                        self.path, f"line {start}: the header row is not valid CSV: {exc}"
                    ) from exc
                yield start, f"not valid CSV: {exc}"
                continue
            end = rows.line_num
            if not any(cell.strip() for cell in row):
                continue
            self.saw_content = True
            if unclean.intersection(range(start, end + 1)):
                if header is None:
                    raise RecordImportError(
                        self.path, f"line {start}: the header row is not valid UTF-8"
                    )
                yield start, "not valid UTF-8"
            elif header is None:
                header = _check_header(self.path, start, row, self.catalog, self)
            elif len(row) != len(header):
                yield start, f"has {len(row)} columns; the header has {len(header)}"
            else:
                yield start, self._csv_record(header, row)

    def _csv_record(self, header: list[str], row: list[str]) -> _Item | str:
        raw: dict[str, object] = {}
        for column, cell in zip(header, row, strict=True):
            name, _, part = column.partition(".")
            if part:  # address column, e.g. address.city
                address = raw.setdefault(name, {})
                assert isinstance(address, dict)
                address[part] = cell
                continue
            if name in self.extra_columns:
                raw[name] = cell
                continue
            field_type = "string" if name in RESERVED_KEYS else self.catalog.fields[name].type
            if name in ("sealed", "juvenile", "expunged"):
                flag = cell.strip().lower()
                if flag not in _BOOLEANS:
                    return f"{name}: {cell[:40]!r} is not true, false, 1 or 0"
                raw[name] = _BOOLEANS[flag]
            elif field_type == "integer":
                if not cell.strip():
                    continue
                if not _INTEGER.fullmatch(cell.strip()):
                    return f"{name}: {cell[:40]!r} is not a whole number"
                raw[name] = int(cell)
            elif field_type == "string_list":
                raw[name] = [item for item in cell.split(LIST_SEPARATOR) if item.strip()]
            else:
                raw[name] = cell
        return self._item(raw)


def _text(number: int, raw: bytes) -> tuple[str, bool]:
    """A line's text, and whether it was valid UTF-8 (a BOM is tolerated on line 1)."""
    encoding = "utf-8-sig" if number == 1 else "utf-8"
    try:
        return raw.decode(encoding), True
    except UnicodeDecodeError:
        return raw.decode(encoding, errors="replace"), False


def _fast_record(catalog: FieldCatalog) -> Callable[[bytes], Record | None]:
    """A reader's ``fast``: the record on a JSON line, checked in compiled code, or None."""
    decoder = record_decoder(catalog)

    def decode(line: bytes) -> Record | None:
        decoded = decoder.decode(line)
        return decoded[0] if decoded is not None else None

    return decode


def record_or_reason(catalog: FieldCatalog) -> Callable[[Mapping[str, object]], Record | str]:
    """A reader's ``item``: the checked record, or why the line is not one."""

    decoder = record_decoder(catalog)

    def check(raw: Mapping[str, object]) -> Record | str:
        if (fast := decoder.convert(raw)) is not None:  # compiled; not sure: validate_record
            return fast[0]
        try:
            return validate_record(raw, catalog)
        except RecordError as exc:
            return exc.reason

    return check


def _check_header(
    path: Path, number: int, row: list[str], catalog: FieldCatalog, reader: _Reader[_Item]
) -> list[str]:
    header = [column.strip() for column in row]
    problems: list[str] = []
    seen: set[str] = set()
    for column in header:
        name, _, part = column.partition(".")
        spec = catalog.fields.get(name)
        if column in seen:
            problems.append(f"column {column!r} appears twice")
        elif part and not (spec and spec.type == "address" and part in ADDRESS_KEYS):
            problems.append(f"column {column!r} is not an address column of the catalog")
        elif not part and spec and spec.type == "address":
            parts = ", ".join(f"{name}.{key}" for key in ADDRESS_KEYS)
            problems.append(f"column {column!r} is an address; use {parts}")
        elif not part and not spec and name not in RESERVED_KEYS | reader.extra_columns:
            problems.append(f"column {column!r} is not a field of this node's catalog")
        seen.add(column)
    problems += [f"no {key} column" for key in reader.required_columns if key not in seen]
    if problems:
        raise RecordImportError(
            path,
            "the header row is wrong; nothing was imported",
            [(number, problem) for problem in problems],
            len(problems),
        )
    return header


def _no_duplicates(pairs: list[tuple[str, object]]) -> dict[str, object]:
    result: dict[str, object] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"key {key!r} appears twice")
        result[key] = value
    return result


def _no_nan(constant: str) -> object:
    raise ValueError(f"{constant} is not a number JSON allows")
