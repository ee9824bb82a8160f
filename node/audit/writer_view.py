"""The writer's own view of its log: it never adopts what it did not write.

An :class:`~node.audit.store.AuditStore` remembers, in memory, what it knows
the log to be (:class:`WriterView`: the first and last entry, the head hash,
the last checkpoint it saw, the file it opened). Whenever SQLite says another
connection has committed since this one last did (``PRAGMA data_version``),
and before it signs any checkpoint, the writer checks the file against that
view with :func:`reconcile`:

- the last checkpoint it knows is still there, byte for byte;
- every entry after that checkpoint is canonical, numbered without a gap and
  chains from the checkpoint's head (so nothing after it was inserted,
  changed, removed or reordered), and the entry it wrote last still has the
  hash it wrote;
- entries someone else appended are accepted only when a checkpoint signed
  with the node's own key covers them (``fieldgate node purge`` holds the key
  and checkpoints every entry it writes in the same transaction); a database
  writer without the key cannot produce one;
- the log still runs without a gap from its first entry to its head: rows
  disappear only behind a signed ``audit_purged`` entry.

Anything else raises :class:`AuditTamperError`; the store then refuses every
further write, so the node discloses nothing until an operator acts.
Entries already covered by a checkpoint are not re-read on every write: a
change to one of them is what ``fieldgate audit verify`` finds.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from fieldgate.node.audit.canonical import GENESIS, NotCanonicalError, canonical_json, chain_hash
from fieldgate.node.audit.checkpoints import Checkpoint, checkpoint_from_body
from fieldgate.node.audit.entries import AUDIT_PURGED
from fieldgate.node.errors import DisclosureLogError


class AuditTamperError(DisclosureLogError):
    """The audit log was changed by someone other than its writer; nothing more is written.

    Attributes:
        reason: what was found, in words an operator can act on.
    """

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{path}: audit log tampered with: {reason}")
        self.reason = reason


FileId = tuple[int, int]


def file_id(path: Path) -> FileId | None:
    """The file's (device, inode), or None when it is gone."""
    try:
        status = os.stat(path)
    except FileNotFoundError:
        return None
    return (status.st_dev, status.st_ino)


@dataclass
class WriterView:
    """What the writer knows its log to be.

    Attributes:
        first_seq: the oldest entry present (``seq + 1`` when the log is empty).
        seq: the newest entry (0 when none was ever written).
        head: its chain hash (:data:`GENESIS` when none).
        checkpoint: the newest signed checkpoint, or None.
        file: the opened file's (device, inode).
    """

    first_seq: int
    seq: int
    head: str
    checkpoint: Checkpoint | None
    file: FileId | None

    def copy(self) -> WriterView:
        """A copy to restore when a transaction rolls back."""
        return dataclasses.replace(self)


def _newest_checkpoint(db: sqlite3.Connection) -> Checkpoint | None:
    row = db.execute(
        "SELECT body, signature FROM checkpoints ORDER BY number DESC LIMIT 1"
    ).fetchone()
    return None if row is None else checkpoint_from_body(json.loads(row[0]), row[1])


def read_view(db: sqlite3.Connection, path: Path, public_key: Ed25519PublicKey) -> WriterView:
    """Build the view of a log being opened, checking it from its last checkpoint on.

    The newest checkpoint's signature is checked and every entry after it is
    verified against the chain; what came before is ``verify``'s work.

    Raises:
        AuditTamperError: the log's tail does not verify.
    """
    try:
        checkpoint = _newest_checkpoint(db)
    except (ValueError, json.JSONDecodeError) as exc:
        raise AuditTamperError(path, f"its newest checkpoint cannot be read ({exc})") from None
    if checkpoint is not None and not checkpoint.signature_valid(public_key):
        raise AuditTamperError(path, f"checkpoint {checkpoint.number} is not signed by its key")
    first = db.execute("SELECT min(seq) FROM entries").fetchone()[0]
    view = WriterView(
        first_seq=int(first) if first is not None else 1,
        seq=0,
        head=GENESIS,
        checkpoint=checkpoint,
        file=file_id(path),
    )
    anchor_seq, anchor_hash = _anchor(db, path, view, [])
    last_seq, last_hash, _ = _walk(db, path, anchor_seq, anchor_hash)
    if checkpoint is not None and last_seq < checkpoint.seq:
        raise AuditTamperError(
            path, f"its newest entry is {last_seq} but checkpoint {checkpoint.number} covers "
            f"up to {checkpoint.seq}: entries were removed"
        )  # fmt: skip
    view.seq, view.head = last_seq, last_hash
    if first is None:
        view.first_seq = last_seq + 1
    _check_span(db, path, view)
    return view


