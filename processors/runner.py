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
        """Follow the log until cancelled (or ``stop`` is set)."""
        await self.start()
        while stop is None or not stop.is_set():
            if await self.poll():
                continue
            delay = self.poll_interval
            due = self.host.processor.next_due()
            if due is not None:
                delay = max(0.0, min(delay, (due - self.host.clock()).total_seconds()))
            await asyncio.sleep(delay)

    async def close(self) -> None:
        await self.host.close()
