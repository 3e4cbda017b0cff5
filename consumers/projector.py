"""The projector: the thin async shell that keeps the views current.

It reads the registry and lifecycle topics from the positions tracked in the views
database, decodes, and hands batches to ``projection.project_in_transaction`` on the
views connection's own thread, so a batch of thousands of events costs one thread hop
and one commit, not one per statement.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

from ledger.errors import LogUnavailable
from ledger.store import EventStore

from .projection import BatchResult, Item, configure, create_schema, positions, project_in_transaction

T = TypeVar("T")
DEFAULT_BATCH = 5000


class ViewsDB:
    """An aiosqlite connection to a views database, with ``run`` to execute a sync core
    function (which takes a ``sqlite3.Connection``) on the connection's thread."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._db: aiosqlite.Connection | None = None

    async def open(self) -> ViewsDB:
        if self._db is None:
            if self.path != ":memory:":
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            try:
                self._db = await aiosqlite.connect(self.path, isolation_level=None, check_same_thread=False)
                if self.path != ":memory:":
                    await self.run(configure)
                await self.run(create_schema)
            except sqlite3.Error as exc:
                raise LogUnavailable(f"open views database {self.path}: {exc}") from exc
        return self

    async def close(self) -> None:
        if self._db is not None:
            await self._db.close()
            self._db = None

    async def __aenter__(self) -> ViewsDB:
        return await self.open()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        if self._db is None:
            raise LogUnavailable(f"views database {self.path} is not open")
        # aiosqlite has no public "run this callable on your thread"; _execute is that
        # primitive (every public method is built on it).
        return await self._db._execute(fn, self._db._conn, *args, **kwargs)


OnCommit = Callable[[Sequence[Item], BatchResult], Awaitable[None] | None]


class Projector:
    def __init__(self, store: EventStore, views: ViewsDB, *, batch_size: int = DEFAULT_BATCH,
                 on_commit: OnCommit | None = None) -> None:
        self.store = store
        self.views = views
        self.batch_size = batch_size
        self.on_commit = on_commit
        self.totals = BatchResult()
        self.caught_up = asyncio.Event()

    @property
    def topics(self) -> tuple[str, str]:
        return (self.store.topics.registry.name, self.store.topics.lifecycle.name)

    def _item(self, record: Any) -> Item:
        read = self.store.decode(record)
        return Item(record.topic, record.partition, record.offset, read.event,
                    None if read.error is None else f"{type(read.error).__name__}: {read.error}")

    async def _commit(self, items: list[Item]) -> None:
        if not items:
            return
        try:
            result = await self.views.run(project_in_transaction, items)
        except sqlite3.Error as exc:
            raise LogUnavailable(f"project {len(items)} events into {self.views.path}: {exc}") from exc
        for name in ("applied", "duplicates", "redelivered", "undecodable"):
            setattr(self.totals, name, getattr(self.totals, name) + getattr(result, name))
        if self.on_commit is not None:
            maybe = self.on_commit(items, result)
            if asyncio.iscoroutine(maybe):
                await maybe

    async def backlog(self) -> int:
        """Records in the log not yet projected."""
        tracked = await self.views.run(positions)
        total = 0
        for topic in self.topics:
            for p, end in (await self.store.log.end_offsets(topic)).items():
                total += max(0, end - tracked.get(topic, {}).get(p, 0))
        return total

    async def catch_up(self, progress: Callable[[int], None] | None = None) -> BatchResult:
        """Project everything now in the log, then return (``dledger project --once``)."""
        tracked = await self.views.run(positions)
        for topic in self.topics:
            ends = await self.store.log.end_offsets(topic)
            for partition in sorted(ends):
                offset = tracked.get(topic, {}).get(partition, 0)
                while offset < ends[partition]:
                    limit = min(self.batch_size, ends[partition] - offset)
                    records = await self.store.log.read(topic, partition, offset, limit=limit)
                    if not records:
                        break
                    await self._commit([self._item(r) for r in records])
                    offset = records[-1].offset + 1
                    if progress:
                        progress(len(records))
        self.caught_up.set()
        return self.totals

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Catch up, then follow both topics until ``stop`` is set or the task is cancelled."""
        await self.catch_up()
        tracked = await self.views.run(positions)
        queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=self.batch_size * 4)

        async def pump(topic: str) -> None:
            async for record in self.store.log.follow(topic, tracked.get(topic, {})):
                await queue.put(record)

        pumps = [asyncio.create_task(pump(t), name=f"dledger-project-{t}") for t in self.topics]
        stopper = asyncio.create_task(stop.wait()) if stop else None
        getter: asyncio.Task[Any] | None = None
        try:
            while True:
                getter = asyncio.create_task(queue.get())
                waits = {getter, *pumps} | ({stopper} if stopper else set())
                done, _ = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
                for p in pumps:
                    if p in done and p.exception() is not None:
                        getter.cancel()
                        raise p.exception()  # type: ignore[misc]
                if getter not in done:
                    getter.cancel()
                    if stopper in done:
                        return
                    continue
                records = [getter.result()]
                while len(records) < self.batch_size and not queue.empty():
                    records.append(queue.get_nowait())
                await self._commit([self._item(r) for r in records])
                if stopper is not None and stopper.done():
                    return
        finally:
            waiting = [t for t in (*pumps, stopper, getter) if t is not None]
            for t in waiting:
                t.cancel()
            await asyncio.gather(*waiting, return_exceptions=True)


async def project_once(store: EventStore, views_path: str | Path, *, batch_size: int = DEFAULT_BATCH,
                       progress: Callable[[int], None] | None = None) -> BatchResult:
    async with ViewsDB(views_path) as views:
        return await Projector(store, views, batch_size=batch_size).catch_up(progress)