def reconcile(
    db: sqlite3.Connection,
    path: Path,
    view: WriterView,
    public_key: Ed25519PublicKey,
    *,
    adopt_unsigned: bool = False,
) -> None:
    """Check the file against ``view`` and extend it by what the key holder appended.

    Called inside the writer's transaction. ``view`` is updated in place only
    by entries and checkpoints a checkpoint signed with ``public_key`` covers;
    with ``adopt_unsigned`` (a maintenance writer beside the serving node,
    whose search entries wait for their checkpoint) also by entries that
    merely chain from the view's head.

    Raises:
        AuditTamperError: naming what differs.
    """
    check_file(path, view)
    try:
        checkpoints = _checkpoints_since(db, view)
    except (ValueError, json.JSONDecodeError) as exc:
        raise AuditTamperError(path, f"a checkpoint cannot be read ({exc})") from None
    previous = view.checkpoint
    for checkpoint in checkpoints:
        expected = (previous.number if previous else 0) + 1
        if checkpoint.number != expected:
            raise AuditTamperError(
                path, f"checkpoint {expected} is missing (found {checkpoint.number})"
            )
        if not checkpoint.signature_valid(public_key):
            raise AuditTamperError(
                path, f"checkpoint {checkpoint.number} appeared without the node's signature"
            )
        if checkpoint.previous != (previous.digest() if previous else ""):
            raise AuditTamperError(
                path, f"checkpoint {checkpoint.number} does not follow checkpoint {expected - 1}"
            )
        previous = checkpoint
    anchor_seq, anchor_hash = _anchor(db, path, view, checkpoints)
    last_seq, last_hash, hashes = _walk(db, path, anchor_seq, anchor_hash)
    if last_seq < view.seq:
        raise AuditTamperError(
            path, f"entries {last_seq + 1}–{view.seq} this node wrote are gone (truncated)"
        )
    if view.seq > anchor_seq and hashes.get(view.seq) != view.head:
        raise AuditTamperError(path, f"entry {view.seq} is not the entry this node wrote")
    for checkpoint in checkpoints:
        if checkpoint.seq > anchor_seq and hashes.get(checkpoint.seq) != checkpoint.head:
            raise AuditTamperError(
                path, f"checkpoint {checkpoint.number} does not match entry {checkpoint.seq}"
            )
    if last_seq > view.seq and not adopt_unsigned:
        covered = previous.seq if previous is not None else 0
        if covered < last_seq:
            raise AuditTamperError(
                path, f"entries {max(view.seq, covered) + 1}–{last_seq} were written by someone "
                "else and no checkpoint signed with the node's key covers them"
            )  # fmt: skip
    view.seq, view.head, view.checkpoint = last_seq, last_hash, previous
    view.first_seq = _first_after_purges(db, path, view)
    _check_span(db, path, view)


def check_file(path: Path, view: WriterView) -> None:
    """Check that the file the writer opened is still the one at ``path``.

    Raises:
        AuditTamperError: it was deleted or replaced.
    """
    now = file_id(path)
    if now is None:
        raise AuditTamperError(path, "the audit database was deleted under the running node")
    if now != view.file:
        raise AuditTamperError(path, "the audit database was replaced by another file")


def _checkpoints_since(db: sqlite3.Connection, view: WriterView) -> list[Checkpoint]:
    """Checkpoints after the view's own; the view's own must be unchanged."""
    number = view.checkpoint.number if view.checkpoint else 0
    rows = db.execute(
        "SELECT number, body, signature FROM checkpoints WHERE number >= ? ORDER BY number",
        (number,),
    ).fetchall()
    if view.checkpoint is not None:
        if not rows or rows[0][0] != number:
            raise ValueError(f"checkpoint {number} is gone")
        if rows[0][1] != view.checkpoint.body_text() or rows[0][2] != view.checkpoint.signature:
            raise ValueError(f"checkpoint {number} was changed")
        rows = rows[1:]
    return [checkpoint_from_body(json.loads(body), signature) for _, body, signature in rows]


