"""What a report stands on: whether the log it read was verified, to which checkpoint, and who
witnessed it.

Every ``fieldgate audit report`` verifies the log first (chain, signed
checkpoints, and with ``--witnessed``/``--witness`` the checkpoints its
witnesses cosigned) and says so in its header and in its JSON (``log``). A
report over a log that does not verify is still printed — the auditor needs
to see what it says — but its header says NOT VERIFIED and names the first
problem.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fieldgate.node.audit.findings import VerifyReport
from fieldgate.node.audit.witness_checks import WitnessedCheck


@dataclass(frozen=True)
class Basis:
    """The verification a report stands on.

    Attributes:
        verified: the log verified (chain, checkpoints, and the witnesses given).
        entries: the first and last entry the log holds.
        checkpoints: signed checkpoints in the log.
        checkpoint_seq: the last entry its newest checkpoint covers.
        key_source: where the node's key came from (given, or the log's own).
        witnesses: trusted witnesses whose cosignatures matched the log.
        witnessed_size: the largest tree size they cosigned (0: not witnessed).
        problems: what was wrong (at most five, the first first).
    """

    verified: bool
    entries: tuple[int, int]
    checkpoints: int
    checkpoint_seq: int
    key_source: str
    witnesses: tuple[str, ...] = ()
    witnessed_size: int = 0
    problems: tuple[str, ...] = field(default=())

    def headline(self) -> str:
        """One line for a report's header."""
        first, last = self.entries
        if not self.verified:
            return f"log NOT VERIFIED: {self.problems[0] if self.problems else '?'}"
        text = (
            f"log verified: entries {first}–{last}, {self.checkpoints} signed checkpoints, "
            f"the newest covering entry {self.checkpoint_seq}"
        )
        if self.witnesses:
            text += f"; cosigned by {', '.join(self.witnesses)} up to entry {self.witnessed_size}"
        else:
            text += "; not checked against witnesses (--witnessed, --witness)"
        return text

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (a report's ``log``)."""
        return {
            "verified": self.verified,
            "first_entry": self.entries[0],
            "last_entry": self.entries[1],
            "checkpoints": self.checkpoints,
            "checkpoint_covers_entry": self.checkpoint_seq,
            "key_source": self.key_source,
            "witnessed_by": list(self.witnesses),
            "witnessed_up_to_entry": self.witnessed_size,
            "problems": list(self.problems),
            "headline": self.headline(),
        }


def basis_of(report: VerifyReport, witnessed: WitnessedCheck | None = None) -> Basis:
    """The basis a report stands on, from verifying its log (and its witness file)."""
    first = report.first_entry_problem()
    ordered = ([first] if first is not None else []) + [
        p for p in report.problems if p is not first
    ]
    return Basis(
        verified=report.ok,
        entries=(report.first_seq, report.last_seq),
        checkpoints=report.checkpoints,
        checkpoint_seq=report.last_checkpoint_seq,
        key_source=report.key_source,
        witnesses=tuple(sorted(witnessed.witnesses)) if witnessed is not None else (),
        witnessed_size=witnessed.newest if witnessed is not None else 0,
        problems=tuple(f"{p.kind}: {p.message}" for p in ordered[:5]),
    )
