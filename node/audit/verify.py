"""Verifying an audit log: the chain, the checkpoints, and exported checkpoints.

:func:`verify_log` never trusts the file: every problem it finds is reported
as a :class:`Problem` (an entry altered, removed, inserted or reordered; the
log truncated or rolled back; a checkpoint forged, altered or rolled back; a
schema or metadata change), and an unreadable file is itself a problem.
Problems about entries carry the sequence number of the first entry
concerned; :meth:`VerifyReport.first_entry_problem` is the earliest.

What can be located how precisely: a change that leaves the stored hashes
alone is named at the entry changed. A rewrite that recomputes every later
hash (the attacker knows the algorithm, but not the node's key) is caught by
the first signed checkpoint after it and located between that checkpoint and
the previous one that still matches. Removal of the newest entries is caught
by a checkpoint that covers them: by the log's own checkpoints, and, if those
were removed too, by checkpoints someone else holds (``--checkpoints``).
"""

from __future__ import annotations

import json
import sqlite3
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from node.audit.canonical import GENESIS, NotCanonicalError, canonical_json, chain_hash
from node.audit.checkpoints import Checkpoint, CheckpointExport, checkpoint_from_body
from node.audit.entries import AUDIT_PURGED, ENTRY_FORMAT, ENTRY_KINDS
from node.audit.keys import KeyFileError, public_from_hex, public_hex
from node.audit.schema import SCHEMA_FORMAT, AuditReader, AuditReadError, schema_differences

MAX_PROBLEMS = 100
_WINDOW = 4096  # recent entry hashes remembered to tell an insertion from a reordering


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a log.

    Attributes:
        kind: ``altered``, ``removed``, ``inserted``, ``reordered``, ``truncated``,
            ``rewritten``, ``checkpoint_forged``, ``checkpoint_altered``,
            ``checkpoint_rolled_back``, ``checkpoint_missing``, ``export_mismatch``,
            ``fork``, ``key``, ``schema``, ``meta`` or ``unreadable``.
        message: what is wrong, in words.
        seq: the first entry concerned, when the problem is about entries.
        checkpoint: the checkpoint number concerned, when about a checkpoint.
        through: when the problem is only known to lie in a range of entries
            (a rewrite caught by a checkpoint), the last entry of that range;
            ``seq`` is then the first.
    """

    kind: str
    message: str
    seq: int | None = None
    checkpoint: int | None = None
    through: int | None = None


@dataclass
class VerifyReport:
    """The result of verifying one log."""

    path: str
    node_id: str = ""
    key_source: str = ""
    entries: int = 0
    first_seq: int = 0
    last_seq: int = 0
    checkpoints: int = 0
    last_checkpoint_seq: int = 0
    exported_checked: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when nothing is wrong."""
        return not self.problems

    @property
    def uncovered(self) -> int:
        """Entries after the last checkpoint, protected by the chain alone."""
        return max(0, self.last_seq - self.last_checkpoint_seq)

    def first_entry_problem(self) -> Problem | None:
        """The problem about the earliest entry, if any problem is about entries.

        A range (a rewrite caught by a checkpoint) that holds a problem located
        exactly is a consequence of it and gives way to it.
        """
        exact = [p for p in self.problems if p.seq is not None and p.through is None]
        ranges = [
            p
            for p in self.problems
            if p.seq is not None
            and p.through is not None
            and not any(p.seq <= (e.seq or 0) <= p.through for e in exact)
        ]
        located = exact + ranges
        return min(located, key=lambda p: p.seq or 0) if located else None

    def add(self, problem: Problem) -> None:
        """Record a problem (at most :data:`MAX_PROBLEMS`)."""
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(problem)

    def to_dict(self) -> dict[str, object]:
        """The report as JSON-ready data."""
        first = self.first_entry_problem()
        return {
            "path": self.path,
            "ok": self.ok,
            "node_id": self.node_id,
            "key_source": self.key_source,
            "entries": self.entries,
            "first_seq": self.first_seq,
            "last_seq": self.last_seq,
            "checkpoints": self.checkpoints,
            "last_checkpoint_seq": self.last_checkpoint_seq,
            "uncovered_entries": self.uncovered,
            "exported_checkpoints_checked": self.exported_checked,
            "first_bad_entry": first.seq if first else None,
            "problems": [p.__dict__ for p in self.problems],
        }


