"""The Publisher on real backends: durable on return, signed, fail closed."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
from pathlib import Path

import pytest

from ledger.demo import DemoWorld
from ledger.errors import InvalidEvent, LogUnavailable
from ledger.events import TaskStarted
from ledger.publisher import Publisher
from ledger.signing import IssuerKey
from ledger.store import EventStore

REPO = Path(__file__).resolve().parents[2]


def _task(i: int) -> TaskStarted:
    return TaskStarted(chain_id=f"chain-{i % 7}", task_id=f"task-{i}", principal="bob", purpose="p", agent_id="a")


async def test_publish__events_read_back_signed_and_ordered(store: EventStore) -> None:
    world = DemoWorld()
    async with Publisher(store, world.control_plane, max_batch=16) as pub:
        await pub.publish_many(world.registry())
        events = [_task(i) for i in range(100)]
        positions = await pub.publish_many(events)
    assert len(set(positions)) == 100
    ring = await store.keyring()
    got = [item async for item in store.read_events(store.topics.lifecycle.name)]
    assert len(got) == 100
    for item in got:
        ring.verify(item.event, item.canonical)
        assert item.event.producer == world.control_plane.producer
    by_chain: dict[str, list[str]] = {}
    for item in sorted(got, key=lambda x: (x.record.partition, x.record.offset)):
        by_chain.setdefault(item.event.chain_id, []).append(item.event.task_id)
    for chain, tasks in by_chain.items():  # per-key order is publish order
        assert tasks == [e.task_id for e in events if e.chain_id == chain]


async def test_publish__concurrent_callers_are_batched(store: EventStore) -> None:
    key = IssuerKey.from_seed("cp", b"batching")
    async with Publisher(store, key) as pub:
        await asyncio.gather(*(pub.publish(_task(i)) for i in range(50)))
    sizes = {item.event.signature.tree_size async for item in store.read_events(store.topics.lifecycle.name)}
    assert max(sizes) > 1  # one signature covered many events


async def test_publish__refuses_a_foreign_producer(store: EventStore) -> None:
    alice, mallory = IssuerKey.from_seed("alice", b"a"), IssuerKey.from_seed("mallory", b"m")
    async with Publisher(store, alice) as pub:
        with pytest.raises(InvalidEvent, match="signs as alice"):
            await pub.publish(_task(1).model_copy(update={"producer": mallory.producer}))
    assert sum((await store.log.end_offsets(store.topics.lifecycle.name)).values()) == 0


async def test_publish__sqlite_fails_closed_when_the_database_is_locked(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'l.db'}?busy_timeout=0.5"
    async with EventStore.from_url(url) as store:
        blocker = sqlite3.connect(tmp_path / "l.db", isolation_level=None)
        blocker.execute("BEGIN EXCLUSIVE")
        try:
            async with Publisher(store, IssuerKey.from_seed("cp", b"x")) as pub:
                with pytest.raises(LogUnavailable, match="append"):
                    await pub.publish(_task(1))
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        assert sum((await store.log.end_offsets(store.topics.lifecycle.name)).values()) == 0


def _kafka_local(home: Path, command: str) -> str:
    env = dict(os.environ, DLEDGER_KAFKA_HOME=str(home))
    out = subprocess.run([str(REPO / "scripts" / "kafka-local"), command], env=env, capture_output=True, text=True,
                         timeout=180)
    if out.returncode != 0 and command == "start":
        raise RuntimeError(f"private broker did not start: {out.stderr[-2000:]}")
    return out.stdout.strip().splitlines()[-1] if out.stdout.strip() else ""


@pytest.mark.kafka
async def test_publish__kafka_fails_closed_when_the_broker_stops_mid_run(kafka_bootstrap: str, tmp_path: Path) -> None:
    """A private broker (the shared one keeps serving other tests) is stopped while an
    issuer publishes: publish raises instead of returning, and every event it did
    confirm is on the log after the broker comes back."""
    home = tmp_path / "broker"
    address = _kafka_local(home, "start")
    url = f"kafka://{address}?append_timeout=5&partitions=2"
    confirmed: list[str] = []
    failure: list[BaseException] = []
    try:
        store = EventStore.from_url(url)
        await store.open()
        pub = Publisher(store, IssuerKey.from_seed("cp", b"fail closed"))

        async def issuer() -> None:
            for i in range(10_000):
                event = _task(i)
                try:
                    await pub.publish(event)
                except LogUnavailable as exc:
                    failure.append(exc)
                    return
                confirmed.append(event.event_id)
                await asyncio.sleep(0.01)

        task = asyncio.create_task(issuer())
        while len(confirmed) < 20:
            await asyncio.sleep(0.05)
        await asyncio.to_thread(_kafka_local, home, "stop")
        await asyncio.wait_for(task, 60)
        assert failure, "publish kept reporting success with the broker down"
        assert isinstance(failure[0], LogUnavailable)
        await pub.close()
        await store.close()

        address = _kafka_local(home, "start")
        async with EventStore.from_url(f"kafka://{address}?partitions=2") as again:
            on_log = {item.event.event_id async for item in again.read_events(again.topics.lifecycle.name)}
        missing = set(confirmed) - on_log
        assert not missing, f"{len(missing)} events were confirmed but are not durable"
    finally:
        _kafka_local(home, "stop")
