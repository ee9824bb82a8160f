"""The audit log as an RFC 9162 Merkle tree: tree heads and proofs read from the database.

Leaf ``i`` is the canonical body of entry ``i + 1``, so the tree of size
``n`` covers entries 1..n.

A retention purge deletes the oldest entries but not the tree: its
``audit_purged`` entry keeps the **compact range** of the purged prefix — the
roots of the perfect subtrees covering entries 1..cut, at most one per bit of
``cut`` (``data.tree``, :func:`tree_record`). With it, and the entries that
remain, the root of every tree of size ``cut`` or more, the inclusion proof of
every remaining entry and the consistency proof between any two such sizes are
the same as before the purge, so witnesses keep cosigning across it and
``audit verify --witnessed`` keeps checking what they cosigned. Only trees
smaller than the cut (and the purged entries themselves) can no longer be
proven: :class:`TreeError` says so. A purge written before compact ranges
were kept leaves a log whose trees cannot be proven from its first remaining
entry either (its hash chain and signed checkpoints still verify).
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from fieldgate.node.audit.entries import AUDIT_PURGED
from fieldgate.node.audit.merkle import (
    CompactRange,
    leaf_hash,
    node_hash,
    range_consistency_proof,
    range_inclusion_proof,
)
from fieldgate.node.errors import NodeError


class TreeError(NodeError):
    """A tree head or proof that cannot be made from the log as it is."""


def tree_record(prefix: CompactRange) -> dict[str, Any]:
    """The ``tree`` of an ``audit_purged`` entry: the compact range of the purged entries."""
    return {"size": prefix.size, "hashes": [h.hex() for h in prefix.hashes]}


def _prefix_from(data: object, cut: int) -> CompactRange | None:
    """The compact range a purge entry's ``data`` keeps, or None when it keeps none."""
    if not isinstance(data, dict) or not isinstance(data.get("tree"), dict):
        return None
    tree = data["tree"]
    size, hashes = tree.get("size"), tree.get("hashes")
    if size != cut or not isinstance(hashes, list) or not all(isinstance(h, str) for h in hashes):
        raise TreeError(f"the purge record of entries 1–{cut} holds a malformed tree")
    try:
        decoded = [bytes.fromhex(h) for h in hashes]
        if any(len(h) != 32 for h in decoded):
            raise ValueError("a subtree root is not 32 bytes")
        return CompactRange(cut, decoded)
    except ValueError as exc:
        raise TreeError(
            f"the purge record of entries 1–{cut} holds a malformed tree: {exc}"
        ) from None


