"""The faust host: the same processors as faust agents on Kafka.

Agents are a few lines of wiring; the work is ``ProcessorHost``'s. On start the host
rebuilds its state from the topics (durable state is the log, as in the embedded
runner), then the agents feed it the records faust delivers and skip those the
rebuild already covered. faust's committed offsets and exactly_once mode are not
relied on for correctness: a crash is repaired by the rebuild, and derived events
carry deterministic ids so whatever was already written is not written again.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
from datetime import timedelta
from urllib.parse import urlparse

import faust

from ledger.log import StoredRecord
from ledger.signing import IssuerKey
from ledger.store import EventStore
from ledger.topics import topics_from_url

from .engine import DEFAULT_GRACE
from .host import ProcessorHost

log = logging.getLogger("dledger.processors.faust")

TICK_SECONDS = 0.1
BATCH = 2_000


def build_app(url: str, key: IssuerKey, *, grace: timedelta = DEFAULT_GRACE, datadir: str | None = None) -> faust.App:
    """A faust app hosting the processors for the ledger at ``url`` (kafka://HOST:PORT?prefix=...)."""
    parsed = urlparse(url)
    topics = topics_from_url(url)
    app = faust.App(
        f"dledger-processors-{topics.prefix}",
        broker=f"kafka://{parsed.netloc}",
        value_serializer="raw",
        key_serializer="raw",
        web_enabled=False,
        topic_allow_declare=False,  # the ledger's topics are created with their configs by KafkaLog
        topic_disable_leader=True,
        consumer_auto_offset_reset="earliest",
        datadir=datadir or tempfile.mkdtemp(prefix="dledger-faust-"),
        producer_acks=-1,
        # a SIGKILLed worker leaves the group only when its session times out: keep that short
        broker_session_timeout=8.0,
        broker_heartbeat_interval=2.0,
        broker_rebalance_timeout=10.0,
    )
    store = EventStore.from_url(url)
    host = ProcessorHost(store, key, grace=grace)
    ready = asyncio.Event()
    lock = asyncio.Lock()
    app.dledger_host = host  # type: ignore[attr-defined]

    @app.task
    async def recover() -> None:
        await store.open()
        async with lock:
            await host.recover()
        ready.set()
        log.info("processors recovered: %d credentials, %d live", len(host.state.credentials), host.state.live_credentials)

    async def consume(stream: faust.Stream) -> None:
        async for events in stream.take_events(BATCH, within=0.05):
            await ready.wait()
            records = [_record(e.message) for e in events]
            async with lock:
                await host.handle_records(records)

    for spec in (topics.registry, topics.lifecycle):
        channel = app.topic(spec.name, key_serializer="raw", value_serializer="raw")
        app.agent(channel, name=f"dledger-{spec.kind.value}")(consume)

    @app.timer(interval=TICK_SECONDS)
    async def tick() -> None:
        if ready.is_set():
            async with lock:
                await host.tick()

    return app


def _record(m: object) -> StoredRecord:
    return StoredRecord(
        m.topic,  # type: ignore[attr-defined]
        m.partition,  # type: ignore[attr-defined]
        m.offset,  # type: ignore[attr-defined]
        m.key or b"",  # type: ignore[attr-defined]
        m.value or b"",  # type: ignore[attr-defined]
        int((m.timestamp or 0) * 1000),  # type: ignore[attr-defined]
        tuple(m.headers or ()),  # type: ignore[attr-defined]
    )


def run_worker(url: str, key: IssuerKey, *, grace: timedelta = DEFAULT_GRACE, loglevel: str = "WARNING") -> None:
    """Run one faust worker until it is stopped (SIGINT/SIGTERM)."""
    app = build_app(url, key, grace=grace)
    worker = faust.Worker(app, loglevel=loglevel, quiet=True)
    worker.execute_from_commandline()
