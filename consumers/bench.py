"""``dledger bench views``: what the views cost, against raw baselines.

- projection events/s against a decode-only consumer reading the same log (ratio);
- replay events/s (a full rebuild into an isolated database, digest included);
- append-to-visible latency in an owner view at a steady offered load: from the
  moment a ``CredentialIssued`` is handed to the publisher to the commit of the views
  transaction that makes it count in its workflow owner's figures, p50 / p99;
- chain query latency p50 / p99 for depth 1..16 on views holding ``--events`` events
  (1 000 000 by default), built with the projection core from generated chains.

SQLite always; Kafka as well when ``--kafka HOST:PORT`` is given.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from ledger.bench.report import BenchReport, Comparison
from ledger.publisher import Publisher
from ledger.signing import IssuerKey
from ledger.store import EventStore

from .chain import chain_of
from .owners_view import entity_view
from .projection import Item, open_views, project_in_transaction
from .projector import Projector, ViewsDB, project_once
from .replay import replay
from .workload import generate_chain, registry, workload


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--events", type=int, default=1_000_000, help="events in the views the chain queries run on")
    p.add_argument("--log-events", type=int, default=60_000, help="events in the log for projection and replay")
    p.add_argument("--rate", type=float, default=200.0, help="offered load for the latency run, events/s")
    p.add_argument("--seconds", type=float, default=8.0, help="length of the latency run")
    p.add_argument("--queries", type=int, default=200, help="chain queries per depth")


def _pct(samples: list[float], q: float) -> float:
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


async def _fill_log(store: EventStore, key: IssuerKey, n_events: int) -> int:
    start = datetime.now(timezone.utc) - timedelta(days=1)
    total = 0
    async with Publisher(store, key) as pub:
        await pub.publish_many([key.registration(system="bench", trust_domain="bench")] + registry(start))
        batch: list[Any] = []
        for g in workload(10**9, seed=11, gap_rate=0.1, max_depth=4, start=start):
            batch.extend(g.events)
            if len(batch) >= 5000:
                await pub.publish_many(batch)
                total += len(batch)
                batch = []
            if total + len(batch) >= n_events:
                break
        await pub.publish_many(batch)
        total += len(batch)
    return total


async def _decode_only(store: EventStore) -> tuple[int, float]:
    started = time.perf_counter()
    n = 0
    for topic in (store.topics.registry.name, store.topics.lifecycle.name):
        ends = await store.log.end_offsets(topic)
        for partition, end in ends.items():
            offset = 0
            while offset < end:
                records = await store.log.read(topic, partition, offset, limit=min(5000, end - offset))
                if not records:
                    break
                for r in records:
                    store.decode(r)
                n += len(records)
                offset = records[-1].offset + 1
    return n, time.perf_counter() - started


async def _latency(store: EventStore, key: IssuerKey, views_path: Path, rate: float, seconds: float) -> dict[str, float]:
    """Publish CredentialIssued at a steady rate while the projector follows; time each
    from hand-over to the publisher until the views commit that holds it."""
    sent: dict[str, float] = {}
    visible: dict[str, float] = {}

    def on_commit(items: Any, _: Any) -> None:
        now = time.perf_counter()
        for item in items:
            if item.event is not None and item.event.event_id in sent:
                visible.setdefault(item.event.event_id, now)

    async with ViewsDB(views_path) as views:
        projector = Projector(store, views, on_commit=on_commit)
        await projector.catch_up()
        following = asyncio.create_task(projector.run())
        start = datetime.now(timezone.utc)
        n = int(rate * seconds)
        pending: list[asyncio.Task[Any]] = []
        async with Publisher(store, key) as pub:
            t0 = time.perf_counter()
            for i in range(n):
                g = generate_chain(i, 1, start=start, prefix=f"lat{uuid.uuid4().hex[:6]}-")
                issued = g.events[4]
                delay = t0 + i / rate - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                sent[issued.event_id] = time.perf_counter()
                pending.append(asyncio.create_task(pub.publish(issued)))
            await asyncio.gather(*pending)
            offered_seconds = time.perf_counter() - t0
        deadline = time.perf_counter() + 30
        while len(visible) < len(sent) and time.perf_counter() < deadline:
            await asyncio.sleep(0.01)
        following.cancel()
        await asyncio.gather(following, return_exceptions=True)
        owner = await views.run(entity_view, "workflow", "wf-gen")
    lat = [(visible[k] - sent[k]) * 1000 for k in sent if k in visible]
    return {"offered_events_per_s": rate, "achieved_events_per_s": n / offered_seconds, "published": n,
            "visible": len(lat), "owner_view_credentials": owner["credentials_issued"],
            "p50_ms": _pct(lat, 0.5), "p99_ms": _pct(lat, 0.99)}


async def _backend(report: BenchReport, name: str, url: str, args: argparse.Namespace, work: Path) -> None:
    key = IssuerKey.generate(f"bench-{name}")
    async with EventStore.from_url(url) as store:
        n = await _fill_log(store, key, args.log_events)
        read, decode_s = await _decode_only(store)
        started = time.perf_counter()
        projected = await project_once(store, work / f"{name}-views.db")
        project_s = time.perf_counter() - started
        rebuilt = await replay(store, work / f"{name}-replay.db")
        report.add(Comparison(f"{name}: projection vs decode-only consumer", read / project_s, read / decode_s,
                              note=f"{read} records, {projected.applied} applied"))
        report.add(Comparison(f"{name}: replay vs decode-only consumer", rebuilt.events_per_second, read / decode_s,
                              note=f"digest {rebuilt.digest[:12]}"))
        lat = await _latency(store, key, work / f"{name}-views.db", args.rate, args.seconds)
        report.figures[f"{name}: log events published"] = n
        for k, v in lat.items():
            report.figures[f"{name}: append-to-visible (owner view) {k}"] = v


def _chain_queries(report: BenchReport, args: argparse.Namespace, work: Path) -> None:
    """Views with ``--events`` events: chains of depth 1..16, about 10 % with gaps."""
    conn = open_views(str(work / "chains.db"))
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    rng = random.Random(5)
    leaves: dict[int, list[str]] = {d: [] for d in range(1, 17)}
    offset = 0
    built = time.perf_counter()
    batch: list[Item] = [Item("registry", 0, i, e) for i, e in enumerate(registry(start))]
    total = 0
    for g in workload(10**9, seed=3, gap_rate=0.1, max_depth=16, start=start):
        depth = int(g.leaf.rsplit("-", 1)[1]) + 1
        if len(leaves[depth]) < 5 * args.queries:
            leaves[depth].append(g.leaf)
        for e in g.events:
            batch.append(Item("lifecycle", 0, offset, e))
            offset += 1
        if len(batch) >= 20_000:
            project_in_transaction(conn, batch)
            total += len(batch)
            batch = []
        if total + len(batch) >= args.events:
            break
    project_in_transaction(conn, batch)
    total += len(batch)
    report.figures["chain query: events in views"] = total
    report.figures["chain query: views build events/s (projection core, no log)"] = total / (time.perf_counter() - built)
    for depth, ids in leaves.items():
        if not ids:
            continue
        samples = []
        for cid in rng.sample(ids, min(args.queries, len(ids))):
            t = time.perf_counter()
            chain_of(conn, cid)
            samples.append((time.perf_counter() - t) * 1000)
        report.figures[f"chain query depth {depth:2d} p50/p99 ms"] = (
            f"{statistics.median(samples):.3f} / {_pct(samples, 0.99):.3f}")
    conn.close()


async def run(args: argparse.Namespace) -> BenchReport:
    report = BenchReport("views")
    with tempfile.TemporaryDirectory(prefix="dledger-bench-views-") as tmp:
        work = Path(tmp)
        await _backend(report, "sqlite", f"sqlite:///{work / 'ledger.db'}", args, work)
        if args.kafka:
            url = f"kafka://{args.kafka}?prefix=bench{uuid.uuid4().hex[:8]}&partitions=6"
            await _backend(report, "kafka", url, args, work)
        await asyncio.to_thread(_chain_queries, report, args, work)
    return report