def verify_log(
    path: Path,
    *,
    public_key: Ed25519PublicKey | None = None,
    exports: Sequence[CheckpointExport] = (),
) -> VerifyReport:
    """Verify the audit log at ``path``.

    Args:
        path: the audit database.
        public_key: the node's key as the verifier knows it; without it the
            key in the first export, else the one the log names, is used.
        exports: checkpoint exports kept by third parties.

    Raises:
        AuditReadError: ``path`` does not exist.
    """
    report = VerifyReport(str(path))
    if not path.is_file():
        raise AuditReadError(f"{path}: no such audit database")
    try:
        with AuditReader(path) as reader:
            _verify(reader, report, public_key, exports)
    except (AuditReadError, sqlite3.Error, UnicodeDecodeError) as exc:
        report.add(Problem("unreadable", f"the audit database cannot be read: {exc}"))
    return report


def _choose_key(
    meta: dict[str, str],
    report: VerifyReport,
    public_key: Ed25519PublicKey | None,
    exports: Sequence[CheckpointExport],
) -> Ed25519PublicKey | None:
    logged = meta.get("public_key", "")
    if public_key is not None:
        report.key_source = "given (--key)"
        chosen = public_key
    elif exports:
        report.key_source = f"checkpoint export {exports[0].source}"
        try:
            chosen = public_from_hex(exports[0].public_key)
        except KeyFileError as exc:
            report.add(Problem("key", f"{exports[0].source}: {exc}"))
            return None
    else:
        report.key_source = "the log itself (pin it with --key to rule out a replaced key)"
        try:
            return public_from_hex(logged)
        except KeyFileError as exc:
            report.add(Problem("meta", f"the log's public key is unusable: {exc}"))
            return None
    if public_hex(chosen) != logged:
        report.add(Problem("key", "the log names another signing key than the one verified with"))
    return chosen


def _verify(
    reader: AuditReader,
    report: VerifyReport,
    public_key: Ed25519PublicKey | None,
    exports: Sequence[CheckpointExport],
) -> None:
    for difference in schema_differences(reader.db):
        report.add(Problem("schema", f"the database schema was changed: {difference}"))
    meta = reader.meta()
    report.node_id = meta.get("node_id", "")
    if meta.get("format") != SCHEMA_FORMAT:
        report.add(Problem("meta", f"unknown log format {meta.get('format')!r}"))
    key = _choose_key(meta, report, public_key, exports)
    anchors = _purge_anchors(reader)
    _walk_entries(reader, report, anchors)
    ours = _verify_checkpoints(reader, report, key, anchors)
    for export in exports:
        _verify_export(reader, report, key, export, ours)
    _check_forks(report, exports)


def _purge_anchors(reader: AuditReader) -> dict[int, str]:
    """cut seq → chain hash of that entry, from every ``audit_purged`` entry."""
    anchors: dict[int, str] = {}
    for row in reader.entries(AUDIT_PURGED):
        data = row.document().get("data")
        if isinstance(data, dict):
            cut, cut_hash = data.get("cut_seq"), data.get("cut_hash")
            if isinstance(cut, int) and isinstance(cut_hash, str):
                anchors[cut] = cut_hash
    return anchors


