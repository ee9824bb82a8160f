"""Errors an agency node raises on purpose.

::

    FieldgateError                          (fieldgate.core.errors)
    └── NodeError                           root of the node's errors
        ├── RecordImportError               an import file was refused; nothing was written
        ├── StoreError                      the record database cannot be used as asked
        │   └── DuplicateRecordError        a record_id is already in the store
        ├── AuditBudgetExceeded (audit_budget)  a requester or agency spent its audit budget
        ├── NodeLimitExceeded (limits)      a requester or agency is over the node's own limits
        ├── DuplicateRequestId (request_ids)  a search under a request id already used here
        ├── SyncError (sync)                a sync cycle stopped: source unreadable, batch refused
        ├── DisclosureLogError              a disclosure could not be logged durably
        │   └── AuditTamperError (audit.writer_view)  the log holds what this writer did not write
        ├── AuditRetentionError (audit.store)        a purge would cut below the retention floor
        ├── NoteError (audit.note)          a checkpoint note that cannot be parsed or verified
        ├── TreeError (audit.tree)          the log cannot be read as a Merkle tree
        ├── ProofError (audit.proofs)       a proof that cannot be made, or a proof file unreadable
        ├── AuditReadError (audit.schema)   an audit database that cannot be opened or read
        │   └── NotAnAuditDatabase (audit.schema)  no audit log at all (a wrong path)
        ├── CheckpointFileError (audit.checkpoints)  an exported checkpoint file is unreadable
        └── NotCanonicalError (audit.canonical)      a value with no canonical JSON form

Every error's message says what was wrong and where (file, key, line, field),
in words an operator can act on; the details are also attributes. How each
leaves the node as a gRPC status is decided in one place,
:mod:`fieldgate.node.status`. ``NotCanonicalError`` is also a ``ValueError``,
as it was first: log readers catch ``ValueError`` for every malformed value.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from fieldgate.core.errors import FieldgateError


class NodeError(FieldgateError):
    """Root of every error an agency node raises on purpose."""


class RecordImportError(NodeError):
    """An import file that was refused as a whole; the store is unchanged.

    Attributes:
        path: the file.
        summary: one line saying what was wrong.
        problems: ``(line_number, reason)`` for the first bad lines, in file order
            (at most :data:`MAX_LISTED_PROBLEMS`); empty when the problem is the
            file itself (unreadable, empty, unsupported type).
        bad_lines: how many lines were bad in all, listed or not.
    """

    MAX_LISTED_PROBLEMS = 50

    def __init__(
        self,
        path: str | Path,
        summary: str,
        problems: Sequence[tuple[int, str]] = (),
        bad_lines: int = 0,
    ) -> None:
        listed = list(problems)[: self.MAX_LISTED_PROBLEMS]
        lines = [f"{path}: {summary}"]
        lines += [f"  line {number}: {reason}" for number, reason in listed]
        if bad_lines > len(listed):
            lines.append(f"  ... and {bad_lines - len(listed)} more bad lines")
        super().__init__("\n".join(lines))
        self.path = str(path)
        self.summary = summary
        self.problems = listed
        self.bad_lines = max(bad_lines, len(listed))


class StoreError(NodeError):
    """The record database cannot be opened or used as asked."""


class DuplicateRecordError(StoreError):
    """A record_id that is already in the store (or twice in one batch).

    Attributes:
        record_id: the duplicated identifier.
    """

    def __init__(self, record_id: str) -> None:
        super().__init__(f"record_id {record_id!r} is already in the store")
        self.record_id = record_id


class DisclosureLogError(NodeError):
    """A disclosure could not be written durably to the disclosure log."""
