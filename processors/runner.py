"""The embedded runner: hosts the processors in-process, on any log.

    runner = EmbeddedRunner(store, key)
    await runner.run_until_idle()     # catch up, fire what is due, return (demo, tests)
    await runner.run()                # follow the log until cancelled (dledger process/serve)

The runner owns every lifecycle partition. State and timers are rebuilt from the log
on start (see ``processors.host``), from offset 0 or, with ``snapshots``, from the
last snapshot's positions (see ``processors.snapshot``); either way, killing it at any
point and starting it again writes exactly what is still owed.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import sqlite3
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from ledger.signing import IssuerKey
from ledger.store import EventStore

from .engine import DEFAULT_GRACE
from .host import ProcessorHost, StateView, utc_now
from .snapshot import SnapshotFile

log = logging.getLogger("dledger.processors")

READ_LIMIT = 5_000
DEFAULT_SNAPSHOT_INTERVAL = 60.0


class EmbeddedRunner:
    def __init__(
        self,
        store: EventStore,
        key: IssuerKey,
        *,
        grace: timedelta = DEFAULT_GRACE,
        clock: Callable[[], datetime] = utc_now,
        poll_interval: float = 0.05,
        snapshots: SnapshotFile | None = None,
        snapshot_interval: float = DEFAULT_SNAPSHOT_INTERVAL,
    ) -> None:
        self.store = store
        self.host = ProcessorHost(store, key, grace=grace, clock=clock)
        self.poll_interval = poll_interval
        self.snapshots = snapshots
        self.snapshot_interval = snapshot_interval
        self.restored_from_snapshot = False
        self._snapshot_at = time.monotonic()
        self._snapshot_events = -1

    @property
    def state(self) -> StateView:
        return self.host.state

    @property
    def stats(self) -> dict[str, int]:
        return self.host.stats

    async def start(self) -> None:
        if self.host.recovered:
            return
        snap = None
        if self.snapshots is not None:
            topics = self.store.topics
            ends = await self.store.log.end_offsets(topics.lifecycle.name)
            registry_ends = await self.store.log.end_offsets(topics.registry.name)
            snap = await asyncio.to_thread(self.snapshots.load, ends, registry_ends)
            if snap is not None and not await self._anchored(snap):
                snap = None
            self.restored_from_snapshot = snap is not None
        await self.host.recover(snap)

    async def _anchored(self, snap) -> bool:  # noqa: ANN001
        """The records just before the snapshot's positions are the ones it was taken
        after (a ledger deleted and recreated with as many records is not resumed)."""
        topics = self.store.topics
        for topic, positions in ((topics.registry.name, snap.registry_positions), (topics.lifecycle.name, snap.positions)):
            for partition, position in positions.items():
                if position == 0:
                    continue
                anchor = snap.anchors.get((topic, partition))
                got = await self.store.log.read(topic, partition, position - 1, limit=1)
                if anchor is None or not got or hashlib.sha256(got[0].value).hexdigest() != anchor:
                    return False
        return True

    async def save_snapshot(self) -> bool:
        """Write a snapshot now, unless nothing happened since the last one. Call between
        polls only (every output of the state is then in the log)."""
        if self.snapshots is None or not self.host.recovered:
            return False
        events = self.host.stats["events"] + self.host.stats["revocations"] + self.host.stats["findings"]
        self._snapshot_at = time.monotonic()
        if events == self._snapshot_events:
            return False
        blob = self.snapshots.dump(self.host.snapshot())
        try:
            await asyncio.to_thread(self.snapshots.write, blob, events)
        except (sqlite3.Error, OSError) as exc:
            # a snapshot only saves restart time: failing to write one must not stop the processors
            log.warning("processor snapshot not written (%s): the next restart rebuilds from the log", exc)
            return False
        self._snapshot_events = events
        return True

    async def _maybe_snapshot(self) -> None:
        if self.snapshots is not None and time.monotonic() - self._snapshot_at >= self.snapshot_interval:
            await self.save_snapshot()

    async def poll(self) -> int:
        """Read what arrived (registry first, so new issuer keys are known), process
        it, fire what is due; returns records processed plus events written."""
        await self.start()
        n = 0
        topics = self.store.topics
        for topic in (topics.registry.name, topics.lifecycle.name):
            ends = await self.store.log.end_offsets(topic)
            seen = self.host.positions.setdefault(topic, {})
            for partition, end in sorted(ends.items()):
                start = seen.get(partition, 0)
                if start < end:
                    batch = await self.store.log.read(topic, partition, start, limit=min(READ_LIMIT, end - start))
                    n += await self.host.handle_records(batch)
        return n + await self.host.tick()

    async def run_until_idle(self) -> None:
        """Process until the log holds nothing unread and nothing is due."""
        while await self.poll():
            await self._maybe_snapshot()
        await self.save_snapshot()

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Follow the log until cancelled (or ``stop`` is set).

        A follower per topic feeds a queue, so timers fire on time even while a read
        is waiting for the log."""
        await self.start()
        await self.poll()  # whatever arrived during recovery
        queue: asyncio.Queue = asyncio.Queue(maxsize=50_000)
        followers = [
            asyncio.create_task(self._follow(topic, queue), name=f"dledger-follow-{topic}")
            for topic in (self.store.topics.registry.name, self.store.topics.lifecycle.name)
        ]
        try:
            while stop is None or not stop.is_set():
                delay = self.poll_interval
                due = self.host.next_due()
                if due is not None:
                    delay = max(0.0, min(delay, (due - self.host.clock()).total_seconds()))
                batch = []
                try:
                    batch.append(await asyncio.wait_for(queue.get(), delay) if delay > 0 else queue.get_nowait())
                except (asyncio.TimeoutError, asyncio.QueueEmpty):
                    pass
                while batch and len(batch) < READ_LIMIT and not queue.empty():
                    batch.append(queue.get_nowait())
                if batch:
                    await self.host.handle_records(batch)
                await self.host.tick()
                await self._maybe_snapshot()
                for f in followers:
                    if f.done() and f.exception() is not None:
                        raise f.exception()  # type: ignore[misc]
        finally:
            for f in followers:
                f.cancel()
            await asyncio.gather(*followers, return_exceptions=True)

    async def _follow(self, topic: str, queue: asyncio.Queue) -> None:
        start = dict(self.host.positions.get(topic, {}))
        async for record in self.store.log.follow(topic, start):
            await queue.put(record)

    async def close(self) -> None:
        await self.host.close()
