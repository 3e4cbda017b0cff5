"""RFC 9162 Merkle trees: the hashing behind batch signatures and checkpoints.

Leaf hash = SHA-256(0x00 || entry); node hash = SHA-256(0x01 || left || right); the
tree over n leaves splits at the largest power of two below n (RFC 9162 section 2.1.1).
Proof generation works from leaf hashes; verification follows the RFC's iterative
algorithms (sections 2.1.3.2 and 2.1.4.2), so a verifier needs nothing but the proof.

``Tree`` keeps every perfect subtree of an append-only tree, so the root, an audit path
or a consistency proof *at any earlier size* costs O(log n) hashes after one pass over
the leaves; the module-level functions are the same algorithms over a plain list.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(entry: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """Largest power of two strictly less than n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def root(leaves: Sequence[bytes]) -> bytes:
    """Merkle tree hash over leaf hashes (not entries), computed bottom-up."""
    if not leaves:
        return EMPTY_ROOT
    level = list(leaves)
    while len(level) > 1:
        nxt = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0]


def inclusion_path(index: int, leaves: Sequence[bytes]) -> list[bytes]:
    """Audit path for leaf ``index`` in the tree over ``leaves`` (leaf hashes)."""
    if not 0 <= index < len(leaves):
        raise IndexError(f"leaf {index} outside a tree of {len(leaves)}")
    path: list[bytes] = []
    lo, hi = 0, len(leaves)
    stack: list[bytes] = []
    while hi - lo > 1:
        k = _split(hi - lo)
        if index < lo + k:
            stack.append(root(leaves[lo + k : hi]))
            hi = lo + k
        else:
            stack.append(root(leaves[lo : lo + k]))
            lo = lo + k
    path.extend(reversed(stack))
    return path


def batch_paths(leaves: Sequence[bytes]) -> tuple[bytes, list[list[bytes]]]:
    """Root and every leaf's audit path in one pass: O(n log n) hashes in total,
    where calling ``inclusion_path`` per leaf would rehash whole subtrees."""
    n = len(leaves)
    paths: list[list[bytes]] = [[] for _ in range(n)]

    def build(lo: int, hi: int) -> bytes:
        if hi - lo == 1:
            return leaves[lo]
        k = _split(hi - lo)
        left, right = build(lo, lo + k), build(lo + k, hi)
        for i in range(lo, lo + k):
            paths[i].append(right)
        for i in range(lo + k, hi):
            paths[i].append(left)
        return node_hash(left, right)

    return (build(0, n) if n else EMPTY_ROOT), paths


def root_from_inclusion(leaf: bytes, index: int, size: int, path: Sequence[bytes]) -> bytes | None:
    """The root that ``path`` proves ``leaf`` (a leaf hash) sits under, or None if the
    path does not fit a tree of ``size`` (RFC 9162 section 2.1.3.2)."""
    if not 0 <= index < size:
        return None
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return None
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
    return r if sn == 0 else None


def verify_inclusion(leaf: bytes, index: int, size: int, path: Sequence[bytes], expected_root: bytes) -> bool:
    return root_from_inclusion(leaf, index, size, path) == expected_root


def consistency_proof(old_size: int, leaves: Sequence[bytes]) -> list[bytes]:
    """Proof that the tree of ``old_size`` leaves is a prefix of the tree over ``leaves``
    (RFC 9162 section 2.1.4.1, SUBPROOF)."""
    return Tree(leaves).consistency_proof(old_size)


def verify_consistency(old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]) -> bool:
    """RFC 9162 section 2.1.4.2."""
    if old_size == new_size:
        return old_root == new_root and not proof
    if not 0 < old_size < new_size:
        return False
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # exact power of two: the old root is a subtree
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
    return sn == 0 and fr == old_root and sr == new_root


