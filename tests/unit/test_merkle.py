"""RFC 9162 Merkle trees: roots and proofs against the test vectors of RFC 6962's reference
implementations, and against the RFC's recursive definitions for every size up to 40."""

from __future__ import annotations

from hashlib import sha256

import pytest

from shared.merkle import (EMPTY_ROOT, TreeBuilder, consistency_proof, inclusion_proof, largest_power_of_two_below,
                           leaf_hash, node_hash, range_hashes, tree_hash, verify_consistency, verify_inclusion)

# The eight leaves of certificate-transparency's merkle tests, and the root after each.
LEAVES = [bytes.fromhex(h) for h in ("", "00", "10", "2021", "3031", "40414243", "5051525354555657",
                                     "606162636465666768696a6b6c6d6e6f")]
ROOTS = [bytes.fromhex(h) for h in (
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
)]
HASHES = [leaf_hash(leaf) for leaf in LEAVES]


def rfc_mth(hashes):
    """MTH(D[n]) as RFC 9162 2.1.1 writes it (recursively)."""
    if not hashes:
        return sha256(b"").digest()
    if len(hashes) == 1:
        return hashes[0]
    k = largest_power_of_two_below(len(hashes))
    return node_hash(rfc_mth(hashes[:k]), rfc_mth(hashes[k:]))


def rfc_path(m, hashes):
    if len(hashes) <= 1:
        return []
    k = largest_power_of_two_below(len(hashes))
    if m < k:
        return rfc_path(m, hashes[:k]) + [rfc_mth(hashes[k:])]
    return rfc_path(m - k, hashes[k:]) + [rfc_mth(hashes[:k])]


def rfc_subproof(m, hashes, whole):
    n = len(hashes)
    if m == n:
        return [] if whole else [rfc_mth(hashes)]
    k = largest_power_of_two_below(n)
    if m <= k:
        return rfc_subproof(m, hashes[:k], whole) + [rfc_mth(hashes[k:])]
    return rfc_subproof(m - k, hashes[k:], False) + [rfc_mth(hashes[:k])]


def test_the_empty_tree_and_the_reference_roots():
    assert TreeBuilder().root() == EMPTY_ROOT == bytes.fromhex(
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    for size, root in enumerate(ROOTS, start=1):
        assert tree_hash(HASHES[:size]) == root, size


def test_reference_inclusion_and_consistency_proofs():
    assert inclusion_proof(HASHES, 0) == [bytes.fromhex(h) for h in (
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4")]
    assert consistency_proof(HASHES, 6) == [bytes.fromhex(h) for h in (
        "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7")]


HASHES_40 = [leaf_hash(i.to_bytes(4, "big")) for i in range(40)]


@pytest.mark.parametrize("size", range(1, 41))
def test_streaming_roots_and_proofs_match_the_rfc_definitions(size):
    hashes = HASHES_40[:size]
    builder = TreeBuilder()
    for h in hashes:
        builder.append(h)
    assert builder.root() == rfc_mth(hashes)
    resumed = TreeBuilder(size, builder.compact_range)
    resumed.append(HASHES_40[0])
    assert resumed.root() == rfc_mth(hashes + [HASHES_40[0]])
    root = rfc_mth(hashes)
    for m in range(size):
        proof = inclusion_proof(hashes, m)
        assert proof == rfc_path(m, hashes)
        assert verify_inclusion(hashes[m], m, size, proof, root)
    for first in range(1, size):
        proof = consistency_proof(hashes, first)
        assert proof == rfc_subproof(first, hashes, True)
        assert verify_consistency(first, size, rfc_mth(hashes[:first]), root, proof)


def test_a_changed_proof_or_root_fails():
    root = tree_hash(HASHES_40[:13])
    proof = inclusion_proof(HASHES_40[:13], 5)
    assert verify_inclusion(HASHES_40[5], 5, 13, proof, root)
    assert not verify_inclusion(HASHES_40[6], 5, 13, proof, root)
    assert not verify_inclusion(HASHES_40[5], 6, 13, proof, root)
    assert not verify_inclusion(HASHES_40[5], 5, 13, proof[:-1], root)
    assert not verify_inclusion(HASHES_40[5], 5, 13, [*proof[:1], HASHES_40[0], *proof[2:]], root)
    assert not verify_inclusion(HASHES_40[5], 13, 13, proof, root)

    old = tree_hash(HASHES_40[:7])
    proof = consistency_proof(HASHES_40[:13], 7)
    assert verify_consistency(7, 13, old, root, proof)
    assert not verify_consistency(7, 13, tree_hash(HASHES_40[:6]), root, proof)
    assert not verify_consistency(7, 13, old, tree_hash(HASHES_40[:12]), proof)
    assert not verify_consistency(7, 13, old, root, proof[:-1])
    assert not verify_consistency(7, 13, old, root, [])
    assert not verify_consistency(8, 13, old, root, proof)
    # A log rewritten after 7 leaves is not consistent with its earlier root.
    rewritten = HASHES_40[:3] + [HASHES_40[30]] + HASHES_40[4:13]
    assert not verify_consistency(7, 13, old, tree_hash(rewritten), consistency_proof(rewritten, 7))
    assert verify_consistency(13, 13, root, root, []) and not verify_consistency(13, 13, root, old, [])


def test_range_hashes_need_every_leaf_of_each_range():
    assert range_hashes(iter(HASHES_40), [(8, 16), (0, 4)]) == [tree_hash(HASHES_40[8:16]), tree_hash(HASHES_40[:4])]
    with pytest.raises(ValueError, match="incomplete"):
        range_hashes(iter(HASHES_40[:10]), [(8, 16)])


def test_range_hashes_of_overlapping_ranges_in_one_pass():
    ranges = [(0, 8), (4, 6), (5, 13), (12, 13)]
    assert range_hashes(iter(HASHES_40), ranges) == [tree_hash(HASHES_40[a:b]) for a, b in ranges]
