"""ledger.merkle against RFC 9162 section 2.1, with the expected values computed here
by a naive transcription of the RFC's recursive definitions (MTH, PATH, PROOF)."""

from __future__ import annotations

import hashlib

import pytest

from ledger import merkle


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def largest_power_of_two_below(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def MTH(D: list[bytes]) -> bytes:
    n = len(D)
    if n == 0:
        return sha256(b"")
    if n == 1:
        return sha256(b"\x00" + D[0])
    k = largest_power_of_two_below(n)
    return sha256(b"\x01" + MTH(D[:k]) + MTH(D[k:]))


def PATH(m: int, D: list[bytes]) -> list[bytes]:
    n = len(D)
    if n == 1:
        return []
    k = largest_power_of_two_below(n)
    if m < k:
        return PATH(m, D[:k]) + [MTH(D[k:])]
    return PATH(m - k, D[k:]) + [MTH(D[:k])]


def SUBPROOF(m: int, D: list[bytes], b: bool) -> list[bytes]:
    n = len(D)
    if m == n:
        return [] if b else [MTH(D)]
    k = largest_power_of_two_below(n)
    if m <= k:
        return SUBPROOF(m, D[:k], b) + [MTH(D[k:])]
    return SUBPROOF(m - k, D[k:], False) + [MTH(D[:k])]


def PROOF(m: int, D: list[bytes]) -> list[bytes]:
    return SUBPROOF(m, D, True)


ENTRIES = [bytes([i]) * (i % 5) for i in range(33)]
SIZES = list(range(1, 34))


def leaves_of(entries: list[bytes]) -> list[bytes]:
    return [merkle.leaf_hash(e) for e in entries]


def test_root__equals_mth_for_every_size() -> None:
    for n in range(0, 34):
        assert merkle.root(leaves_of(ENTRIES[:n])) == MTH(ENTRIES[:n])


def test_root__known_certificate_transparency_vector() -> None:
    # The 8-entry tree used by the Certificate Transparency reference implementations.
    entries = [bytes.fromhex(h) for h in ("", "00", "10", "2021", "3031", "40414243", "5051525354555657",
                                           "606162636465666768696a6b6c6d6e6f")]
    assert MTH(entries).hex() == "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"
    assert merkle.root(leaves_of(entries)) == MTH(entries)


def test_compact_range__root_after_each_append_equals_mth() -> None:
    tree = merkle.CompactRange()
    assert tree.root() == MTH([])
    for n, entry in enumerate(ENTRIES, start=1):
        tree.append(merkle.leaf_hash(entry))
        assert (tree.size, tree.root()) == (n, MTH(ENTRIES[:n]))
    snapshot = tree.copy()
    tree.append(merkle.leaf_hash(b"more"))
    assert snapshot.root() == MTH(ENTRIES) != tree.root()


@pytest.mark.parametrize("n", SIZES)
def test_inclusion__paths_equal_rfc_path_and_verify(n: int) -> None:
    D = ENTRIES[:n]
    leaves = leaves_of(D)
    expected_root = MTH(D)
    batch_root, batch = merkle.batch_paths(leaves)
    assert batch_root == expected_root
    for m in range(n):
        path = merkle.inclusion_path(m, leaves)
        assert path == PATH(m, D) == batch[m]
        assert merkle.verify_inclusion(leaves[m], m, n, path, expected_root)
        assert not merkle.verify_inclusion(merkle.leaf_hash(b"forged"), m, n, path, expected_root)
        if n > 1:
            assert not merkle.verify_inclusion(leaves[m], (m + 1) % n, n, path, expected_root)


@pytest.mark.parametrize("n", SIZES)
def test_consistency__proofs_equal_rfc_proof_and_verify(n: int) -> None:
    D = ENTRIES[:n]
    leaves = leaves_of(D)
    for m in range(1, n + 1):
        proof = merkle.consistency_proof(m, leaves)
        assert proof == PROOF(m, D)
        assert merkle.verify_consistency(m, n, MTH(D[:m]), MTH(D), proof)
        if m < n:
            assert not merkle.verify_consistency(m, n, MTH(D[: m - 1] + [b"x"]), MTH(D), proof)
            assert not merkle.verify_consistency(m, n, MTH(D[:m]), MTH(D[:-1] + [b"x"]), proof)
            if proof:
                bent = [proof[0][:-1] + bytes([proof[0][-1] ^ 1])] + proof[1:]
                assert not merkle.verify_consistency(m, n, MTH(D[:m]), MTH(D), bent)


def test_tree__root_path_and_proof_at_every_earlier_size_equal_the_rfc() -> None:
    tree = merkle.Tree(leaves_of(ENTRIES))
    for n in range(0, len(ENTRIES) + 1):
        D = ENTRIES[:n]
        assert tree.root(n) == MTH(D)
        for m in range(n):
            assert tree.inclusion_path(m, n) == PATH(m, D)
        for m in range(1, n + 1):
            assert tree.consistency_proof(m, n) == PROOF(m, D)
    with pytest.raises(ValueError):
        tree.root(len(ENTRIES) + 1)


def test_tree__truncate_undoes_appends() -> None:
    tree = merkle.Tree(leaves_of(ENTRIES[:20]))
    tree.extend(leaves_of([b"not", b"these", b"leaves"] * 5))
    tree.truncate(20)
    tree.extend(leaves_of(ENTRIES[20:]))
    assert (tree.size, tree.root()) == (len(ENTRIES), MTH(ENTRIES))
    assert tree.consistency_proof(7) == PROOF(7, ENTRIES)