class CompactRange:
    """An append-only RFC 9162 tree kept in O(log n) memory: the roots of the perfect
    subtrees that the tree over the leaves so far splits into, largest first.

    Appending a leaf merges equal-sized subtrees like a binary counter carries, so a
    sealer or verifier walks millions of leaves without holding them; ``root()``
    folds the stack right to left, which is the MTH of RFC 9162 section 2.1.1.
    """

    __slots__ = ("size", "_stack")

    def __init__(self) -> None:
        self.size = 0
        self._stack: list[bytes] = []

    def append(self, leaf: bytes) -> None:
        """Add one leaf hash (not an entry)."""
        stack = self._stack
        stack.append(leaf)
        n = self.size
        while n & 1:
            right = stack.pop()
            stack[-1] = node_hash(stack[-1], right)
            n >>= 1
        self.size += 1

    def extend(self, leaves: Sequence[bytes]) -> None:
        for leaf in leaves:
            self.append(leaf)

    def root(self) -> bytes:
        if not self._stack:
            return EMPTY_ROOT
        r = self._stack[-1]
        for h in reversed(self._stack[:-1]):
            r = node_hash(h, r)
        return r

    def copy(self) -> CompactRange:
        other = CompactRange()
        other.size = self.size
        other._stack = list(self._stack)
        return other


class Tree:
    """An append-only RFC 9162 tree that keeps every perfect subtree hash: level 0 is
    the leaf hashes, level j holds the roots of the aligned subtrees of 2**j leaves.

    Every subtree the RFC's MTH, PATH and SUBPROOF recurse into starts at a multiple
    of its largest power-of-two part, so each one is at most log2(n) stored subtrees
    folded together: the root, an audit path or a consistency proof at any size up to
    ``size`` costs O(log n) hashes, after n - 1 node hashes to build (the same work as
    computing the root once). Memory: about two hashes per leaf.
    """

    __slots__ = ("_levels",)

    def __init__(self, leaves: Sequence[bytes] = ()) -> None:
        self._levels: list[list[bytes]] = [[]]
        self.extend(leaves)

    @property
    def size(self) -> int:
        return len(self._levels[0])

    def append(self, leaf: bytes) -> None:
        """Add one leaf hash (not an entry)."""
        levels = self._levels
        levels[0].append(leaf)
        i, j = len(levels[0]) - 1, 0
        while i & 1:
            below = levels[j]
            j += 1
            if j == len(levels):
                levels.append([])
            levels[j].append(node_hash(below[i - 1], below[i]))
            i >>= 1

    def extend(self, leaves: Sequence[bytes]) -> None:
        for leaf in leaves:
            self.append(leaf)

    def truncate(self, size: int) -> None:
        """Forget the leaves from ``size`` on (undo appends that did not check out)."""
        for j, level in enumerate(self._levels):
            del level[size >> j :]

    def _mth(self, lo: int, hi: int) -> bytes:
        n = hi - lo
        if n & (n - 1) == 0 and lo % n == 0:
            j = n.bit_length() - 1
            return self._levels[j][lo >> j]
        k = _split(n)
        return node_hash(self._mth(lo, lo + k), self._mth(lo + k, hi))

    def _check(self, size: int | None) -> int:
        n = self.size if size is None else size
        if not 0 <= n <= self.size:
            raise ValueError(f"tree of {self.size} leaves has no size {n}")
        return n

    def root(self, size: int | None = None) -> bytes:
        """MTH of the first ``size`` leaves (default: all)."""
        n = self._check(size)
        return self._mth(0, n) if n else EMPTY_ROOT

    @property
    def leaves(self) -> list[bytes]:
        """The leaf hashes, in order (the tree's own list: read, do not modify)."""
        return self._levels[0]

    def inclusion_path(self, index: int, size: int | None = None) -> list[bytes]:
        """PATH(index, D[0:size]) of RFC 9162 section 2.1.3.1."""
        n = self._check(size)
        if not 0 <= index < n:
            raise IndexError(f"leaf {index} outside a tree of {n}")
        path: list[bytes] = []
        lo, hi = 0, n
        while hi - lo > 1:
            k = _split(hi - lo)
            if index < lo + k:
                path.append(self._mth(lo + k, hi))
                hi = lo + k
            else:
                path.append(self._mth(lo, lo + k))
                lo += k
        path.reverse()
        return path

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        """PROOF(old_size, D[0:new_size]) of RFC 9162 section 2.1.4.1."""
        n = self._check(new_size)
        if not 0 < old_size <= n:
            raise ValueError(f"no consistency proof from size {old_size} to {n}")
        proof: list[bytes] = []
        m, lo, hi, complete = old_size, 0, n, True
        while m != hi - lo:
            k = _split(hi - lo)
            if m <= k:
                proof.append(self._mth(lo + k, hi))
                hi = lo + k
            else:
                proof.append(self._mth(lo, lo + k))
                m, lo, complete = m - k, lo + k, False
        if not complete:
            proof.append(self._mth(lo, hi))
        proof.reverse()
        return proof
