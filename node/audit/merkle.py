"""RFC 9162 (Certificate Transparency v2) Merkle tree hashing, inclusion and consistency proofs.

Implemented here from RFC 9162 §2.1 and checked against the Certificate
Transparency reference vectors (tests/node/test_audit_merkle.py: the roots of
the eight-leaf reference tree, its inclusion and consistency proofs). No
cryptography is invented: every hash is SHA-256 with the RFC's domain
separation, ``0x00`` before a leaf and ``0x01`` before two children.
``pymerkle`` (PyPI) was considered: it uses the same hashing but its own proof
format and pins an exact ``cachetools``, so proofs from it would not be the
RFC's audit paths a witness or another implementation expects.

The audit log's leaves are its entries' canonical bodies, in ``seq`` order:
leaf ``i`` is entry ``i + 1``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

EMPTY_ROOT = hashlib.sha256(b"").digest()
"""MTH of the empty tree."""


def leaf_hash(data: bytes) -> bytes:
    """``SHA-256(0x00 || data)``."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """``SHA-256(0x01 || left || right)``."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than ``n`` (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def root(leaves: Sequence[bytes]) -> bytes:
    """MTH over leaf hashes ``leaves``."""
    n = len(leaves)
    if n == 0:
        return EMPTY_ROOT
    if n == 1:
        return leaves[0]
    k = _split(n)
    return node_hash(root(leaves[:k]), root(leaves[k:]))


def inclusion_proof(index: int, leaves: Sequence[bytes]) -> list[bytes]:
    """PATH(index, leaves): the audit path of leaf ``index`` in the tree of ``leaves``.

    Raises:
        ValueError: ``index`` is not a leaf of the tree.
    """
    if not 0 <= index < len(leaves):
        raise ValueError(f"leaf {index} is not in a tree of {len(leaves)}")
    return _path(index, leaves)


def _path(index: int, leaves: Sequence[bytes]) -> list[bytes]:
    n = len(leaves)
    if n == 1:
        return []
    k = _split(n)
    if index < k:
        return [*_path(index, leaves[:k]), root(leaves[k:])]
    return [*_path(index - k, leaves[k:]), root(leaves[:k])]


def consistency_proof(old_size: int, leaves: Sequence[bytes]) -> list[bytes]:
    """PROOF(old_size, leaves): that the tree of ``leaves`` extends its first ``old_size``.

    Raises:
        ValueError: ``old_size`` is not between 1 and the tree's size.
    """
    if not 0 < old_size <= len(leaves):
        raise ValueError(f"cannot prove size {old_size} against a tree of {len(leaves)}")
    return _subproof(old_size, leaves, True)


def _subproof(m: int, leaves: Sequence[bytes], complete: bool) -> list[bytes]:
    n = len(leaves)
    if m == n:
        return [] if complete else [root(leaves)]
    k = _split(n)
    if m <= k:
        return [*_subproof(m, leaves[:k], complete), root(leaves[k:])]
    return [*_subproof(m - k, leaves[k:], False), root(leaves[:k])]


def verify_inclusion(
    index: int, size: int, leaf: bytes, proof: Sequence[bytes], expected_root: bytes
) -> bool:
    """RFC 9162 §2.1.3.2: whether ``leaf`` is leaf ``index`` of the tree ``expected_root``."""
    if not 0 <= index < size:
        return False
    fn, sn = index, size - 1
    r = leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == expected_root


def verify_consistency(
    old_size: int,
    new_size: int,
    proof: Sequence[bytes],
    old_root: bytes,
    new_root: bytes,
) -> bool:
    """RFC 9162 §2.1.4.2: whether the tree ``new_root`` of ``new_size`` extends ``old_root``."""
    if old_size < 1 or new_size < old_size:
        return False
    if old_size == new_size:
        return not proof and old_root == new_root
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # a power of two: the old root starts the path
        path.insert(0, old_root)
    if not path:
        return False
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == old_root and sr == new_root and sn == 0


RangeHash = Callable[[int, int], bytes]
"""``mth(start, end)``: the RFC 9162 hash of leaves ``start..end-1`` (a subtree of the tree)."""


def range_inclusion_proof(index: int, size: int, mth: RangeHash) -> list[bytes]:
    """PATH(index, D[0:size]) with every subtree hash taken from ``mth``.

    The same audit path as :func:`inclusion_proof`, for a tree whose leaves are
    not all at hand (a log whose oldest entries were purged keeps only the
    subtree roots of its purged prefix, :class:`CompactRange`).

    Raises:
        ValueError: ``index`` is not a leaf of the tree.
    """
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of {size}")
    path: list[bytes] = []
    start, end = 0, size
    while end - start > 1:
        k = _split(end - start)
        if index < start + k:
            path.append(mth(start + k, end))
            end = start + k
        else:
            path.append(mth(start, start + k))
            start += k
    path.reverse()  # PATH lists the leaf's sibling first
    return path


def range_consistency_proof(old_size: int, size: int, mth: RangeHash) -> list[bytes]:
    """PROOF(old_size, D[0:size]) with every subtree hash taken from ``mth``.

    Raises:
        ValueError: ``old_size`` is not between 1 and ``size``.
    """
    if not 0 < old_size <= size:
        raise ValueError(f"cannot prove size {old_size} against a tree of {size}")
    path: list[bytes] = []
    start, end, m, complete = 0, size, old_size, True
    while m != end - start:
        k = _split(end - start)
        if m <= k:
            path.append(mth(start + k, end))
            end = start + k
        else:
            path.append(mth(start, start + k))
            start, m, complete = start + k, m - k, False
    if not complete:
        path.append(mth(start, end))
    path.reverse()  # SUBPROOF lists the innermost subtree first
    return path


class CompactRange:
    """The roots of the perfect subtrees left of the next leaf: append and root in O(log n)."""

    def __init__(self, size: int = 0, hashes: Sequence[bytes] = ()) -> None:
        """A range of ``size`` leaves given its subtree roots, largest (leftmost) first."""
        if len(hashes) != bin(size).count("1"):
            raise ValueError(f"a range of {size} leaves has {bin(size).count('1')} subtree roots")
        self.size = size
        self.hashes = list(hashes)

    def append(self, leaf: bytes) -> None:
        """Add the next leaf hash."""
        self.hashes.append(leaf)
        self.size += 1
        size = self.size
        while size & 1 == 0:  # merge equal-sized neighbours
            right = self.hashes.pop()
            left = self.hashes.pop()
            self.hashes.append(node_hash(left, right))
            size >>= 1

    def root(self) -> bytes:
        """MTH of the leaves so far."""
        if not self.hashes:
            return EMPTY_ROOT
        result = self.hashes[-1]
        for left in reversed(self.hashes[:-1]):
            result = node_hash(left, result)
        return result

    def copy(self) -> CompactRange:
        """An independent copy."""
        return CompactRange(self.size, self.hashes)
