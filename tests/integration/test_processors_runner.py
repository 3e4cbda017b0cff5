"""The embedded runner on both logs: revocations, findings, dead letters, restarts."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

from ledger.events import CredentialKind, CredentialRevoked, Event, GovernanceFinding, RevocationReason
from ledger.log import OutgoingRecord
from ledger.publisher import Publisher
from ledger.signing import IssuerKey
from ledger.store import EventStore
from processors.runner import EmbeddedRunner
from processors.scenario import Scenario

ISSUER = IssuerKey.from_seed("it-issuer", b"integration issuer")
PROCESSOR = IssuerKey.from_seed("dledger-processor", b"integration processor")
STRANGER = IssuerKey.from_seed("stranger", b"never registered")


async def publish(store: EventStore, events: list[Event], key: IssuerKey = ISSUER) -> None:
    async with Publisher(store, key) as p:
        await p.publish_many(events)


async def derived(store: EventStore) -> tuple[list[CredentialRevoked], list[GovernanceFinding]]:
    revoked, found = [], []
    async for item in store.read_events(store.topics.lifecycle.name):
        if isinstance(item.event, CredentialRevoked):
            revoked.append(item.event)
        elif isinstance(item.event, GovernanceFinding):
            found.append(item.event)
    return revoked, found


def runner(store: EventStore) -> EmbeddedRunner:
    return EmbeddedRunner(store, PROCESSOR, grace=timedelta(seconds=1))


async def test_runner__revokes_on_completion_and_expiry_and_reports_findings(store: EventStore) -> None:
    s = Scenario(start=datetime.now(timezone.utc) - timedelta(seconds=30))
    await publish(store, [ISSUER.registration()] + s.registry())
    events = [s.task("c1", "t1")] + s.grant("c1", "t1", "A", ttl=600) \
        + s.grant("c1", "t1", "B", parent="A", depth=1, at=2, ttl=300) + [s.complete("c1", "t1", at=5)] \
        + [s.task("c2", "t2")] + s.grant("c2", "t2", "X", ttl=10) \
        + [s.task("c3", "t3", workflow="wf-nomint")] \
        + s.grant("c3", "t3", "M", workflow="wf-nomint", kind=CredentialKind.MINT, ttl=600)
    await publish(store, events)

    r = runner(store)
    await r.run_until_idle()
    revoked, found = await derived(store)
    assert sorted((e.credential_id, e.reason) for e in revoked) == [
        ("A", RevocationReason.TASK_COMPLETED), ("B", RevocationReason.PARENT_REVOKED), ("X", RevocationReason.EXPIRED)]
    assert [f.kind for f in found] == ["mint_not_allowed"]
    assert {p.role for p in found[0].accountable} >= {"control_plane_owner", "workflow_owner", "resource_owner"}

    # the derived events are signed by the processor's registered key
    ring = await store.keyring()
    async for item in store.read_events(store.topics.lifecycle.name):
        ring.verify(item.event, item.canonical)

    # a restart re-reads the log and writes nothing twice
    again = runner(store)
    await again.run_until_idle()
    assert await derived(store) == (revoked, found)
    assert again.stats["revocations"] == again.stats["findings"] == 0


async def test_runner__bad_records_go_to_the_dead_letter_topic_and_work_goes_on(store: EventStore) -> None:
    s = Scenario(start=datetime.now(timezone.utc))
    await publish(store, [ISSUER.registration()] + s.registry())
    await store.log.append(store.topics.lifecycle.name, [OutgoingRecord(b"c9", b"\xc3\x01not avro at all"),
                                                                OutgoingRecord(b"c9", b"plain garbage")])
    await publish(store, [s.task("c9", "t9")], key=STRANGER)
    r = runner(store)
    await r.run_until_idle()
    await publish(store, [s.task("c1", "t1")] + s.grant("c1", "t1", "A", ttl=600) + [s.complete("c1", "t1", at=3)])
    await r.run_until_idle()

    dead = [rec async for rec in store.log.read_all(store.topics.deadletter.name)]
    reasons = sorted(dict(rec.headers)["dledger-error"].decode() for rec in dead)
    assert reasons == ["MalformedRecord", "UnknownIssuerKey", "UnknownSchema"]
    revoked, found = await derived(store)
    assert [f.kind for f in found] == ["unverifiable_record"] * 3
    assert [e.credential_id for e in revoked] == ["A"]

    await runner(store).run_until_idle()  # a restart dead-letters nothing twice
    assert len([rec async for rec in store.log.read_all(store.topics.deadletter.name)]) == 3
    assert len((await derived(store))[1]) == 3


async def test_runner__expiry_is_revoked_within_a_second_while_running(store: EventStore) -> None:
    s = Scenario(start=datetime.now(timezone.utc))
    await publish(store, [ISSUER.registration()] + s.registry())
    r = runner(store)
    await r.start()
    task = asyncio.create_task(r.run())
    try:
        s.start = datetime.now(timezone.utc)
        await publish(store, [s.task("c1", "t1")] + s.grant("c1", "t1", "A", at=0, ttl=1))
        expires = s.t(1)
        found = []
        for _ in range(100):
            found = [i async for i in store.read_events(store.topics.lifecycle.name) if isinstance(i.event, CredentialRevoked)]
            if found:
                break
            await asyncio.sleep(0.05)
        (item,) = found
        assert item.event.reason is RevocationReason.EXPIRED and item.event.occurred_at == expires
        appended = datetime.fromtimestamp(item.record.timestamp_ms / 1000, timezone.utc)
        assert appended - expires < timedelta(seconds=2)  # one sample on a busy machine; the bench measures p99
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await r.close()
