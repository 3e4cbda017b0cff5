"""Two faust workers share one ledger by lifecycle partition, on the real broker.

Narrated: worker 1 starts alone and owns every partition; credentials start expiring
while worker 2 joins (a live handover: worker 1 pauses and releases half, worker 2
rebuilds it from the log). Once the split is stable, a round of expiries is written
partition by partition by its owner alone, and both workers do work. Then worker 1
is killed with SIGKILL while its credentials are about to expire; once its session
times out worker 2 rebuilds its partitions and writes the missed expiries. In the end
every credential is revoked by exactly one record, and in every partition the writer
(the derived event's producer key: each worker has its own) changes at most once,
from worker 1 to worker 2. Bounded: under a minute."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
from collections import Counter, defaultdict
from datetime import datetime, timezone
from pathlib import Path

import pytest

from ledger.events import CredentialRevoked, Event, GovernanceFinding
from ledger.partitioning import partition_for
from ledger.publisher import Publisher
from ledger.signing import IssuerKey
from ledger.store import EventStore
from processors.host import load_or_create_key
from processors.scenario import Scenario

from ..conftest import unique_prefix

ISSUER = IssuerKey.from_seed("scaleout-issuer", b"scale-out issuer")
PARTITIONS = 4
CHAINS_PER_PARTITION = 3
OWNS = re.compile(r"owns lifecycle partitions \[([\d, ]*)\]")

pytestmark = [pytest.mark.kafka, pytest.mark.slow]


def start_worker(url: str, key_path: Path, log_path: Path) -> subprocess.Popen:
    with open(log_path, "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "ledger", "process", "--log", url, "--key", str(key_path), "--grace", "1"],
            stdout=out, stderr=out, start_new_session=True,
        )


def owned(log_path: Path) -> set[int] | None:
    """The partitions a worker last said it owns."""
    found = OWNS.findall(log_path.read_text()) if log_path.exists() else []
    return {int(p) for p in found[-1].split(",") if p.strip()} if found else None


async def until(condition, seconds: float, what: str) -> None:  # noqa: ANN001
    deadline = asyncio.get_running_loop().time() + seconds
    while not await condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out after {seconds}s waiting for {what}")
        await asyncio.sleep(0.25)


def chains(round_: str) -> dict[int, list[str]]:
    """Chain ids spread evenly over the partitions."""
    out: dict[int, list[str]] = defaultdict(list)
    i = 0
    while min((len(out[p]) for p in range(PARTITIONS)), default=0) < CHAINS_PER_PARTITION:
        chain = f"{round_}-c{i}"
        p = partition_for(chain.encode(), PARTITIONS)
        if len(out[p]) < CHAINS_PER_PARTITION:
            out[p].append(chain)
        i += 1
    return out


def expiring_round(round_: str, ttl: float) -> tuple[list[Event], set[str]]:
    """Per chain a root that expires after ``ttl`` seconds and a child that never does (cascade)."""
    s = Scenario(start=datetime.now(timezone.utc))
    events: list[Event] = []
    creds: set[str] = set()
    for chain in (c for cs in chains(round_).values() for c in cs):
        task, root, kid = f"{chain}-t", f"{chain}-root", f"{chain}-kid"
        events += [s.task(chain, task, at=0)] + s.grant(chain, task, root, at=0.1, ttl=ttl)
        events += s.grant(chain, task, kid, at=0.2, ttl=None, parent=root, depth=1)
        creds |= {root, kid}
    return events, creds


async def revocations(store: EventStore) -> list[tuple[int, int, CredentialRevoked]]:
    out = []
    async for item in store.read_events(store.topics.lifecycle.name):
        if isinstance(item.event, CredentialRevoked):
            out.append((item.record.partition, item.record.offset, item.event))
    return out


async def test_scaleout__two_workers_share_partitions_and_survive_a_sigkill(kafka_bootstrap: str, tmp_path: Path) -> None:
    url = f"kafka://{kafka_bootstrap}?prefix={unique_prefix()}&partitions={PARTITIONS}"
    keys = {n: tmp_path / f"worker{n}.key" for n in (1, 2)}
    logs = {n: tmp_path / f"worker{n}.log" for n in (1, 2)}
    writer = {load_or_create_key(keys[n]).key_id: n for n in (1, 2)}
    procs: dict[int, subprocess.Popen] = {}
    everyone: set[str] = set()
    async with EventStore.from_url(url) as store, Publisher(store, ISSUER) as pub:
        await pub.publish_many([ISSUER.registration()] + Scenario().registry())

        async def revoked_all(creds: set[str]):  # noqa: ANN202
            async def check() -> bool:
                return {e.credential_id for _, _, e in await revocations(store)} >= creds
            return check

        try:
            # worker 1 alone owns every partition
            procs[1] = start_worker(url, keys[1], logs[1])

            async def w1_owns_all() -> bool:
                return owned(logs[1]) == set(range(PARTITIONS))
            await until(w1_owns_all, 30, "worker 1 to own every partition")

            # round 1 expires while worker 2 joins: partitions change hands with timers due
            events, round1 = expiring_round("r1", ttl=2)
            await pub.publish_many(events)
            procs[2] = start_worker(url, keys[2], logs[2])

            async def split() -> bool:
                a, b = owned(logs[1]), owned(logs[2])
                return bool(a) and bool(b) and not (a & b) and (a | b) == set(range(PARTITIONS))
            await until(split, 30, "the two workers to split the partitions")
            await until(await revoked_all(round1), 20, "round 1 revoked")
            everyone |= round1

            # round 2, split stable: each partition's expiries are written by its owner alone
            w1_parts = owned(logs[1])
            events, round2 = expiring_round("r2", ttl=1)
            await pub.publish_many(events)
            await until(await revoked_all(round2), 20, "round 2 revoked")
            everyone |= round2
            by_partition: dict[int, set[int]] = defaultdict(set)
            for p, _, e in await revocations(store):
                if e.credential_id in round2:
                    by_partition[p].add(writer[e.producer.key_id])
            assert dict(by_partition) == {p: {1 if p in w1_parts else 2} for p in range(PARTITIONS)}

            # round 3: worker 1 is SIGKILLed; worker 2 takes over once its session times out
            os.kill(procs[1].pid, signal.SIGKILL)
            procs[1].wait(timeout=10)
            events, round3 = expiring_round("r3", ttl=1)
            await pub.publish_many(events)
            await until(await revoked_all(round3), 30, "round 3 revoked by the survivor")
            everyone |= round3
            assert owned(logs[2]) == set(range(PARTITIONS))
            await asyncio.sleep(1.0)  # a late duplicate would show up here
        finally:
            for proc in procs.values():
                if proc.poll() is None:
                    os.kill(proc.pid, signal.SIGKILL)
                    proc.wait(timeout=10)

        found = await revocations(store)
        counts = Counter(e.credential_id for _, _, e in found)
        assert set(counts) == everyone, logs[2].read_text()[-2000:]
        assert [c for c, n in counts.items() if n > 1] == []
        assert {writer[e.producer.key_id] for _, _, e in found if e.credential_id in round3} == {2}
        # per partition, in offset order, the writer changes at most once: from worker 1 to worker 2
        for p in range(PARTITIONS):
            seq = [writer[e.producer.key_id] for q, _, e in sorted(found, key=lambda t: (t[0], t[1])) if q == p]
            runs = [w for i, w in enumerate(seq) if i == 0 or seq[i - 1] != w]
            assert runs in ([1, 2], [2], [1]), (p, seq)
        findings = [item.event.event_id async for item in store.read_events(store.topics.lifecycle.name)
                    if isinstance(item.event, GovernanceFinding)]
        assert len(findings) == len(set(findings))
