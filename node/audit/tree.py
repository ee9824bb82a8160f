"""The audit log as an RFC 9162 Merkle tree: tree heads and proofs read from the database.

Leaf ``i`` is the canonical body of entry ``i + 1``, so the tree of size
``n`` covers entries 1..n. Proofs need every leaf from the first entry on: a
log whose oldest entries were purged by retention can no longer be proven
from its first entry, and :class:`TreeError` says so (its hash chain and
signed checkpoints still verify).
"""

from __future__ import annotations

import sqlite3

from fieldgate.node.audit.merkle import (
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    root,
)
from fieldgate.node.errors import NodeError


class TreeError(NodeError):
    """A tree head or proof that cannot be made from the log as it is."""


def leaves(db: sqlite3.Connection, size: int) -> list[bytes]:
    """The leaf hashes of the first ``size`` entries.

    Raises:
        TreeError: the log does not hold entries 1..size.
    """
    found = [
        (seq, leaf_hash(body.encode("utf-8")))
        for seq, body in db.execute(
            "SELECT seq, body FROM entries WHERE seq <= ? ORDER BY seq", (size,)
        )
    ]
    if len(found) != size or (found and (found[0][0] != 1 or found[-1][0] != size)):
        first = found[0][0] if found else None
        raise TreeError(
            f"the tree of size {size} needs entries 1–{size}; the log holds "
            + (f"{len(found)} of them from entry {first}" if found else "none of them")
            + " (purged by retention, or removed)"
        )
    return [digest for _, digest in found]


def tree_root(db: sqlite3.Connection, size: int) -> bytes:
    """The RFC 9162 root over entries 1..size."""
    return root(leaves(db, size))


def prove_inclusion(db: sqlite3.Connection, seq: int, size: int) -> list[bytes]:
    """The audit path of entry ``seq`` in the tree of ``size``.

    Raises:
        TreeError: the entry is not in that tree, or the tree cannot be built.
    """
    if not 1 <= seq <= size:
        raise TreeError(f"entry {seq} is not in a tree of size {size}")
    return inclusion_proof(seq - 1, leaves(db, size))


def prove_consistency(db: sqlite3.Connection, old_size: int, new_size: int) -> list[bytes]:
    """That the tree of ``new_size`` extends the tree of ``old_size``.

    Raises:
        TreeError: the sizes are out of order, or the tree cannot be built.
    """
    if not 1 <= old_size <= new_size:
        raise TreeError(f"no consistency proof from size {old_size} to {new_size}")
    return consistency_proof(old_size, leaves(db, new_size))
