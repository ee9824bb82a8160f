"""RFC 9162 hashing and proofs against the Certificate Transparency reference vectors."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fieldgate.node.audit.merkle import (
    EMPTY_ROOT,
    CompactRange,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    range_consistency_proof,
    range_inclusion_proof,
    root,
    verify_consistency,
    verify_inclusion,
)

# The reference tree of RFC 6962's test suite (CT's merkle_tree_test), which
# RFC 9162 keeps: eight leaves, the root of every prefix, and proofs.
LEAVES = [
    bytes.fromhex(h)
    for h in ("", "00", "10", "2021", "3031", "40414243", "5051525354555657",
              "606162636465666768696a6b6c6d6e6f")
]  # fmt: skip
ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
INCLUSION = [  # (leaf index, tree size, path)
    (0, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (5, 8, ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (1, 5, ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
]  # fmt: skip
CONSISTENCY = [  # (old size, new size, proof)
    (1, 1, []),
    (1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (6, 8, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 5, ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
]  # fmt: skip
HASHES = [leaf_hash(leaf) for leaf in LEAVES]


def test_roots_match_the_reference() -> None:
    assert root([]) == EMPTY_ROOT
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    compact = CompactRange()
    for size in range(1, 9):
        assert root(HASHES[:size]).hex() == ROOTS[size - 1]
        compact.append(HASHES[size - 1])
        assert compact.root().hex() == ROOTS[size - 1]


@pytest.mark.parametrize(("index", "size", "path"), INCLUSION)
def test_inclusion_proofs_match_the_reference(index: int, size: int, path: list[str]) -> None:
    proof = inclusion_proof(index, HASHES[:size])
    assert [p.hex() for p in proof] == path
    expected = bytes.fromhex(ROOTS[size - 1])
    assert verify_inclusion(index, size, HASHES[index], proof, expected)
    assert not verify_inclusion(index, size, HASHES[(index + 1) % size], proof, expected)


@pytest.mark.parametrize(("old", "new", "path"), CONSISTENCY)
def test_consistency_proofs_match_the_reference(old: int, new: int, path: list[str]) -> None:
    proof = consistency_proof(old, HASHES[:new])
    assert [p.hex() for p in proof] == path
    old_root, new_root = bytes.fromhex(ROOTS[old - 1]), bytes.fromhex(ROOTS[new - 1])
    assert verify_consistency(old, new, proof, old_root, new_root)
    if old != new:
        assert not verify_consistency(old, new, proof, new_root, new_root)


@given(
    leaves=st.lists(st.binary(max_size=8), min_size=1, max_size=40),
    data=st.data(),
)
def test_every_proof_verifies_and_a_changed_leaf_does_not(
    leaves: list[bytes], data: st.DataObject
) -> None:
    hashes = [leaf_hash(leaf) for leaf in leaves]
    size = len(hashes)
    index = data.draw(st.integers(0, size - 1))
    old = data.draw(st.integers(1, size))
    full = root(hashes)
    proof = inclusion_proof(index, hashes)
    assert verify_inclusion(index, size, hashes[index], proof, full)
    assert not verify_inclusion(index, size, leaf_hash(leaves[index] + b"x"), proof, full)
    consistency = consistency_proof(old, hashes)
    assert verify_consistency(old, size, consistency, root(hashes[:old]), full)
    # A history rewritten before the old size is not consistent with the old root
    # (the forged leaf is longer than any drawn one).
    rewritten = [leaf_hash(b"forged-leaf"), *hashes[1:]]
    assert not verify_consistency(
        old, size, consistency_proof(old, rewritten), root(hashes[:old]), root(rewritten)
    )


@given(size=st.integers(1, 70), data=st.data())
def test_proofs_from_a_purged_prefix_kept_as_a_compact_range_are_the_full_trees_proofs(
    size: int, data: st.DataObject
) -> None:
    """After a purge only the compact range of entries 1..cut is kept; every proof from the
    cut on is the one the whole tree gives, and nothing inside the purged prefix is claimed."""
    hashes = [leaf_hash(number.to_bytes(4, "big")) for number in range(size)]
    cut = data.draw(st.integers(0, size))
    prefix = CompactRange()
    for leaf in hashes[:cut]:
        prefix.append(leaf)
    nodes: dict[tuple[int, int], bytes] = {}
    start = 0
    for bit in reversed(range(cut.bit_length())):
        if cut >> bit & 1:
            nodes[(start, start + (1 << bit))] = prefix.hashes[len(nodes)]
            start += 1 << bit

    def mth(a: int, b: int) -> bytes:
        if (a, b) in nodes:
            return nodes[(a, b)]
        if b - a == 1:
            assert a >= cut, "a purged leaf was needed"
            return hashes[a]
        k = 1 << ((b - a - 1).bit_length() - 1)
        return node_hash(mth(a, a + k), mth(a + k, b))

    for index in range(cut, size):
        assert range_inclusion_proof(index, size, mth) == inclusion_proof(index, hashes)
    for old in range(max(cut, 1), size + 1):
        assert range_consistency_proof(old, size, mth) == consistency_proof(old, hashes)
