"""The sealing core: per partition, an incremental tree and the decision when to
emit a signed Checkpoint. Pure: no I/O, time is passed in, so the host loop (and a
test) decides what "now" is."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from .. import merkle
from ..errors import LogTampered
from ..events import Checkpoint
from ..signing import IssuerKey
from .heads import head_message, manifest_digest, record_leaf

DEFAULT_EVERY = 1000
DEFAULT_INTERVAL = 5.0


@dataclass
class _Partition:
    tree: merkle.CompactRange = field(default_factory=merkle.CompactRange)
    head_size: int = 0
    head_root: bytes | None = None
    pending: list[bytes] = field(default_factory=list)
    pending_since: datetime | None = None


class Sealer:
    """Seals one topic: ``observe`` each record in offset order, ``due`` on a timer,
    ``flush`` to seal everything pending. Each returns the Checkpoints to append."""

    def __init__(self, key: IssuerKey, topic: str, *, every: int = DEFAULT_EVERY, interval: float = DEFAULT_INTERVAL):
        if every < 1:
            raise ValueError("every must be at least 1")
        self.key = key
        self.topic = topic
        self.every = every
        self.interval = timedelta(seconds=interval)
        self._parts: dict[int, _Partition] = {}

    def _part(self, partition: int) -> _Partition:
        return self._parts.setdefault(partition, _Partition())

    # ------------------------------------------------------------ restore

    def restore(self, partition: int, tree: merkle.CompactRange, head: Checkpoint | None) -> None:
        """Resume from durable state: ``tree`` rebuilt from the log's first
        ``head.tree_size`` records, which must reproduce the head's root."""
        size, root = (head.tree_size, head.root_hash) if head else (0, None)
        if tree.size != size or (head is not None and tree.root() != root):
            raise LogTampered(
                f"{self.topic}[{partition}]: the first {size} records no longer match the last checkpoint;"
                " run `dledger verify` before sealing more"
            )
        self._parts[partition] = _Partition(tree=tree, head_size=size, head_root=root)

    def next_offset(self, partition: int) -> int:
        return self._part(partition).tree.size

    # ------------------------------------------------------------ sealing

    def observe(self, partition: int, offset: int, value: bytes, now: datetime) -> list[Checkpoint]:
        part = self._part(partition)
        if offset != part.tree.size:
            raise LogTampered(f"{self.topic}[{partition}]: expected offset {part.tree.size}, read {offset}")
        leaf = record_leaf(value)
        part.tree.append(leaf)
        part.pending.append(leaf)
        if part.pending_since is None:
            part.pending_since = now
        if len(part.pending) >= self.every:
            return [self._seal(partition, part, now)]
        return []

    def due(self, now: datetime) -> list[Checkpoint]:
        """Checkpoints for partitions whose oldest unsealed record waited ``interval``."""
        return [
            self._seal(p, part, now)
            for p, part in sorted(self._parts.items())
            if part.pending and part.pending_since is not None and now - part.pending_since >= self.interval
        ]

    def flush(self, now: datetime) -> list[Checkpoint]:
        return [self._seal(p, part, now) for p, part in sorted(self._parts.items()) if part.pending]

    def _seal(self, partition: int, part: _Partition, now: datetime) -> Checkpoint:
        size, root = part.tree.size, part.tree.root()
        leaves, part.pending, part.pending_since = part.pending, [], None
        message = head_message(
            self.topic, partition, size, root, part.head_size, part.head_root, now, manifest_digest(leaves)
        )
        cp = Checkpoint(
            event_id=hashlib.sha256(f"{self.topic}|{partition}|{size}|{root.hex()}".encode()).hexdigest()[:32],
            occurred_at=now,
            producer=self.key.producer,
            chain_id=f"checkpoint:{self.topic}:{partition}",
            topic=self.topic,
            partition=partition,
            tree_size=size,
            root_hash=root,
            previous_tree_size=part.head_size,
            previous_root_hash=part.head_root,
            signer_key_id=self.key.key_id,
            head_signature=self.key.sign(message),
            leaf_hashes=leaves,
        )
        part.head_size, part.head_root = size, root
        return cp
