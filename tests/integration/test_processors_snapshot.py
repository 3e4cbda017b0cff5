"""Snapshots of the embedded runner: a restart reads only the log's tail, writes what
is owed and nothing twice, and ignores a snapshot that does not fit the log."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

from ledger.events import CredentialRevoked, Event, GovernanceFinding, RevocationReason
from ledger.publisher import Publisher
from ledger.signing import IssuerKey
from ledger.store import EventStore
from processors.runner import EmbeddedRunner
from processors.scenario import Scenario
from processors.snapshot import SnapshotFile

ISSUER = IssuerKey.from_seed("snap-issuer", b"snapshot issuer")
PROCESSOR = IssuerKey.from_seed("dledger-processor", b"snapshot processor")
GRACE = timedelta(seconds=1)


async def publish(store: EventStore, events: list[Event]) -> None:
    async with Publisher(store, ISSUER) as p:
        await p.publish_many(events)


async def derived(store: EventStore) -> tuple[Counter, list[str]]:
    revoked: Counter = Counter()
    found = []
    async for item in store.read_events(store.topics.lifecycle.name):
        if isinstance(item.event, CredentialRevoked):
            revoked[(item.event.credential_id, item.event.reason)] += 1
        elif isinstance(item.event, GovernanceFinding):
            found.append(item.event.event_id)
    return revoked, found


def runner(store: EventStore, snapshots: SnapshotFile | None) -> EmbeddedRunner:
    return EmbeddedRunner(store, PROCESSOR, grace=GRACE, snapshots=snapshots, snapshot_interval=0)


def snapshot_file(tmp_path: Path, url: str) -> SnapshotFile:
    return SnapshotFile(tmp_path / "processor.snapshots.db", url, key_id=PROCESSOR.key_id, grace_seconds=1)


async def test_snapshot__restart_reads_the_tail_and_writes_what_is_owed_once(sqlite_url: str, tmp_path: Path) -> None:
    s = Scenario(start=datetime.now(timezone.utc) - timedelta(seconds=60))
    snaps = snapshot_file(tmp_path, sqlite_url)
    async with EventStore.from_url(sqlite_url) as store:
        await publish(store, [ISSUER.registration()] + s.registry())
        await publish(store, [s.task("c1", "t1")] + s.grant("c1", "t1", "A", ttl=600)
                      + s.grant("c1", "t1", "B", parent="A", depth=1, at=2, ttl=300)
                      + [s.task("c2", "t2")] + s.grant("c2", "t2", "X", ttl=10)
                      + [s.task("c3", "t3")] + s.grant("c3", "t3", "N", ttl=None))
        first = runner(store, snaps)
        await first.run_until_idle()
        await first.close()
        assert not first.restored_from_snapshot
        before, found_before = await derived(store)
        assert before == Counter({("X", RevocationReason.EXPIRED): 1})

        # after the snapshot: a completion whose cascade is owed, and a credential that expired meanwhile
        await publish(store, [s.complete("c1", "t1", at=20)] + s.grant("c2", "t2", "Y", at=30, ttl=5))
        second = runner(store, snaps)
        await second.run_until_idle()
        await second.close()
        assert second.restored_from_snapshot
        assert second.stats["events"] < 10  # the tail only, not the whole log
        after, found_after = await derived(store)
        assert after == Counter({("X", RevocationReason.EXPIRED): 1, ("A", RevocationReason.TASK_COMPLETED): 1,
                                 ("B", RevocationReason.PARENT_REVOKED): 1, ("Y", RevocationReason.EXPIRED): 1})
        assert len(set(found_after)) == len(found_after) and set(found_before) <= set(found_after)

        # the same outputs as a full rebuild: a clean replay from offset 0 owes nothing
        clean = runner(store, None)
        await clean.run_until_idle()
        await clean.close()
        assert clean.stats["revocations"] == clean.stats["findings"] == 0


async def test_snapshot__outputs_written_after_the_snapshot_are_not_written_again(sqlite_url: str, tmp_path: Path) -> None:
    """The crash window: outputs appended, then killed before the next snapshot."""
    s = Scenario(start=datetime.now(timezone.utc) - timedelta(seconds=60))
    snaps = snapshot_file(tmp_path, sqlite_url)
    async with EventStore.from_url(sqlite_url) as store:
        await publish(store, [ISSUER.registration()] + s.registry() + [s.task("c1", "t1")]
                      + s.grant("c1", "t1", "A", ttl=600) + s.grant("c1", "t1", "B", parent="A", depth=1, at=2, ttl=300))
        first = runner(store, snaps)
        await first.run_until_idle()
        await first.close()
        await publish(store, [s.complete("c1", "t1", at=20)] + [s.task("c2", "t2")] + s.grant("c2", "t2", "X", ttl=5))
        unsnapshotted = runner(store, None)  # writes the revocations, takes no snapshot
        await unsnapshotted.run_until_idle()
        await unsnapshotted.close()
        assert unsnapshotted.stats["revocations"] == 3

        resumed = runner(store, snaps)
        await resumed.run_until_idle()
        await resumed.close()
        assert resumed.restored_from_snapshot
        assert resumed.stats["revocations"] == resumed.stats["findings"] == 0
        revoked, found = await derived(store)
        assert set(revoked.values()) == {1} and len(revoked) == 3
        assert len(set(found)) == len(found)


async def test_snapshot__a_recreated_ledger_is_rebuilt_from_offset_zero(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    snaps = snapshot_file(tmp_path, url)
    s = Scenario(start=datetime.now(timezone.utc) - timedelta(seconds=60))
    events = [ISSUER.registration()] + s.registry() + [s.task("c1", "t1")] + s.grant("c1", "t1", "A", ttl=5)
    async with EventStore.from_url(url) as store:
        await publish(store, events)
        r = runner(store, snaps)
        await r.run_until_idle()
        await r.close()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{tmp_path / 'ledger.db'}{suffix}").unlink(missing_ok=True)
    s2 = Scenario(start=datetime.now(timezone.utc) - timedelta(seconds=60))
    async with EventStore.from_url(url) as store:  # as many records, other contents
        await publish(store, [ISSUER.registration()] + s2.registry() + [s2.task("c9", "t9")]
                      + s2.grant("c9", "t9", "Z", ttl=5) + [s2.task("c8", "t8")])
        r = runner(store, snaps)
        await r.run_until_idle()
        await r.close()
        assert not r.restored_from_snapshot
        revoked, _ = await derived(store)
        assert revoked == Counter({("Z", RevocationReason.EXPIRED): 1})


async def test_snapshot__is_stored_in_chunks_and_a_failed_write_stops_nothing(sqlite_url: str, tmp_path: Path) -> None:
    """A million live credentials pickle past SQLite's 1e9-byte blob limit, so a snapshot
    spans chunks; and a snapshot that cannot be written costs a rebuild, not the runner."""
    s = Scenario(start=datetime.now(timezone.utc) - timedelta(seconds=60))
    small_chunks = SnapshotFile(tmp_path / "processor.snapshots.db", sqlite_url, key_id=PROCESSOR.key_id,
                                grace_seconds=1, chunk_bytes=512)
    async with EventStore.from_url(sqlite_url) as store:
        await publish(store, [ISSUER.registration()] + s.registry() + [s.task("c1", "t1")]
                      + s.grant("c1", "t1", "A", ttl=600))
        first = runner(store, small_chunks)
        await first.run_until_idle()
        await first.close()
        import sqlite3

        with sqlite3.connect(small_chunks.path) as db:
            (chunks,) = db.execute("SELECT COUNT(*) FROM snapshot_chunks").fetchone()
        assert chunks > 1
        second = runner(store, small_chunks)
        await second.start()
        assert second.restored_from_snapshot and set(second.state.credentials) == {"A"}
        await second.close()

        unwritable = SnapshotFile(tmp_path, sqlite_url, key_id=PROCESSOR.key_id, grace_seconds=1)  # a directory
        third = runner(store, None)
        await third.start()
        third.snapshots = unwritable
        await publish(store, [s.complete("c1", "t1", at=20)])
        assert await third.poll()
        assert await third.save_snapshot() is False
        await third.close()
        revoked, _ = await derived(store)
        assert revoked[("A", RevocationReason.TASK_COMPLETED)] == 1
