"""What verification finds: :class:`Problem` and the :class:`VerifyReport` that collects them."""

from __future__ import annotations

from dataclasses import dataclass, field

MAX_PROBLEMS = 100
"""Most problems one report lists."""


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
    witnessed_checked: int = 0
    """Checkpoints cosigned by trusted witnesses the log was checked against."""
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
            "witnessed_checkpoints_checked": self.witnessed_checked,
            "first_bad_entry": first.seq if first else None,
            "problems": [p.__dict__ for p in self.problems],
        }
