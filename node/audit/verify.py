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

import sqlite3
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from fieldgate.node.audit.canonical import GENESIS, NotCanonicalError, canonical_json, chain_hash
from fieldgate.node.audit.checkpoint_checks import check_forks, verify_checkpoints, verify_export
from fieldgate.node.audit.checkpoints import Checkpoint, CheckpointExport
from fieldgate.node.audit.entries import AUDIT_PURGED, ENTRY_FORMATS, ENTRY_KINDS
from fieldgate.node.audit.findings import Problem, VerifyReport
from fieldgate.node.audit.keys import KeyFileError, public_from_hex, public_hex
from fieldgate.node.audit.schema import (
    SCHEMA_FORMAT,
    AuditReader,
    AuditReadError,
    NotAnAuditDatabase,
    schema_differences,
)

__all__ = ["Problem", "VerifyReport", "verify_log"]

_WINDOW = 4096  # recent entry hashes remembered to tell an insertion from a reordering


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
        NotAnAuditDatabase: ``path`` holds no audit log at all (a wrong path, not tampering).
    """
    report = VerifyReport(str(path))
    if not path.is_file():
        raise AuditReadError(f"{path}: no such audit database")
    try:
        with AuditReader(path) as reader:
            _verify(reader, report, public_key, exports)
    except NotAnAuditDatabase:
        raise
    except (AuditReadError, sqlite3.Error, UnicodeDecodeError) as exc:
        report.add(Problem("unreadable", f"the audit database cannot be read: {exc}"))
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        # Content no intact log can have (a damaged value of the wrong type).
        report.add(Problem("unreadable", f"the audit database holds malformed values: {exc}"))
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
            chosen = public_from_hex(logged)
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
    damage = [str(r[0]) for r in reader.db.execute("PRAGMA integrity_check(5)")]
    if damage != ["ok"]:
        report.add(Problem("unreadable", "the database file is damaged: " + "; ".join(damage)))
    meta = reader.meta()
    report.node_id = meta.get("node_id", "")
    if meta.get("format") != SCHEMA_FORMAT:
        report.add(Problem("meta", f"unknown log format {meta.get('format')!r}"))
    key = _choose_key(meta, report, public_key, exports)
    anchors, purge_entries = _purge_anchors(reader)
    _walk_entries(reader, report, anchors)
    ours = verify_checkpoints(reader, report, key, anchors)
    _check_purge_is_signed(report, purge_entries, ours)
    for export in exports:
        verify_export(reader, report, key, export, ours)
    check_forks(report, exports)


def _purge_anchors(reader: AuditReader) -> tuple[dict[int, str], dict[int, int]]:
    """From every ``audit_purged`` entry: cut seq → chain hash, and cut seq → the entry's seq."""
    anchors: dict[int, str] = {}
    entries: dict[int, int] = {}
    for row in reader.entries(AUDIT_PURGED):
        data = row.document().get("data")
        if isinstance(data, dict):
            cut, cut_hash = data.get("cut_seq"), data.get("cut_hash")
            if isinstance(cut, int) and isinstance(cut_hash, str):
                anchors[cut] = cut_hash
                entries[cut] = row.seq
    return anchors, entries


def _check_purge_is_signed(
    report: VerifyReport, purge_entries: dict[int, int], ours: dict[int, Checkpoint]
) -> None:
    """A purge record vouches for missing entries only once a signed checkpoint covers it.

    A real purge signs a checkpoint over its own record in the same
    transaction; a purge record appended by someone without the key (to
    explain away deleted entries) has none.
    """
    cut = report.first_seq - 1
    if report.entries == 0 or cut < 1 or cut not in purge_entries:
        return  # no cut, or one the walk already reported as unexplained
    purge_seq = purge_entries[cut]
    if max((c.seq for c in ours.values()), default=0) < purge_seq:
        report.add(
            Problem(
                "removed",
                f"entries 1–{cut} are missing: the purge record that claims them (entry "
                f"{purge_seq}) is not covered by any signed checkpoint",
                seq=1,
            )
        )


def _walk_entries(reader: AuditReader, report: VerifyReport, anchors: dict[int, str]) -> None:
    node_id = report.node_id
    expected = 0
    running = GENESIS
    recent: OrderedDict[str, int] = OrderedDict()
    for row in reader.entries():
        report.entries += 1
        if not row.well_formed():
            report.add(Problem("altered", f"entry {row.seq}: a column was damaged", seq=row.seq))
            continue
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
            not _known_format(document.get("format"))
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


def _known_format(value: object) -> bool:
    """Whether ``value`` is an entry format this build reads (a damaged one may be a list)."""
    return isinstance(value, int) and not isinstance(value, bool) and value in ENTRY_FORMATS


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
