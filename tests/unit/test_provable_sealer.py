"""The sealing core on its own: no log, time passed in."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from ledger import merkle
from ledger.errors import LogTampered
from ledger.provable.heads import checkpoint_message, head_signature_ok, record_leaf
from ledger.provable.sealer import Sealer
from ledger.signing import IssuerKey

KEY = IssuerKey.from_seed("dledger-sealer", b"unit sealer")
T0 = datetime(2025, 1, 1, tzinfo=timezone.utc)


def values(n: int) -> list[bytes]:
    return [f"record-{i}".encode() for i in range(n)]


def test_sealer__every_n_records_emits_linked_signed_heads() -> None:
    sealer = Sealer(KEY, "dledger.lifecycle", every=3, interval=3600)
    heads = [cp for i, v in enumerate(values(7)) for cp in sealer.observe(0, i, v, T0)]
    assert [cp.tree_size for cp in heads] == [3, 6]
    first, second = heads
    assert (second.previous_tree_size, second.previous_root_hash) == (3, first.root_hash)
    assert second.root_hash == merkle.root([record_leaf(v) for v in values(6)])
    assert second.leaf_hashes == [record_leaf(v) for v in values(6)[3:]]
    public = KEY.private_key.public_key()
    assert all(head_signature_ok(public, checkpoint_message(cp), cp.head_signature) for cp in heads)
    assert not head_signature_ok(public, checkpoint_message(second.model_copy(update={"tree_size": 7})),
                                 second.head_signature)
    (last,) = sealer.flush(T0)
    assert last.tree_size == 7 and sealer.flush(T0) == []


def test_sealer__interval_seals_a_quiet_partition_once() -> None:
    sealer = Sealer(KEY, "dledger.lifecycle", every=1000, interval=5)
    assert sealer.observe(2, 0, b"only", T0) == []
    assert sealer.due(T0 + timedelta(seconds=4)) == []
    (cp,) = sealer.due(T0 + timedelta(seconds=5))
    assert (cp.partition, cp.tree_size) == (2, 1)
    assert sealer.due(T0 + timedelta(seconds=60)) == []


def test_sealer__same_input_same_checkpoint_ids() -> None:
    a, b = (Sealer(KEY, "dledger.lifecycle", every=2) for _ in range(2))
    ids = [[cp.event_id for i, v in enumerate(values(4)) for cp in s.observe(0, i, v, T0)] for s in (a, b)]
    assert ids[0] == ids[1] and len(ids[0]) == 2


def test_sealer__restore_refuses_a_tree_that_does_not_match_the_head() -> None:
    sealer = Sealer(KEY, "dledger.lifecycle", every=2)
    (head,) = [cp for i, v in enumerate(values(2)) for cp in sealer.observe(0, i, v, T0)]
    good, bad = merkle.CompactRange(), merkle.CompactRange()
    good.extend([record_leaf(v) for v in values(2)])
    bad.extend([record_leaf(v) for v in (b"record-0", b"edited")])
    fresh = Sealer(KEY, "dledger.lifecycle", every=2)
    fresh.restore(0, good, head)
    assert fresh.next_offset(0) == 2
    with pytest.raises(LogTampered):
        fresh.restore(0, bad, head)
    with pytest.raises(LogTampered):
        fresh.observe(0, 5, b"gap", T0)
