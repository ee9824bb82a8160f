"""Checking a log against the checkpoints its witnesses cosigned (``audit verify --witnessed``).

Each line of the witness file (:func:`node.audit.witnessing.witnessed_path`)
is a checkpoint note signed by the node and cosigned by witnesses. For every
note that a witness the verifier trusts cosigned, the log's RFC 9162 tree at
that size must have exactly the cosigned root. Whoever holds the node's key
can rewrite the log and re-sign every checkpoint of its own, but cannot make
the witnesses cosign a second history: the root they cosigned no longer
matches, and the rewrite is found.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from fieldgate.node.audit.findings import Problem
from fieldgate.node.audit.note import Note, NoteError, TreeHead
from fieldgate.node.audit.tree import LogTree, TreeError


@dataclass
class WitnessedCheck:
    """What checking the witness file found.

    Attributes:
        cosigned: notes cosigned by at least one trusted witness, checked.
        unprovable: of those, how many lie in a part of the log purged by retention.
        problems: mismatches (``rewritten``) and unreadable lines (``witnessed``).
        newest: the largest tree size a trusted witness cosigned and the log matched.
        witnesses: the trusted witnesses whose cosignatures were found.
    """

    cosigned: int = 0
    unprovable: int = 0
    problems: list[Problem] = field(default_factory=list)
    newest: int = 0
    witnesses: set[str] = field(default_factory=set)


def check_witnessed(
    log_path: Path,
    witnessed: Path,
    node_key: Ed25519PublicKey,
    witnesses: Mapping[str, Ed25519PublicKey],
) -> WitnessedCheck:
    """Check ``log_path`` against the cosigned notes in ``witnessed``."""
    result = WitnessedCheck()
    try:
        lines = witnessed.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        result.problems.append(Problem("witnessed", f"{witnessed}: cannot read: {exc}"))
        return result
    db = sqlite3.connect(f"file:{log_path}?mode=ro", uri=True)
    try:
        try:
            tree = LogTree(db)  # one tree for every note: its leaves are read once
        except TreeError as exc:
            result.problems.append(Problem("rewritten", f"{log_path}: {exc}"))
            return result
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            where = f"{witnessed}: line {number}"
            try:
                note = Note.parse(json.loads(line)["note"])
                head = TreeHead.parse(note.body)
            except (json.JSONDecodeError, KeyError, TypeError, NoteError) as exc:
                result.problems.append(
                    Problem("witnessed", f"{where}: not a cosigned note ({exc})")
                )
                continue
            if not note.verify(head.origin, node_key):
                result.problems.append(
                    Problem("witnessed", f"{where}: not signed with the node's key")
                )
                continue
            names = [n for n, key in witnesses.items() if note.cosigned_at(n, key) is not None]
            if not names:
                continue
            result.cosigned += 1
            if tree.purged_without_tree or head.size < tree.cut:
                result.unprovable += 1  # inside what retention purged
                continue
            try:
                actual = tree.root(head.size)
            except TreeError as exc:
                result.problems.append(
                    Problem("rewritten", f"the log cannot show the tree {', '.join(names)} "
                            f"cosigned ({where}): {exc}")
                )  # fmt: skip
                continue
            if actual == head.root:
                result.newest = max(result.newest, head.size)
                result.witnesses.update(names)
            else:
                result.problems.append(
                    Problem(
                        "rewritten",
                        f"the log's entries 1–{head.size} are not the ones {', '.join(names)} "
                        f"cosigned ({where}): its history was rewritten after it was witnessed",
                    )
                )
    finally:
        db.close()
    return result
