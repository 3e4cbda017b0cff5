"""Batch signatures: one Ed25519 signature over a Merkle root, each event verifiable alone."""

from __future__ import annotations

import pytest

from ledger.codec import EventCodec
from ledger.errors import SignatureInvalid, UnknownIssuerKey
from ledger.events import TaskStarted
from ledger.signing import SIGNATURE_GROUP, IssuerKey, Keyring

codec = EventCodec()
alice = IssuerKey.from_seed("cp-alice", b"alice")
mallory = IssuerKey.from_seed("cp-alice", b"mallory")


def _signed_batch(n: int, key: IssuerKey = alice):
    events = [
        TaskStarted(chain_id=f"c{i}", task_id=f"t{i}", principal="p", purpose="demo", agent_id="a", producer=key.producer)
        for i in range(n)
    ]
    canon = [codec.canonical(e) for e in events]
    sigs = key.sign_batch(canon)
    return [codec.decode_with_canonical(codec.with_signature(e, c, s)) for e, c, s in zip(events, canon, sigs)]


@pytest.mark.parametrize("n", [1, 2, 3, 7, 64, 100, 200])
def test_batch__every_event_verifies_on_its_own(n: int) -> None:
    ring = Keyring([alice.registration()])
    batch = _signed_batch(n)
    for decoded in batch:
        Keyring([alice.registration()]).verify(decoded.event, decoded.canonical)  # fresh: no cache
        ring.verify(decoded.event, decoded.canonical)
    # one signature per group of SIGNATURE_GROUP events, each group a full Merkle tree
    sizes = [d.event.signature.tree_size for d in batch]
    expected = [min(SIGNATURE_GROUP, n - start) for start in range(0, n, SIGNATURE_GROUP)]
    assert sizes == [size for size in expected for _ in range(size)]
    assert len({d.event.signature.sig for d in batch}) == len(expected)


def test_batch__edited_bytes_fail() -> None:
    ring = Keyring([alice.registration()])
    decoded = _signed_batch(4)[2]
    tampered = decoded.canonical[:-2] + bytes([decoded.canonical[-2] ^ 1]) + decoded.canonical[-1:]
    with pytest.raises(SignatureInvalid):
        ring.verify(decoded.event, tampered)


def test_batch__event_moved_to_another_leaf_fails() -> None:
    ring = Keyring([alice.registration()])
    a, b = _signed_batch(2)
    moved = a.event.model_copy(update={"signature": b.event.signature})
    with pytest.raises(SignatureInvalid):
        ring.verify(moved, a.canonical)


def test_unknown_key__is_named() -> None:
    (decoded,) = _signed_batch(1, mallory)
    with pytest.raises(UnknownIssuerKey):
        Keyring([alice.registration()]).verify(decoded.event, decoded.canonical)


def test_registration__key_id_must_match_public_key() -> None:
    bad = alice.registration().model_copy(update={"public_key": mallory.public_bytes})
    with pytest.raises(SignatureInvalid):
        Keyring([bad])


def test_key_file__round_trips(tmp_path) -> None:
    key = IssuerKey.generate("cp-x")
    key.save(tmp_path / "k.key")
    loaded = IssuerKey.load(tmp_path / "k.key")
    assert (loaded.issuer_id, loaded.key_id) == ("cp-x", key.key_id)
    assert oct((tmp_path / "k.key").stat().st_mode & 0o777) == "0o600"
