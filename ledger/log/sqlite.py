"""The embedded log: one SQLite file in WAL mode, the same contract as Kafka."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path

import aiosqlite

from ..errors import LogUnavailable
from ..partitioning import partition_for
from .port import Capability, Log, OutgoingRecord, Position, StoredRecord, TopicSpec

_SCHEMA = """
CREATE TABLE IF NOT EXISTS topics (
    name TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    partitions INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS records (
    topic TEXT NOT NULL,
    partition INTEGER NOT NULL,
    offset INTEGER NOT NULL,
    key BLOB NOT NULL,
    value BLOB NOT NULL,
    headers TEXT,
    timestamp_ms INTEGER NOT NULL,
    PRIMARY KEY (topic, partition, offset)
) WITHOUT ROWID;
"""


def _headers_out(headers: tuple[tuple[str, bytes], ...]) -> str | None:
    return json.dumps([[k, v.hex()] for k, v in headers]) if headers else None


def _headers_in(text: str | None) -> tuple[tuple[str, bytes], ...]:
    return tuple((k, bytes.fromhex(v)) for k, v in json.loads(text)) if text else ()


class SqliteLog(Log):
    capabilities = frozenset({Capability.CROSS_PROCESS_APPENDERS, Capability.REWRITE_FOR_TESTS})

    def __init__(self, path: str | Path, poll_interval: float = 0.02, busy_timeout: float = 60.0) -> None:
        self.path = Path(path)
        self.poll_interval = poll_interval
        self.busy_timeout = busy_timeout
        self._db: aiosqlite.Connection | None = None
        self._partitions: dict[str, int] = {}
        self._write_lock = asyncio.Lock()

    def __repr__(self) -> str:
        return f"SqliteLog({str(self.path)!r})"

    async def _connect(self) -> aiosqlite.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = await aiosqlite.connect(self.path, isolation_level=None, timeout=self.busy_timeout)
        await db.execute("PRAGMA journal_mode=WAL")
        await db.execute("PRAGMA synchronous=FULL")  # durable on return, not just on checkpoint
        await db.execute(f"PRAGMA busy_timeout={int(self.busy_timeout * 1000)}")
        return db

    async def open(self) -> None:
        if self._db is not None:
            return
        try:
            self._db = await self._connect()
            await self._db.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise LogUnavailable(f"open sqlite log {self.path}: {exc}") from exc

    async def close(self) -> None:
        if self._db is not None:
            await self._db.close()
            self._db = None

    @property
    def db(self) -> aiosqlite.Connection:
        if self._db is None:
            raise LogUnavailable(f"{self!r} is not open")
        return self._db

    async def ensure_topic(self, spec: TopicSpec) -> None:
        try:
            await self.db.execute(
                "INSERT OR IGNORE INTO topics(name, kind, partitions) VALUES (?, ?, ?)",
                (spec.name, spec.kind.value, spec.partitions),
            )
        except sqlite3.Error as exc:
            raise LogUnavailable(f"create topic {spec.name}: {exc}") from exc
        self._partitions.pop(spec.name, None)

    async def partitions(self, topic: str) -> int:
        n = self._partitions.get(topic)
        if n is None:
            async with self.db.execute("SELECT partitions FROM topics WHERE name = ?", (topic,)) as cur:
                row = await cur.fetchone()
            if row is None:
                raise LogUnavailable(f"unknown topic {topic!r} in {self.path}")
            n = self._partitions[topic] = int(row[0])
        return n

    async def append(self, topic: str, records: Sequence[OutgoingRecord]) -> list[Position]:
        if not records:
            return []
        n = await self.partitions(topic)
        placed = [partition_for(r.key, n) for r in records]
        touched = sorted(set(placed))
        now = int(time.time() * 1000)
        # Four calls to the database thread per batch, whatever the partitions: the
        # next offsets of every touched partition in one query (each a PK-index max
        # lookup), then every row in one executemany, inside one write transaction.
        async with self._write_lock:  # one transaction at a time on this connection
            try:
                await self.db.execute("BEGIN IMMEDIATE")
                try:
                    async with self.db.execute(
                        "SELECT p.value, (SELECT COALESCE(MAX(offset) + 1, 0) FROM records"
                        " WHERE topic = ? AND partition = p.value) FROM json_each(?) AS p",
                        (topic, json.dumps(touched)),
                    ) as cur:
                        next_offset = dict(await cur.fetchall())
                    rows = []
                    positions = []
                    for r, partition in zip(records, placed):
                        offset = next_offset[partition]
                        next_offset[partition] = offset + 1
                        rows.append((topic, partition, offset, r.key, r.value, _headers_out(r.headers), now))
                        positions.append(Position(topic, partition, offset))
                    await self.db.executemany(
                        "INSERT INTO records(topic, partition, offset, key, value, headers, timestamp_ms)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?)",
                        rows,
                    )
                    await self.db.execute("COMMIT")
                except BaseException:
                    await self.db.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:
                raise LogUnavailable(f"append {len(records)} records to {topic}: {exc}") from exc
        return positions

    async def read(self, topic: str, partition: int, start: int = 0, limit: int | None = None) -> list[StoredRecord]:
        try:
            async with self.db.execute(
                "SELECT offset, key, value, headers, timestamp_ms FROM records"
                " WHERE topic = ? AND partition = ? AND offset >= ? ORDER BY offset LIMIT ?",
                (topic, partition, start, -1 if limit is None else limit),
            ) as cur:
                rows = await cur.fetchall()
        except sqlite3.Error as exc:
            raise LogUnavailable(f"read {topic}[{partition}] from {start}: {exc}") from exc
        return [StoredRecord(topic, partition, o, k, v, ts, _headers_in(h)) for o, k, v, h, ts in rows]

    async def end_offsets(self, topic: str) -> dict[int, int]:
        n = await self.partitions(topic)
        ends = {p: 0 for p in range(n)}
        async with self.db.execute(
            "SELECT partition, MAX(offset) + 1 FROM records WHERE topic = ? GROUP BY partition", (topic,)
        ) as cur:
            for partition, end in await cur.fetchall():
                ends[partition] = end
        return ends

    async def follow(self, topic: str, start: Mapping[int, int] | None = None) -> AsyncIterator[StoredRecord]:
        n = await self.partitions(topic)
        next_offset = {p: (start or {}).get(p, 0) for p in range(n)}
        idle = self.poll_interval / 4
        while True:
            got = 0
            for partition in range(n):
                batch = await self.read(topic, partition, next_offset[partition], limit=2_000)
                for record in batch:
                    yield record
                if batch:
                    next_offset[partition] = batch[-1].offset + 1
                    got += len(batch)
            if got:
                idle = self.poll_interval / 4
            else:
                await asyncio.sleep(idle)
                idle = min(idle * 2, self.poll_interval)

    # ------------------------------------------------------------ test support

    async def rewrite_for_tests(self, sql: str, params: Sequence[object] = ()) -> None:
        """Tamper with stored records, as an administrator with file access could.
        Exists so verification tests can prove tampering is detected."""
        await self.db.execute(sql, tuple(params))
