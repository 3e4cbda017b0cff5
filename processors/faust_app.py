"""The faust host: the same processors as faust agents on Kafka, scaled out by partition.

Workers of one ledger form one consumer group on the lifecycle topic, so each owns
the lifecycle partitions faust assigns to it; since the topic is keyed by ``chain_id``
a delegation tree, its cascade and its task completion stay with one worker. Every
worker also follows the whole registry topic outside the group (it is small, and
every rule needs it).

Ownership follows the rebalance protocol:
- ``on_partitions_revoked``: under the host's lock (so no write is in flight), the
  revoked partitions are paused: no record is processed and no timer fires for them.
- ``on_partitions_assigned``: partitions no longer assigned are released (their state
  and timers are dropped); kept ones resume; new ones are rebuilt from the log, which
  writes at once what they owe (expiries missed while nobody owned them, oldest first).

Since a partition is paused on one side before it is rebuilt on the other, and the new
owner rebuilds from the log (it reads what the old owner wrote), a handover writes no
revocation twice. A worker killed with SIGKILL pauses nothing: its partitions are
unowned until its session times out (``broker_session_timeout``), then rebuilt by the
survivors. faust's committed offsets and exactly_once mode are not relied on: the
rebuild decides where processing resumes, and derived events carry deterministic ids.
"""

from __future__ import annotations

import asyncio
import logging
import sys
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
    opened = asyncio.Event()
    lock = asyncio.Lock()
    lifecycle = topics.lifecycle.name
    app.dledger_host = host  # type: ignore[attr-defined]

    @app.task
    async def start() -> None:
        await store.open()
        async with lock:
            await host.open()
        opened.set()
        async for record in store.log.follow(topics.registry.name, dict(host.positions.get(topics.registry.name, {}))):
            async with lock:
                await host.handle_records([record])

    @app.on_partitions_revoked.connect
    async def on_revoked(sender: object, revoked: set, **kwargs: object) -> None:
        async with lock:
            host.pause(tp.partition for tp in revoked if tp.topic == lifecycle)

    @app.on_partitions_assigned.connect
    async def on_assigned(sender: object, assigned: set, **kwargs: object) -> None:
        mine = {tp.partition for tp in assigned if tp.topic == lifecycle}
        await opened.wait()
        async with lock:
            host.release(set(host.parts) - mine)
            new = await host.assign(mine)
        _say(f"owns lifecycle partitions {sorted(mine)} (rebuilt {new}); "
             f"{len(host.state.credentials)} credentials, {host.state.live_credentials} live")

    @app.agent(app.topic(lifecycle, key_serializer="raw", value_serializer="raw"), name="dledger-lifecycle")
    async def consume(stream: faust.Stream) -> None:
        async for events in stream.take_events(BATCH, within=0.05):
            await opened.wait()
            records = [_record(e.message) for e in events]
            async with lock:
                await host.handle_records(records)

    @app.timer(interval=TICK_SECONDS)
    async def tick() -> None:
        if opened.is_set():
            async with lock:
                await host.tick()

    return app


def _say(message: str) -> None:
    """One line on stderr per ownership change: operators (and tests) see who owns what."""
    sys.stderr.write(f"dledger process: {message}\n")
    sys.stderr.flush()


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