def _walk_entries(reader: AuditReader, report: VerifyReport, anchors: dict[int, str]) -> None:
    node_id = report.node_id
    expected = 0
    running = GENESIS
    recent: OrderedDict[str, int] = OrderedDict()
    for row in reader.entries():
        report.entries += 1
        report.last_seq = row.seq
        if expected == 0:
            report.first_seq = row.seq
            if row.seq == 1:
                running = GENESIS
            elif row.seq - 1 in anchors:
                running = anchors[row.seq - 1]
            else:
                cut = max((c for c in anchors if c < row.seq), default=0)
                report.add(
                    Problem(
                        "removed",
                        f"entries {cut + 1}–{row.seq - 1} are missing and no purge record "
                        "accounts for them",
                        seq=cut + 1,
                    )
                )
                running = row.prev_hash
            expected = row.seq
        if row.seq > expected:
            gap = (
                f"entry {expected}"
                if row.seq == expected + 1
                else (f"entries {expected}–{row.seq - 1}")
            )
            report.add(Problem("removed", f"{gap} removed", seq=expected))
            running = row.prev_hash
        document = row.document()
        try:
            canonical = canonical_json(document) == row.body
        except NotCanonicalError:
            canonical = False
        body_seq = document.get("seq")
        if not canonical or chain_hash(row.prev_hash, row.body) != row.hash:
            report.add(
                Problem(
                    "altered",
                    f"entry {row.seq} altered: its content does not match its hash",
                    seq=row.seq,
                )
            )
        elif row.prev_hash != running:
            earlier = recent.get(row.prev_hash)
            if earlier is not None and earlier < row.seq - 1:
                report.add(
                    Problem(
                        "inserted",
                        f"entry {earlier + 1} inserted: entry {row.seq} follows entry {earlier}",
                        seq=earlier + 1,
                    )
                )
            elif isinstance(body_seq, int) and body_seq != row.seq:
                report.add(_misplaced(reader, row.seq, body_seq))
            else:
                previous = row.seq - 1
                report.add(
                    Problem(
                        "altered",
                        f"the chain breaks between entries {previous} and {row.seq}: entry "
                        f"{previous} was altered and its hash recomputed, or an entry was "
                        "inserted, removed or reordered there",
                        seq=previous,
                    )
                )
        elif body_seq != row.seq:
            report.add(Problem("reordered", f"entry {row.seq} holds entry {body_seq}", seq=row.seq))
        elif (
            document.get("format") != ENTRY_FORMAT
            or document.get("kind") != row.kind
            or row.kind not in ENTRY_KINDS
            or document.get("time") != row.time
            or document.get("node_id") != node_id
        ):
            report.add(
                Problem(
                    "altered",
                    f"entry {row.seq} altered: its columns disagree with its content",
                    seq=row.seq,
                )
            )
        running = row.hash
        recent[row.hash] = row.seq
        if len(recent) > _WINDOW:
            recent.popitem(last=False)
        expected = row.seq + 1


def _misplaced(reader: AuditReader, seq: int, holds: int) -> Problem:
    """Entry ``seq`` holds the content of entry ``holds``: reordered, or entries removed."""
    if holds < seq:
        return Problem(
            "reordered", f"entry {seq} holds entry {holds}: reordered or duplicated", seq=holds
        )
    other = reader.entry(holds)
    if other is not None and other.document().get("seq") == seq:
        return Problem("reordered", f"entries {seq} and {holds} were swapped", seq=seq)
    return Problem(
        "removed",
        f"entry {seq} holds entry {holds}: entries {seq}–{holds - 1} were removed and later "
        "ones renumbered",
        seq=seq,
    )


def _load_checkpoint(body: str, signature: str) -> Checkpoint | None:
    try:
        checkpoint = checkpoint_from_body(json.loads(body), signature)
    except (json.JSONDecodeError, ValueError, RecursionError):
        return None
    return checkpoint if checkpoint.body_text() == body else None


def _check_head(
    reader: AuditReader,
    report: VerifyReport,
    anchors: dict[int, str],
    checkpoint: Checkpoint,
    since: int,
    who: str,
) -> bool:
    """Whether ``checkpoint``'s head matches the log; reports the problem if not."""
    if report.entries == 0 or checkpoint.seq > report.last_seq:
        report.add(
            Problem(
                "truncated",
                f"{who} covers entries up to {checkpoint.seq} but the log ends at "
                f"{report.last_seq}: the log was truncated or rolled back",
                seq=report.last_seq + 1,
                checkpoint=checkpoint.number,
            )
        )
        return False
    if checkpoint.seq < report.first_seq:
        anchor = anchors.get(checkpoint.seq)
        if anchor is not None and anchor != checkpoint.head:
            report.add(
                Problem(
                    "rewritten",
                    f"{who} disagrees with the purge record of entry {checkpoint.seq}",
                    seq=report.first_seq,
                    checkpoint=checkpoint.number,
                )
            )
            return False
        return True  # purged by retention; the purge record anchors what remains
    row = reader.entry(checkpoint.seq)
    if row is None:
        return True  # reported as removed by the walk
    if row.hash != checkpoint.head:
        first = max(since + 1, report.first_seq)
        report.add(
            Problem(
                "rewritten",
                f"{who} does not match entry {checkpoint.seq}: entries {first}–"
                f"{checkpoint.seq} were rewritten after it was signed",
                seq=first,
                checkpoint=checkpoint.number,
                through=checkpoint.seq,
            )
        )
        return False
    return True


