"""Merkle trees as RFC 9162 (Certificate Transparency 2.0) section 2.1 defines them: plain Python.

Hashes: a leaf is SHA-256(0x00 || leaf), a node SHA-256(0x01 || left || right); the tree of n
leaves splits at k, the largest power of two below n (MTH, 2.1.1). Inclusion proofs (2.1.3) and
consistency proofs (2.1.4) are made and checked exactly as the RFC's algorithms say.

A log of millions of records is never held in memory: `TreeBuilder` keeps only the roots of the
perfect subtrees the leaves so far make (one per set bit of the size, a "compact range"), so the
root at any size costs O(log n) memory; `range_hashes` computes the subtree hashes a proof needs
in one pass over the leaves in order.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from hashlib import sha256

LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
EMPTY_ROOT = sha256(b"").digest()


def leaf_hash(leaf: bytes) -> bytes:
    return sha256(LEAF_PREFIX + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return sha256(NODE_PREFIX + left + right).digest()


def largest_power_of_two_below(n: int) -> int:
    """k with k < n <= 2k (n > 1), where RFC 9162 splits a tree of n leaves."""
    return 1 << ((n - 1).bit_length() - 1)


class TreeBuilder:
    """The root of the leaves appended so far, in O(log n) memory.

    `compact_range` holds the roots of the perfect subtrees [0, 2^a), [2^a, 2^a + 2^b), ... whose
    sizes are the set bits of `size`, largest first; RFC 9162's split at the largest power of two
    makes the root their fold from the right."""

    __slots__ = ("size", "_stack")

    def __init__(self, size: int = 0, compact_range: Sequence[bytes] = ()) -> None:
        if len(compact_range) != bin(size).count("1"):
            raise ValueError(f"a compact range of size {size} has {bin(size).count('1')} hashes, not {len(compact_range)}")
        self.size = size
        self._stack = list(compact_range)

    def append(self, hashed_leaf: bytes) -> None:
        stack, n, h = self._stack, self.size, hashed_leaf
        while n & 1:  # each trailing 1 bit is a perfect subtree the new leaf completes
            h = sha256(NODE_PREFIX + stack.pop() + h).digest()
            n >>= 1
        stack.append(h)
        self.size += 1

    def root(self) -> bytes:
        if not self._stack:
            return EMPTY_ROOT
        stack = self._stack
        h = stack[-1]
        for left in reversed(stack[:-1]):
            h = node_hash(left, h)
        return h

    @property
    def compact_range(self) -> list[bytes]:
        return list(self._stack)


def tree_hash(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH over already hashed leaves (2.1.1), in memory: for tests and short ranges."""
    builder = TreeBuilder()
    for hashed in leaf_hashes:
        builder.append(hashed)
    return builder.root()


# -- which subtrees a proof is made of (2.1.3.1 PATH, 2.1.4.1 SUBPROOF), as half-open leaf ranges


def inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """PATH(m, D[n]): the ranges whose MTH make the inclusion proof of leaf `index`, in order."""
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of {size}")
    path: list[tuple[int, int]] = []
    offset, m, n = 0, index, size
    while n > 1:
        k = largest_power_of_two_below(n)
        if m < k:
            path.append((offset + k, offset + n))
            n = k
        else:
            path.append((offset, offset + k))
            offset, m, n = offset + k, m - k, n - k
    return path[::-1]  # the recursion puts the deepest sibling first


def consistency_ranges(first: int, second: int) -> list[tuple[int, int]]:
    """PROOF(m, D[n]) = SUBPROOF(m, D[n], true): the ranges of a consistency proof, in order."""
    if not 0 < first <= second:
        raise ValueError(f"no consistency proof from {first} to {second}")
    proof: list[tuple[int, int]] = []
    offset, m, n, whole = 0, first, second, True
    while m != n:
        k = largest_power_of_two_below(n)
        if m <= k:
            proof.append((offset + k, offset + n))
            n = k
        else:
            proof.append((offset, offset + k))
            offset, m, n, whole = offset + k, m - k, n - k, False
    if not whole:
        proof.append((offset, offset + n))
    return proof[::-1]


def range_hashes(leaf_hashes: Iterable[bytes], ranges: Sequence[tuple[int, int]]) -> list[bytes]:
    """MTH of each range, from one pass over the leaf hashes in order. Ranges may overlap (the
    proofs of several leaves); memory is one compact range per range."""
    order = sorted(range(len(ranges)), key=lambda i: ranges[i][0])
    builders = [TreeBuilder() for _ in ranges]
    end = max((stop for _, stop in ranges), default=0)
    active: list[int] = []
    waiting = 0
    for index, hashed in enumerate(leaf_hashes):
        if index >= end:
            break
        while waiting < len(order) and ranges[order[waiting]][0] <= index:
            active.append(order[waiting])
            waiting += 1
        if active and any(ranges[i][1] <= index for i in active):
            active = [i for i in active if ranges[i][1] > index]
        for i in active:
            builders[i].append(hashed)
    for (start, stop), builder in zip(ranges, builders):
        if builder.size != stop - start:
            raise ValueError(f"the leaves end before {stop}: range [{start}, {stop}) is incomplete")
    return [builder.root() for builder in builders]


def inclusion_proof(leaf_hashes: Sequence[bytes], index: int) -> list[bytes]:
    return range_hashes(leaf_hashes, inclusion_ranges(index, len(leaf_hashes)))


def consistency_proof(leaf_hashes: Sequence[bytes], first: int) -> list[bytes]:
    if first == 0 or first == len(leaf_hashes):
        return []
    return range_hashes(leaf_hashes, consistency_ranges(first, len(leaf_hashes)))


# -- verification, step by step as RFC 9162 2.1.3.2 and 2.1.4.2 say


def verify_inclusion(hashed_leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes) -> bool:
    if index >= size or index < 0:
        return False
    fn, sn, r = index, size - 1, hashed_leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(first: int, second: int, first_root: bytes, second_root: bytes,
                       proof: Sequence[bytes]) -> bool:
    """2.1.4.2 for 0 < first < second; the RFC's proof for first == second is empty (SUBPROOF(m,
    D[m], true)), and a tree of 0 leaves is consistent with any tree, as RFC 6962-bis implementations
    (transparency-dev/merkle) take them."""
    if first < 0 or first > second:
        return False
    if first == second:
        return not proof and first_root == second_root
    if first == 0:
        return not proof
    if not proof:
        return False
    path = list(proof)
    if first & (first - 1) == 0:  # first is an exact power of 2
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
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
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == first_root and sr == second_root and sn == 0
