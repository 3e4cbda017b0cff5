"""The sealer's host loop: follow the lifecycle topic, feed the pure core, append its
Checkpoints through the Publisher. Durable state is the truth: on start it reads the
last checkpoint of each partition and rebuilds the tree from the log (``restore``)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timezone

from .. import merkle
from ..events import Checkpoint
from ..publisher import Publisher
from ..signing import IssuerKey
from ..store import EventStore
from .heads import record_leaf
from .sealer import DEFAULT_EVERY, DEFAULT_INTERVAL, Sealer


def _now() -> datetime:
    return datetime.now(timezone.utc)


async def latest_heads(store: EventStore, topic: str, signer_key_id: str | None = None) -> dict[int, Checkpoint]:
    """The checkpoint with the largest tree size per partition of ``topic``."""
    heads: dict[int, Checkpoint] = {}
    async for item in store.read_events(store.topics.checkpoints.name):
        cp = item.event
        if not isinstance(cp, Checkpoint) or cp.topic != topic:
            continue
        if signer_key_id is not None and cp.signer_key_id != signer_key_id:
            continue
        if cp.partition not in heads or cp.tree_size > heads[cp.partition].tree_size:
            heads[cp.partition] = cp
    return heads


async def ensure_registered(store: EventStore, key: IssuerKey) -> None:
    """Publish the sealer's IssuerKeyRegistered unless the registry already has it."""
    ring = await store.keyring()
    if not ring.knows(key.issuer_id, key.key_id):
        async with Publisher(store, key) as pub:
            await pub.publish(key.registration(system="dledger-sealer"))


async def restore(store: EventStore, sealer: Sealer) -> None:
    topic = sealer.topic
    heads = await latest_heads(store, topic, sealer.key.key_id)
    for partition in range(await store.log.partitions(topic)):
        head = heads.get(partition)
        tree = merkle.CompactRange()
        size = head.tree_size if head else 0
        while tree.size < size:
            batch = await store.log.read(topic, partition, tree.size, limit=min(10_000, size - tree.size))
            if not batch:
                break
            for r in batch:
                if r.offset != tree.size:
                    break
                tree.append(record_leaf(r.value))
            else:
                continue
            break
        sealer.restore(partition, tree, head)


async def seal(
    store: EventStore,
    key: IssuerKey,
    *,
    every: int = DEFAULT_EVERY,
    interval: float = DEFAULT_INTERVAL,
    once: bool = False,
    stop: asyncio.Event | None = None,
    on_checkpoints: Callable[[list[Checkpoint]], None] | None = None,
    clock: Callable[[], datetime] = _now,
) -> int:
    """Seal the lifecycle topic. ``once``: seal every record now in the log and return;
    otherwise follow it until ``stop`` is set. Returns the number of checkpoints written."""
    topic = store.topics.lifecycle.name
    await ensure_registered(store, key)
    sealer = Sealer(key, topic, every=every, interval=interval)
    await restore(store, sealer)
    written = 0
    async with Publisher(store, key) as publisher:

        async def emit(cps: list[Checkpoint]) -> None:
            nonlocal written
            if cps:
                await publisher.publish_many(cps)
                written += len(cps)
                if on_checkpoints:
                    on_checkpoints(cps)

        if once:
            ends = await store.log.end_offsets(topic)
            for partition, end in sorted(ends.items()):
                while sealer.next_offset(partition) < end:
                    start = sealer.next_offset(partition)
                    batch = await store.log.read(topic, partition, start, limit=min(10_000, end - start))
                    if not batch:
                        break
                    cps: list[Checkpoint] = []
                    for r in batch:
                        cps += sealer.observe(partition, r.offset, r.value, clock())
                    await emit(cps)
            await emit(sealer.flush(clock()))
            return written

        queue: asyncio.Queue = asyncio.Queue(maxsize=10_000)
        start = {p: sealer.next_offset(p) for p in range(await store.log.partitions(topic))}

        async def pump() -> None:
            async for record in store.log.follow(topic, start):
                await queue.put(record)

        reader = asyncio.create_task(pump(), name="dledger-sealer-follow")
        stop = stop or asyncio.Event()
        tick = min(max(interval / 4, 0.05), 1.0)
        try:
            while not stop.is_set():
                if reader.done():
                    reader.result()  # surface the reader's error
                cps = []
                try:
                    record = await asyncio.wait_for(queue.get(), tick)
                    cps += sealer.observe(record.partition, record.offset, record.value, clock())
                    while not queue.empty() and len(cps) < 100:
                        record = queue.get_nowait()
                        cps += sealer.observe(record.partition, record.offset, record.value, clock())
                except TimeoutError:
                    pass
                cps += sealer.due(clock())
                await emit(cps)
        finally:
            reader.cancel()
            try:
                await reader
            except (asyncio.CancelledError, Exception):
                pass
        await emit(sealer.flush(clock()))
    return written