def _verify_checkpoints(
    reader: AuditReader,
    report: VerifyReport,
    key: Ed25519PublicKey | None,
    anchors: dict[int, str],
) -> dict[int, Checkpoint]:
    ours: dict[int, Checkpoint] = {}
    previous: Checkpoint | None = None
    matched = 0
    for row in reader.checkpoints():
        report.checkpoints += 1
        checkpoint = _load_checkpoint(row.body, row.signature)
        where = f"checkpoint {row.number}"
        if checkpoint is None:
            report.add(Problem("checkpoint_altered", f"{where} altered", checkpoint=row.number))
            continue
        if key is not None and not checkpoint.signature_valid(key):
            report.add(
                Problem(
                    "checkpoint_forged",
                    f"{where}: the signature does not verify: forged or altered",
                    checkpoint=row.number,
                )
            )
            continue
        if checkpoint.number != row.number or checkpoint.seq != row.seq:
            report.add(
                Problem(
                    "checkpoint_rolled_back",
                    f"{where} holds checkpoint {checkpoint.number} (entry {checkpoint.seq}):"
                    " an older checkpoint was put in its place",
                    checkpoint=row.number,
                )
            )
            continue
        if checkpoint.node_id != report.node_id:
            report.add(
                Problem(
                    "meta", f"{where} is for node {checkpoint.node_id!r}", checkpoint=row.number
                )
            )
        if previous is None and checkpoint.number != 1:
            report.add(Problem("checkpoint_missing", f"checkpoints before {where} are missing"))
        if previous is not None:
            if checkpoint.number != previous.number + 1:
                report.add(
                    Problem(
                        "checkpoint_missing",
                        f"checkpoints {previous.number + 1}–{checkpoint.number - 1} are missing",
                        checkpoint=previous.number + 1,
                    )
                )
            elif checkpoint.previous != previous.digest() or checkpoint.seq <= previous.seq:
                report.add(
                    Problem(
                        "checkpoint_rolled_back",
                        f"{where} does not follow checkpoint {previous.number}: replaced or "
                        "rolled back",
                        checkpoint=row.number,
                    )
                )
        if _check_head(reader, report, anchors, checkpoint, matched, where):
            matched = checkpoint.seq
        ours[checkpoint.number] = checkpoint
        previous = checkpoint
        report.last_checkpoint_seq = max(report.last_checkpoint_seq, checkpoint.seq)
    return ours


def _verify_export(
    reader: AuditReader,
    report: VerifyReport,
    key: Ed25519PublicKey | None,
    export: CheckpointExport,
    ours: dict[int, Checkpoint],
) -> None:
    if export.node_id != report.node_id:
        report.add(
            Problem(
                "export_mismatch",
                f"{export.source} is for node {export.node_id!r}, not {report.node_id!r}",
            )
        )
        return
    if key is not None and export.public_key != public_hex(key):
        report.add(Problem("key", f"{export.source} names another signing key"))
    latest = max(ours) if ours else 0
    matched = 0
    for checkpoint in export.checkpoints:
        report.exported_checked += 1
        where = f"exported checkpoint {checkpoint.number} ({export.source})"
        if key is not None and not checkpoint.signature_valid(key):
            report.add(
                Problem(
                    "checkpoint_forged",
                    f"{where}: the signature does not verify",
                    checkpoint=checkpoint.number,
                )
            )
            continue
        mine = ours.get(checkpoint.number)
        if mine is None and checkpoint.number > latest:
            report.add(
                Problem(
                    "truncated",
                    f"{where} is not in the log, whose last checkpoint is {latest}: the log was "
                    "rolled back or truncated",
                    seq=min(checkpoint.seq, report.last_seq + 1),
                    checkpoint=checkpoint.number,
                )
            )
            continue
        if mine is not None and mine.body_text() != checkpoint.body_text():
            report.add(
                Problem(
                    "export_mismatch",
                    f"{where} differs from checkpoint {checkpoint.number} in the log: the log "
                    "was rewritten, or shown differently to different parties",
                    seq=min(checkpoint.seq, mine.seq),
                    checkpoint=checkpoint.number,
                )
            )
            continue
        if _check_head(reader, report, {}, checkpoint, matched, where):
            matched = checkpoint.seq


def _check_forks(report: VerifyReport, exports: Sequence[CheckpointExport]) -> None:
    seen: dict[int, tuple[str, str]] = {}
    for export in exports:
        for checkpoint in export.checkpoints:
            body = checkpoint.body_text()
            earlier = seen.setdefault(checkpoint.number, (body, export.source))
            if earlier[0] != body:
                report.add(
                    Problem(
                        "fork",
                        f"checkpoint {checkpoint.number} differs between {earlier[1]} and "
                        f"{export.source}: the node showed different logs to different parties",
                        checkpoint=checkpoint.number,
                    )
                )
