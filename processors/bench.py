"""``dledger bench revoke``: TTL revocation lag and processor throughput, on both logs.

For each log and each N:
1. N live credentials are published (bare ``CredentialIssued`` events with an hour to
   live, one chain each), then a fresh embedded runner rebuilds its state from the
   log: that catch-up is the processor's events/s (decode + verify + rules + state),
   compared with a baseline consumer that only reads and decodes the same records.
2. With those N credentials live, the runner follows the log while E more credentials
   (E = min(N, 10 000)) are published, expiring uniformly over a few seconds. The lag
   of each expiry is the append time of its ``CredentialRevoked`` minus its
   ``expires_at``: p50, p99 and max.

3. Restart cost: the state after step 1 is written as a snapshot (``processors.snapshot``)
   and a fresh runner starts from it; its start time is compared with the full
   catch-up of step 1 (both end with the same state: the log has no tail to read).

On Kafka, step 2 is also measured with the real faust worker host, on a ledger of its
own: N live credentials are published, ``dledger process --log kafka://...`` is started
as a subprocess with its own key (as an operator would), and once it says it owns every
lifecycle partition and has read past the backlog (one already-expired probe credential
per partition is revoked), the same E credentials are published expiring over the same
window. Lag is read from the log (append time of each ``CredentialRevoked`` minus
``expires_at``), and every expiring credential must be revoked exactly once, by the
worker's key. Rows and figures say "faust worker"; the others are the embedded runner.

The events carry no request, decision or approval, so the grace period is set beyond
the run: the finding rules still evaluate every event, but the gaps they note are not
reported (and written) during the measurement.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

from ledger.bench.report import BenchReport, Comparison
from ledger.events import CredentialIssued, CredentialRevoked, Event, RevocationReason
from ledger.partitioning import partition_for
from ledger.publisher import Publisher
from ledger.signing import IssuerKey
from ledger.store import EventStore

from .host import load_or_create_key
from .runner import EmbeddedRunner
from .scenario import Scenario, fp
from .snapshot import SnapshotFile

ISSUER = IssuerKey.from_seed("bench-issuer", b"bench issuer")
PROCESSOR = IssuerKey.from_seed("dledger-processor", b"bench processor")
DEFAULT_SIZES = "10000,100000"
EXPIRING_MAX = 10_000
WINDOW_SECONDS = 5.0
LEAD_SECONDS = 2.0
WORKER_START_SECONDS = 120.0  # faust start, group join and the rebuild of N credentials
OWNS = re.compile(r"owns lifecycle partitions \[([\d, ]*)\]")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sizes", default=DEFAULT_SIZES, metavar="N,N",
                        help="numbers of live credentials to hold (default %(default)s; 1000000 if memory allows)")


def _credentials(s: Scenario, prefix: str, n: int, expiry: callable) -> list[Event]:  # type: ignore[valid-type]
    base = {"task_id": "bench-task", "workflow_id": "wf-main", "subject": "spiffe://td-a/bench",
            "scopes": ["read"], "resources": ["res-a"], "actions": ["read"], "trust_domain": "td-a"}
    now = datetime.now(timezone.utc)
    token = fp("bench")
    return [
        CredentialIssued(chain_id=f"{prefix}-{i}", credential_id=f"{prefix}-{i}", token_fingerprint=token,
                         occurred_at=now, expires_at=expiry(i), **base)
        for i in range(n)
    ]


async def _publish(store: EventStore, events: list[Event]) -> None:
    async with Publisher(store, ISSUER, max_batch=5_000) as pub:
        for i in range(0, len(events), 20_000):
            await pub.publish_many(events[i : i + 20_000])


async def _decode_only(store: EventStore) -> tuple[int, float]:
    started = time.perf_counter()
    n = 0
    decode = store.codec.decode_with_canonical
    async for record in store.log.read_all(store.topics.lifecycle.name):
        decode(record.value)
        n += 1
    return n, time.perf_counter() - started


async def _one(url: str, backend: str, n: int, report: BenchReport) -> None:
    s = Scenario()
    async with EventStore.from_url(url) as store:
        await _publish(store, [ISSUER.registration()] + s.registry())
        hour = datetime.now(timezone.utc) + timedelta(hours=1)
        await _publish(store, _credentials(s, "live", n, lambda i: hour))

        records, decode_s = await _decode_only(store)
        runner = EmbeddedRunner(store, PROCESSOR, grace=timedelta(days=1))
        started = time.perf_counter()
        await runner.start()
        catch_up_s = time.perf_counter() - started
        report.add(Comparison(f"{backend}: processor catch-up vs decode-only, N={n:,}", runner.stats["events"] / catch_up_s,
                              records / decode_s, note=f"{records:,} records"))
        await _restart_cost(store, runner, url, n, backend, catch_up_s, report)

        e = min(n, EXPIRING_MAX)
        follow = asyncio.create_task(runner.run())
        try:
            # the lead lets the runner read every issuance before the first one expires
            t0 = datetime.now(timezone.utc) + timedelta(seconds=LEAD_SECONDS + e / 4_000)
            expiring = _credentials(s, "exp", e, lambda i: t0 + timedelta(seconds=WINDOW_SECONDS * i / e))
            expires = {c.credential_id: c.expires_at for c in expiring}  # type: ignore[attr-defined]
            await _publish(store, expiring)
            deadline = time.monotonic() + LEAD_SECONDS + e / 4_000 + WINDOW_SECONDS + 60
            while time.monotonic() < deadline and runner.state.credentials.get(f"exp-{e - 1}") is None or \
                    not runner.state.credentials[f"exp-{e - 1}"].revoked:
                await asyncio.sleep(0.1)
            await asyncio.sleep(0.5)
        finally:
            follow.cancel()
            await asyncio.gather(follow, return_exceptions=True)
            await runner.close()
        lags = []
        async for item in store.read_events(store.topics.lifecycle.name):
            ev = item.event
            if isinstance(ev, CredentialRevoked) and ev.reason is RevocationReason.EXPIRED and ev.credential_id in expires:
                lags.append(item.record.timestamp_ms / 1000 - expires[ev.credential_id].timestamp())
        prefix = f"{backend} N={n:,}"
        _lag_figures(report, prefix, lags)
        report.figures[f"{prefix}: expiries revoked / expected"] = f"{len(lags):,} / {e:,}"
        report.figures[f"{prefix}: live credentials held"] = f"{n:,} + {e:,} expiring over {WINDOW_SECONDS:g}s"


def _lag_figures(report: BenchReport, prefix: str, lags: list[float]) -> None:
    lags.sort()
    p99 = lags[min(len(lags) - 1, int(len(lags) * 0.99))] if lags else float("nan")
    report.figures[f"{prefix}: TTL lag p50 (s)"] = statistics.median(lags) if lags else float("nan")
    report.figures[f"{prefix}: TTL lag p99 (s)"] = p99
    report.figures[f"{prefix}: TTL lag max (s)"] = lags[-1] if lags else float("nan")


async def _restart_cost(store: EventStore, runner: EmbeddedRunner, url: str, n: int, backend: str, catch_up_s: float,
                        report: BenchReport) -> None:
    snaps = SnapshotFile(Path(tempfile.mkdtemp(prefix="dledger-bench-snap-")) / "processor.snapshots.db", url,
                         key_id=PROCESSOR.key_id, grace_seconds=timedelta(days=1).total_seconds())
    runner.snapshots = snaps
    prefix = f"{backend} N={n:,}"
    report.figures[f"{prefix}: restart, full catch-up from offset 0 (s)"] = round(catch_up_s, 2)
    started = time.perf_counter()
    if not await runner.save_snapshot():  # the runner logs why
        runner.snapshots = None
        report.figures[f"{prefix}: restart from snapshot (s)"] = "not measured: snapshot write failed"
        return
    write_s = time.perf_counter() - started
    restarted = EmbeddedRunner(store, PROCESSOR, grace=timedelta(days=1), snapshots=snaps)
    started = time.perf_counter()
    await restarted.start()
    restart_s = time.perf_counter() - started
    await restarted.close()
    runner.snapshots = None
    assert restarted.restored_from_snapshot and len(restarted.state.credentials) == len(runner.state.credentials)
    report.figures[f"{prefix}: restart from snapshot (s)"] = round(restart_s, 2)
    report.figures[f"{prefix}: snapshot write (s), size (MB)"] = \
        f"{write_s:.2f}, {snaps.path.stat().st_size / 1e6:.1f}"


async def run(args: argparse.Namespace) -> BenchReport:
    report = BenchReport("revoke")
    sizes = [int(x) for x in str(args.sizes).split(",") if x.strip()]
    targets = [("sqlite", lambda: f"sqlite:///{Path(tempfile.mkdtemp(prefix='dledger-bench-')) / 'ledger.db'}")]
    if args.kafka:
        targets.append(("kafka", lambda: f"kafka://{args.kafka}?prefix=bench{uuid.uuid4().hex[:8]}&partitions=6"))
    for backend, make_url in targets:
        for n in sizes:
            await _one(make_url(), backend, n, report)
            if backend == "kafka":
                await _faust_worker(make_url(), n, report)
    return report


# ---------------------------------------------------------------- the faust worker host


def _start_worker(url: str, key_path: Path, log_path: Path) -> subprocess.Popen:
    """``dledger process --log kafka://...``: the faust worker, as an operator starts it."""
    with open(log_path, "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "ledger", "process", "--log", url, "--key", str(key_path),
             "--grace", str(int(timedelta(days=1).total_seconds()))],
            stdout=out, stderr=out, start_new_session=True,
        )