def _anchor(
    db: sqlite3.Connection, path: Path, view: WriterView, checkpoints: list[Checkpoint]
) -> tuple[int, str]:
    """Where the chain is checked from: the view's checkpoint, or a later signed purge cut."""
    if view.checkpoint is None:
        first = db.execute("SELECT min(seq), count(*) FROM entries").fetchone()
        if first[1] == 0 or first[0] == 1:
            return 0, GENESIS
        return _purge_cut(db, path, first[0])
    anchor_seq, anchor_hash = view.checkpoint.seq, view.checkpoint.head
    row = db.execute("SELECT hash FROM entries WHERE seq = ?", (anchor_seq,)).fetchone()
    if row is not None:
        if row[0] != anchor_hash:
            raise AuditTamperError(
                path, f"entry {anchor_seq} no longer matches checkpoint {view.checkpoint.number}"
            )
        return anchor_seq, anchor_hash
    first = db.execute("SELECT min(seq) FROM entries").fetchone()[0]
    if first is None or first <= anchor_seq:
        raise AuditTamperError(
            path, f"entry {anchor_seq}, covered by checkpoint {view.checkpoint.number}, is gone"
        )
    return _purge_cut(db, path, first)


def _purge_cut(db: sqlite3.Connection, path: Path, first: int) -> tuple[int, str]:
    """The (seq, hash) a retention purge cut the log at, where the oldest entry is ``first``."""
    for (body,) in db.execute(
        "SELECT body FROM entries WHERE kind = ? ORDER BY seq DESC", (AUDIT_PURGED,)
    ):
        data = json.loads(body).get("data", {})
        if data.get("cut_seq") == first - 1 and isinstance(data.get("cut_hash"), str):
            return first - 1, str(data["cut_hash"])
    raise AuditTamperError(path, f"entries before {first} are gone without a purge entry")


def _walk(
    db: sqlite3.Connection, path: Path, seq: int, running: str
) -> tuple[int, str, dict[int, str]]:
    """Verify every entry after ``seq``; return the last seq, its hash and each hash."""
    hashes: dict[int, str] = {}
    for row in db.execute(
        "SELECT seq, body, prev_hash, hash FROM entries WHERE seq > ? ORDER BY seq", (seq,)
    ):
        entry_seq, body, prev_hash, stored = row
        if entry_seq != seq + 1:
            raise AuditTamperError(path, f"entry {seq + 1} is missing (next is {entry_seq})")
        try:
            document = json.loads(body)
            text = canonical_json(document)
        except (TypeError, ValueError, NotCanonicalError, RecursionError):
            raise AuditTamperError(path, f"entry {entry_seq} is not canonical JSON") from None
        if text != body or document.get("seq") != entry_seq:
            raise AuditTamperError(path, f"entry {entry_seq} was altered")
        computed = chain_hash(running, text)
        if prev_hash != running or stored != computed:
            raise AuditTamperError(
                path, f"entry {entry_seq} does not chain from entry {seq} (inserted, altered "
                "or reordered)"
            )  # fmt: skip
        seq, running = entry_seq, computed
        hashes[seq] = running
    return seq, running, hashes


def _first_after_purges(db: sqlite3.Connection, path: Path, view: WriterView) -> int:
    """The oldest entry the log should hold now (later when a signed purge removed some)."""
    first = db.execute("SELECT min(seq) FROM entries").fetchone()[0]
    if first is None:
        return view.seq + 1
    if first != view.first_seq:
        if first < view.first_seq:
            raise AuditTamperError(path, f"entry {first} reappeared after it was purged")
        _purge_cut(db, path, first)  # raises unless an entry records the cut
    return int(first)


def _check_span(db: sqlite3.Connection, path: Path, view: WriterView) -> None:
    """The log runs from ``first_seq`` to ``seq`` without a gap."""
    count, low, high = db.execute("SELECT count(*), min(seq), max(seq) FROM entries").fetchone()
    expected = view.seq - view.first_seq + 1
    if count != expected or (count and (low != view.first_seq or high != view.seq)):
        raise AuditTamperError(
            path, f"the log holds {count} entries ({low}–{high}); this node expects "
            f"{expected} ({view.first_seq}–{view.seq}): entries were deleted or inserted"
        )  # fmt: skip
