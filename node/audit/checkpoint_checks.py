"""Checking a log's signed checkpoints, and checkpoints exported to third parties.

See :mod:`fieldgate.node.audit.verify` for what each problem means and how precisely it
is located.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from fieldgate.node.audit.checkpoints import Checkpoint, CheckpointExport, checkpoint_from_body
from fieldgate.node.audit.findings import Problem, VerifyReport
from fieldgate.node.audit.keys import public_hex
from fieldgate.node.audit.schema import AuditReader


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


def verify_checkpoints(
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


def verify_export(
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


def check_forks(report: VerifyReport, exports: Sequence[CheckpointExport]) -> None:
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