class LogTree:
    """The Merkle tree of one audit database, as far as it can still be proven."""

    def __init__(self, db: sqlite3.Connection) -> None:
        """Read the purged prefix (if any) from ``db``; leaves are read when asked for.

        Raises:
            TreeError: the oldest entries are gone and no purge record keeps their tree.
        """
        self._db = db
        first = db.execute("SELECT min(seq) FROM entries").fetchone()[0]
        self.first = int(first) if first is not None else 1
        self.prefix = CompactRange()
        self.purged_without_tree = False
        if self.first > 1:
            found = self._purge_record(self.first - 1)
            if found is None:
                self.purged_without_tree = True
            else:
                self.prefix = found
        self._nodes: dict[tuple[int, int], bytes] = {}
        start = 0
        for bit in reversed(range(self.prefix.size.bit_length())):
            if self.prefix.size >> bit & 1:
                width = 1 << bit
                self._nodes[(start, start + width)] = self.prefix.hashes[len(self._nodes)]
                start += width
        self._leaves: list[bytes] = []

    def _purge_record(self, cut: int) -> CompactRange | None:
        for (body,) in self._db.execute(
            "SELECT body FROM entries WHERE kind = ? ORDER BY seq DESC", (AUDIT_PURGED,)
        ):
            try:
                data = json.loads(body).get("data")
            except (json.JSONDecodeError, AttributeError, RecursionError):
                continue
            if isinstance(data, dict) and data.get("cut_seq") == cut:
                return _prefix_from(data, cut)
        return None

    @property
    def cut(self) -> int:
        """The size of the purged prefix (0 when nothing was purged)."""
        return self.first - 1

    def _check_size(self, size: int) -> None:
        if self.purged_without_tree:
            raise TreeError(
                f"entries 1–{self.cut} were purged by a retention purge that kept no tree: "
                "no tree of this log can be proven any more (its chain and checkpoints still "
                "verify)"
            )
        if size < self.cut:
            raise TreeError(
                f"the tree of size {size} lies inside entries 1–{self.cut}, purged by retention"
            )

    def _load(self, size: int) -> None:
        """Read the leaf hashes of entries cut+1..size (once)."""
        have = self.cut + len(self._leaves)
        if size <= have:
            return
        rows = self._db.execute(
            "SELECT seq, body FROM entries WHERE seq > ? AND seq <= ? ORDER BY seq", (have, size)
        ).fetchall()
        if len(rows) != size - have or (rows and (rows[0][0] != have + 1 or rows[-1][0] != size)):
            raise TreeError(
                f"the tree of size {size} needs entries {have + 1}–{size}; the log holds "
                f"{len(rows)} of them (removed)"
            )
        self._leaves += [leaf_hash(body.encode("utf-8")) for _, body in rows]

    def mth(self, start: int, end: int) -> bytes:
        """The hash of the subtree over leaves ``start..end-1``."""
        known = self._nodes.get((start, end))
        if known is not None:
            return known
        if end - start == 1:
            if start < self.cut:
                raise TreeError(f"entry {start + 1} was purged by retention")
            return self._leaves[start - self.cut]
        k = 1 << ((end - start - 1).bit_length() - 1)
        return node_hash(self.mth(start, start + k), self.mth(start + k, end))

    def root(self, size: int) -> bytes:
        """The RFC 9162 root over entries 1..size."""
        self._check_size(size)
        self._load(size)
        tree = self.prefix.copy()
        for leaf in self._leaves[: size - self.cut]:
            tree.append(leaf)
        return tree.root()

    def prefix_range(self, size: int) -> CompactRange:
        """The compact range of entries 1..size (what a purge up to ``size`` keeps)."""
        self._check_size(size)
        self._load(size)
        tree = self.prefix.copy()
        for leaf in self._leaves[: size - self.cut]:
            tree.append(leaf)
        return tree

    def inclusion(self, seq: int, size: int) -> list[bytes]:
        """The audit path of entry ``seq`` in the tree of ``size``."""
        if not 1 <= seq <= size:
            raise TreeError(f"entry {seq} is not in a tree of size {size}")
        if seq <= self.cut:
            raise TreeError(f"entry {seq} was purged by retention (entries 1–{self.cut})")
        self._check_size(size)
        self._load(size)
        return range_inclusion_proof(seq - 1, size, self.mth)

    def consistency(self, old_size: int, new_size: int) -> list[bytes]:
        """That the tree of ``new_size`` extends the tree of ``old_size``."""
        if not 1 <= old_size <= new_size:
            raise TreeError(f"no consistency proof from size {old_size} to {new_size}")
        self._check_size(old_size)
        self._load(new_size)
        return range_consistency_proof(old_size, new_size, self.mth)


def tree_root(db: sqlite3.Connection, size: int) -> bytes:
    """The RFC 9162 root over entries 1..size.

    Raises:
        TreeError: the tree cannot be built from the log as it is.
    """
    return LogTree(db).root(size)


def prove_inclusion(db: sqlite3.Connection, seq: int, size: int) -> list[bytes]:
    """The audit path of entry ``seq`` in the tree of ``size``.

    Raises:
        TreeError: the entry is not in that tree, or the tree cannot be built.
    """
    return LogTree(db).inclusion(seq, size)


def prove_consistency(db: sqlite3.Connection, old_size: int, new_size: int) -> list[bytes]:
    """That the tree of ``new_size`` extends the tree of ``old_size``.

    Raises:
        TreeError: the sizes are out of order, or the tree cannot be built.
    """
    return LogTree(db).consistency(old_size, new_size)
