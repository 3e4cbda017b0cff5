"""The embedded runner: hosts the processors in-process, on any log.

    runner = EmbeddedRunner(store, key)
    await runner.run_until_idle()     # catch up, fire what is due, return (demo, tests)
    await runner.run()                # follow the log until cancelled (dledger process/serve)

State and timers are rebuilt from the log on start (see ``processors.host``), so the
runner keeps no position of its own: killing it at any point and starting it again
writes exactly what is still owed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta

from ledger.signing import IssuerKey
from ledger.store import EventStore

from .engine import DEFAULT_GRACE
from .host import ProcessorHost, utc_now

READ_LIMIT = 5_000


class EmbeddedRunner:
    def __init__(
        self,
        store: EventStore,
        key: IssuerKey,
        *,
        grace: timedelta = DEFAULT_GRACE,
        clock: Callable[[], datetime] = utc_now,
        poll_interval: float = 0.05,
    ) -> None:
        self.store = store
        self.host = ProcessorHost(store, key, grace=grace, clock=clock)
        self.poll_interval = poll_interval

    @property
    def state(self):  # noqa: ANN201
        return self.host.state

    @property
    def stats(self) -> dict[str, int]:
        return self.host.stats

    async def start(self) -> None:
        if not self.host.recovered:
            await self.host.recover()

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
            pass

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
                due = self.host.processor.next_due()
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
