"""SIGKILL the processor host at random points while events flow, restart it, and
prove that every credential that should be revoked is revoked exactly once and that
no finding is lost. Once for the embedded runner (SQLite) without and with snapshots,
once for the faust worker (Kafka). Bounded: a small workload, three kills."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from ledger.publisher import Publisher
from ledger.signing import IssuerKey
from ledger.store import EventStore
from processors.runner import EmbeddedRunner
from processors.scenario import Scenario
from tests.integration.test_processors_runner import derived

ISSUER = IssuerKey.from_seed("crash-issuer", b"crash issuer")
ROUNDS, CHAINS = 6, 8
KILLS = 3


HOST_OPTIONS = {
    "embedded": ["--no-snapshot"],
    "embedded-snapshot": ["--snapshot-interval", "0.2"],  # kills land between and during snapshots
    "faust": [],
}


def start_host(url: str, key_path: Path, log_path: Path, options: list[str] = []) -> subprocess.Popen:  # noqa: B006
    with open(log_path, "ab") as out:  # the child keeps its own descriptor
        return subprocess.Popen(
            [sys.executable, "-m", "ledger", "process", "--log", url, "--key", str(key_path), "--grace", "1", *options],
            stdout=out, stderr=out, start_new_session=True,
        )


def kill(proc: subprocess.Popen) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)


@pytest.mark.slow
@pytest.mark.parametrize("host", ["embedded", "embedded-snapshot", pytest.param("faust", marks=pytest.mark.kafka)])
async def test_crash__sigkill_neither_loses_nor_duplicates(host: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    url = request.getfixturevalue("kafka_url" if host == "faust" else "sqlite_url")
    rng = random.Random(7)
    key_path, log_path = tmp_path / "processor.key", tmp_path / "host.log"
    s = Scenario(start=datetime.now(timezone.utc))
    async with EventStore.from_url(url) as store:
        async with Publisher(store, ISSUER) as pub:
            await pub.publish_many([ISSUER.registration()] + s.registry())
            proc = start_host(url, key_path, log_path, HOST_OPTIONS[host])
            kills_at = sorted(rng.sample(range(1, ROUNDS), KILLS))
            expected: set[str] = set()
            no_expiry: set[str] = set()
            try:
                for round_ in range(ROUNDS):
                    now = (datetime.now(timezone.utc) - s.start).total_seconds()
                    events = []
                    for i in range(CHAINS):
                        chain, task = f"c{round_}-{i}", f"t{round_}-{i}"
                        root, kid = f"{chain}-root", f"{chain}-kid"
                        events += [s.task(chain, task, at=now)]
                        events += s.grant(chain, task, root, at=now + 0.5, ttl=rng.choice([1, 2, 3, 600]))
                        events += s.grant(chain, task, kid, at=now + 0.6, ttl=1 if i % 2 else None, parent=root, depth=1)
                        expected |= {root, kid}
                        if i % 2 == 0:
                            no_expiry.add(kid)
                    # complete the tasks of half the chains: their 600 s roots are revoked by completion
                    events += [s.complete(f"c{round_}-{i}", f"t{round_}-{i}", at=now + 1) for i in range(CHAINS)]
                    await pub.publish_many(events)
                    await asyncio.sleep(rng.uniform(0.3, 1.2))
                    if round_ in kills_at:
                        kill(proc)
                        proc = start_host(url, key_path, log_path, HOST_OPTIONS[host])
                deadline = asyncio.get_running_loop().time() + 90
                while asyncio.get_running_loop().time() < deadline:
                    revoked, found = await derived(store)
                    if {e.credential_id for e in revoked} >= expected and \
                            {f.credential_id for f in found if f.kind == "no_expiry"} >= no_expiry:
                        break
                    await asyncio.sleep(0.5)
            finally:
                kill(proc)

        revoked, found = await derived(store)
        counts = Counter(e.credential_id for e in revoked)
        assert set(counts) == expected, log_path.read_text()[-3000:]
        assert [c for c, n in counts.items() if n > 1] == []
        assert len({e.event_id for e in found}) == len(found)
        assert Counter((f.kind, f.credential_id) for f in found if f.kind == "no_expiry") == Counter(
            ("no_expiry", c) for c in no_expiry)

        if host == "embedded-snapshot":
            assert "resumed from" in log_path.read_text()  # the restarts did use a snapshot

        # a clean replay of the whole log owes nothing: nothing was lost
        runner = EmbeddedRunner(store, IssuerKey.load(key_path), grace=timedelta(seconds=1))
        await runner.run_until_idle()
        await runner.close()
        assert runner.stats["revocations"] == runner.stats["findings"] == 0
