"""``dledger bench publish``: the Publisher against raw writes of equal-size records.

- SQLite: Publisher (validated, Avro-encoded, batch-signed, committed with
  synchronous=FULL) vs stdlib sqlite3 inserting rows of the same size into the same
  table shape, in transactions of the same size, with the same pragmas.
- Kafka: Publisher vs a raw aiokafka producer (acks=all, idempotent, same linger and
  batch size) sending byte strings of the same size to the same broker.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import tempfile
import time
import uuid
from pathlib import Path

from aiokafka import AIOKafkaProducer

from ..events import CredentialUsed, UseOutcome
from ..log.kafka import KafkaLog
from ..log.sqlite import SqliteLog
from ..publisher import Publisher
from ..signing import IssuerKey
from ..store import EventStore
from ..tokens import fingerprint
from ..topics import Topics
from .report import BenchReport, Comparison


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--events", type=int, default=100_000, help="events per run (default %(default)s)")
    p.add_argument("--batch", type=int, default=1000, help="publisher batch size (default %(default)s)")


def make_events(n: int) -> list[CredentialUsed]:
    """Representative lifecycle traffic: uses of credentials across 1 000 chains."""
    fp = fingerprint("bench-token", b"bench")
    return [
        CredentialUsed(
            chain_id=f"chain-{i % 1000}", task_id=f"task-{i % 1000}", workflow_id="wf-bench",
            credential_id=f"cred-{i % 5000}", token_fingerprint=fp, resource_id="res-vendor-db",
            action="read", outcome=UseOutcome.ACCEPTED, system="postgres-vendors", trust_domain="acme.corp",
        )
        for i in range(n)
    ]


async def _publish(store: EventStore, events: list[CredentialUsed], batch: int) -> tuple[float, int]:
    key = IssuerKey.from_seed("bench-issuer", b"bench")
    async with Publisher(store, key, max_batch=batch) as pub:
        await pub.publish(events[0])  # warm up: connections, metadata
        t0 = time.perf_counter()
        await pub.publish_many(events[1:])
        elapsed = time.perf_counter() - t0
    ends = await store.log.end_offsets(store.topics.lifecycle.name)
    last = await store.log.read(store.topics.lifecycle.name, max(ends, key=ends.get), max(ends.values()) - 1)
    return (len(events) - 1) / elapsed, len(last[0].value)


def _raw_sqlite(path: Path, n: int, size: int, batch: int, partitions: int) -> float:
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute(
        "CREATE TABLE records (topic TEXT, partition INTEGER, offset INTEGER, key BLOB, value BLOB,"
        " headers TEXT, timestamp_ms INTEGER, PRIMARY KEY (topic, partition, offset)) WITHOUT ROWID"
    )
    value = os.urandom(size)
    next_offset = [0] * partitions
    t0 = time.perf_counter()
    for start in range(0, n, batch):
        rows = []
        for i in range(start, min(n, start + batch)):
            p = i % partitions
            rows.append(("bench", p, next_offset[p], b"chain-%d" % (i % 1000), value, None, 0))
            next_offset[p] += 1
        db.execute("BEGIN IMMEDIATE")
        db.executemany("INSERT INTO records VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
        db.execute("COMMIT")
    elapsed = time.perf_counter() - t0
    db.close()
    return n / elapsed


async def _raw_kafka(bootstrap: str, topic: str, n: int, size: int, partitions: int) -> float:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=2, max_batch_size=512 * 1024
    )
    await producer.start()
    try:
        value = os.urandom(size)
        await (await producer.send(topic, value=value, key=b"warm", partition=0))
        t0 = time.perf_counter()
        futures = [
            await producer.send(topic, value=value, key=b"chain-%d" % (i % 1000), partition=i % partitions)
            for i in range(n)
        ]
        await asyncio.gather(*futures)
        return n / (time.perf_counter() - t0)
    finally:
        await producer.stop()


async def run(args: argparse.Namespace) -> BenchReport:
    report = BenchReport("publish")
    events = make_events(args.events)
    topics = Topics(prefix="bench" + uuid.uuid4().hex[:8])
    n_parts = topics.lifecycle_partitions
    with tempfile.TemporaryDirectory(prefix="dledger-bench-") as tmp:
        async with EventStore(SqliteLog(Path(tmp) / "ledger.db"), topics) as store:
            ours, size = await _publish(store, events, args.batch)
        raw = await asyncio.to_thread(_raw_sqlite, Path(tmp) / "raw.db", len(events) - 1, size, args.batch, n_parts)
    report.add(Comparison("sqlite: Publisher vs raw sqlite3 inserts", ours, raw,
                          note=f"{size} B records, batches of {args.batch}, synchronous=FULL"))
    report.figures["record bytes"] = size
    if args.kafka:
        async with EventStore(KafkaLog(args.kafka), topics) as store:
            ours, size = await _publish(store, events, args.batch)
            raw = await _raw_kafka(args.kafka, topics.lifecycle.name, len(events) - 1, size, n_parts)
        report.add(Comparison("kafka: Publisher vs raw aiokafka producer", ours, raw,
                              note=f"{size} B records, acks=all, idempotent"))
    return report
