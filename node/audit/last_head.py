"""The log's last known head, kept beside the signing key, not on the log's volume.

Whoever can delete or replace the audit database must not be able to make the
node start a fresh log as if nothing happened. After each checkpoint the
store writes, next to its key (``[node.audit] last_head``, default
``<key>.head.json``), which log it writes (a random ``log_id`` stored in the
log's ``audit_meta`` when it was created) and the newest checkpoint it signed.
At start :meth:`~node.audit.store.AuditStore.open` refuses a log that is
missing, empty, another log, or no longer holds that checkpoint, and a log
whose writer halted on tampering; ``fieldgate node audit-init`` is the
explicit, recorded way out.

The file is JSON, replaced atomically (write, fsync, rename)::

    {"format": "fieldgate.audit.last-head/v1", "node_id": "kcso", "log_id": "...",
     "checkpoint": 12, "seq": 1200, "head": "...", "digest": "...", "halted": ""}
"""

from __future__ import annotations

import json
import os
import sqlite3
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from fieldgate.node.audit.canonical import sha256_text
from fieldgate.node.audit.writer_view import AuditTamperError, WriterView
from fieldgate.node.errors import DisclosureLogError

LAST_HEAD_FORMAT = "fieldgate.audit.last-head/v1"


@dataclass(frozen=True)
class HeadRecord:
    """What the node last knew of its log.

    Attributes:
        node_id: the node.
        log_id: the log's random id (``audit_meta.log_id``).
        checkpoint: the newest checkpoint signed (0 before the first).
        seq: the entry it covers.
        head: that entry's chain hash.
        digest: SHA-256 of the checkpoint's body.
        halted: why the writer stopped on tampering ("" when it did not).
    """

    node_id: str
    log_id: str
    checkpoint: int = 0
    seq: int = 0
    head: str = ""
    digest: str = ""
    halted: str = ""

    def halt(self, reason: str) -> HeadRecord:
        """This record, marked as halted for ``reason``."""
        return replace(self, halted=reason)


class LastHead:
    """The last-known-head file at ``path``."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self) -> HeadRecord | None:
        """The record, or None when the file does not exist.

        Raises:
            DisclosureLogError: the file exists but cannot be read as a head record.
        """
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as exc:
            raise DisclosureLogError(
                f"{self.path}: cannot read the last known head: {exc}"
            ) from None
        try:
            document = json.loads(text)
            if document.pop("format") != LAST_HEAD_FORMAT:
                raise ValueError(f"format is not {LAST_HEAD_FORMAT}")
            record = HeadRecord(**document)
        except (json.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
            raise DisclosureLogError(f"{self.path}: not a last known head file ({exc})") from None
        return record

    def write(self, record: HeadRecord) -> None:
        """Replace the file with ``record`` atomically and durably.

        Raises:
            DisclosureLogError: it cannot be written.
        """
        temporary = self.path.with_name(self.path.name + ".tmp")
        text = json.dumps({"format": LAST_HEAD_FORMAT, **asdict(record)}, sort_keys=True)
        try:
            descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
                handle.write(text + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, self.path)
            directory = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(directory)
            finally:
                os.close(directory)
        except OSError as exc:
            raise DisclosureLogError(
                f"{self.path}: cannot write the last known head: {exc}"
            ) from exc


_INIT_HINT = (
    "if this is expected (a new volume, a restored backup), start a new log on purpose with "
    "`fieldgate node audit-init`, which records the event"
)


def check_known_head_before_open(path: Path, known: HeadRecord) -> None:
    """Refuse a halted writer, and a log that is missing or empty, before anything is created.

    Raises:
        AuditTamperError: naming what the node last knew.
    """
    if known.halted:
        raise AuditTamperError(
            path, f"this node halted its audit log on tampering ({known.halted}); the log "
            f"must be examined (`fieldgate audit verify`), then {_INIT_HINT}"
        )  # fmt: skip
    if not path.exists() or path.stat().st_size == 0:
        raise AuditTamperError(
            path, f"the audit log is missing or empty, but this node last knew log "
            f"{known.log_id} at checkpoint {known.checkpoint} (entry {known.seq}); {_INIT_HINT}"
        )  # fmt: skip


def check_known_head(
    db: sqlite3.Connection,
    path: Path,
    known: HeadRecord | None,
    log_id: str,
    view: WriterView,
    *,
    created: bool,
) -> None:
    """Check an opened log against the last known head.

    Raises:
        AuditTamperError: the log is another one, or lacks the known checkpoint.
    """
    if known is None:
        if not created:
            raise AuditTamperError(
                path, "the log exists but no last known head was kept for it (a new key "
                f"volume?); {_INIT_HINT} --adopt after `fieldgate audit verify`"
            )  # fmt: skip
        return
    if log_id != known.log_id:
        raise AuditTamperError(
            path, f"is log {log_id}, not log {known.log_id} this node writes: the file was "
            f"replaced; {_INIT_HINT}"
        )  # fmt: skip
    if known.checkpoint == 0:
        return
    newest = view.checkpoint.number if view.checkpoint is not None else 0
    row = db.execute(
        "SELECT body FROM checkpoints WHERE number = ?", (known.checkpoint,)
    ).fetchone()
    if newest < known.checkpoint or row is None:
        raise AuditTamperError(
            path, f"its newest checkpoint is {newest}, but this node signed checkpoint "
            f"{known.checkpoint}: the log was rolled back; {_INIT_HINT}"
        )  # fmt: skip
    if sha256_text(row[0]) != known.digest:
        raise AuditTamperError(
            path, f"checkpoint {known.checkpoint} is not the one this node signed"
        )