def _owned(log_path: Path) -> set[int] | None:
    found = OWNS.findall(log_path.read_text(errors="replace")) if log_path.exists() else []
    return {int(p) for p in found[-1].split(",") if p.strip()} if found else None


def _stop_worker(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    os.kill(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


async def _expired_revocations(store: EventStore, ids: set[str]) -> list[tuple[str, float, str]]:
    """(credential id, record append time, writer key id) of every EXPIRED revocation of ``ids``."""
    out = []
    async for item in store.read_events(store.topics.lifecycle.name):
        ev = item.event
        if isinstance(ev, CredentialRevoked) and ev.reason is RevocationReason.EXPIRED and ev.credential_id in ids:
            out.append((ev.credential_id, item.record.timestamp_ms / 1000, ev.producer.key_id if ev.producer else ""))
    return out


def _probe_ids(partitions: int) -> list[str]:
    """One credential (and chain) id per lifecycle partition."""
    out: dict[int, str] = {}
    i = 0
    while len(out) < partitions:
        cid = f"probe-{i}"
        out.setdefault(partition_for(cid.encode(), partitions), cid)
        i += 1
    return list(out.values())


async def _faust_worker(url: str, n: int, report: BenchReport) -> None:
    """TTL lag with N live credentials, hosted by a ``dledger process`` faust worker."""
    s = Scenario()
    work = Path(tempfile.mkdtemp(prefix="dledger-bench-faust-"))
    key_path, log_path = work / "worker.key", work / "worker.log"
    worker_key = load_or_create_key(key_path).key_id
    prefix = f"kafka N={n:,}, faust worker"
    e = min(n, EXPIRING_MAX)
    async with EventStore.from_url(url) as store:
        await _publish(store, [ISSUER.registration()] + s.registry())
        hour = datetime.now(timezone.utc) + timedelta(hours=1)
        await _publish(store, _credentials(s, "live", n, lambda i: hour))
        partitions = store.topics.lifecycle_partitions
        proc = _start_worker(url, key_path, log_path)
        try:
            started = time.monotonic()
            while _owned(log_path) != set(range(partitions)):
                if proc.poll() is not None or time.monotonic() - started > WORKER_START_SECONDS:
                    raise RuntimeError(f"the faust worker did not come to own every partition: "
                                       f"{log_path.read_text(errors='replace')[-2000:]}")
                await asyncio.sleep(0.1)
            owns_s = time.monotonic() - started
            # already expired, one per partition: once all are revoked the worker's consumer
            # has read past the N live credentials in every partition
            probes = _probe_ids(partitions)
            past = datetime.now(timezone.utc) - timedelta(seconds=1)
            await _publish(store, [
                c.model_copy(update={"chain_id": pid, "credential_id": pid})
                for pid, c in zip(probes, _credentials(s, "probe", partitions, lambda i: past))
            ])
            while len({c for c, _, _ in await _expired_revocations(store, set(probes))}) < partitions:
                if proc.poll() is not None or time.monotonic() - started > WORKER_START_SECONDS:
                    raise RuntimeError(f"the faust worker did not catch up: {log_path.read_text(errors='replace')[-2000:]}")
                await asyncio.sleep(0.5)
            ready_s = time.monotonic() - started

            t0 = datetime.now(timezone.utc) + timedelta(seconds=LEAD_SECONDS + e / 4_000)
            expiring = _credentials(s, "exp", e, lambda i: t0 + timedelta(seconds=WINDOW_SECONDS * i / e))
            expires = {c.credential_id: c.expires_at.timestamp() for c in expiring}  # type: ignore[attr-defined]
            await _publish(store, expiring)
            last = max(expires.values())
            await asyncio.sleep(max(0.0, last - time.time()) + 1.0)
            deadline = time.monotonic() + 60
            found = await _expired_revocations(store, set(expires))
            while len({c for c, _, _ in found}) < e and time.monotonic() < deadline and proc.poll() is None:
                await asyncio.sleep(1.0)
                found = await _expired_revocations(store, set(expires))
            await asyncio.sleep(1.0)  # a late duplicate would show up here
            found = await _expired_revocations(store, set(expires))
        finally:
            _stop_worker(proc)
    counts = Counter(c for c, _, _ in found)
    first: dict[str, float] = {}
    for c, at, _ in found:
        first[c] = min(at, first.get(c, at))
    _lag_figures(report, prefix, [at - expires[c] for c, at in first.items()])
    report.figures[f"{prefix}: expiries revoked exactly once / expected"] = \
        f"{sum(1 for v in counts.values() if v == 1):,} / {e:,} (missing {e - len(counts):,}, " \
        f"duplicated {sum(1 for v in counts.values() if v > 1):,}, " \
        f"written by another key {sum(1 for _, _, k in found if k != worker_key):,})"
    report.figures[f"{prefix}: live credentials held"] = f"{n:,} + {e:,} expiring over {WINDOW_SECONDS:g}s"
    report.figures[f"{prefix}: start to owning all {partitions} partitions, to caught up (s)"] = \
        f"{owns_s:.1f}, {ready_s:.1f}"
