"""``dledger demo``: the scenario end to end on the embedded log."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from rich.table import Table

from ..demo import DemoWorld
from ..publisher import Publisher
from ..render import summary
from ..store import EventStore
from .common import console


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="run a realistic scenario end to end on the embedded log")
    p.add_argument("--db", help="keep the demo log in this SQLite file (default: a fresh temporary file)")
    p.set_defaults(func=run)


async def run(args: argparse.Namespace) -> int:
    path = Path(args.db) if args.db else Path(tempfile.mkdtemp(prefix="dledger-demo-")) / "ledger.db"
    if path.exists():
        path.unlink()
    world = DemoWorld()
    store = EventStore.from_url(f"sqlite:///{path}")
    async with store:
        cp = Publisher(store, world.control_plane)
        gw = Publisher(store, world.gateway)
        await cp.publish_many(world.registry())
        for scene in (world.vendor_onboarding, world.invoice_triage):
            cp_events, gw_events = scene()
            done = [e for e in cp_events if e.type == "TaskCompleted"]
            await cp.publish_many([e for e in cp_events if e.type != "TaskCompleted"])
            await gw.publish_many(gw_events)
            await cp.publish_many(done)
        await cp.close()
        await gw.close()
        await print_log(store, title=f"Delegation Ledger demo: {path}")
    return 0


async def print_log(store: EventStore, title: str) -> None:
    """Every event of the registry and lifecycle topics, verified, in time order."""
    ring = await store.keyring()
    rows = []
    for spec in (store.topics.registry, store.topics.lifecycle):
        async for item in store.read_events(spec.name):
            if item.event is None:
                rows.append((item, "-", "[red]undecodable[/red]"))
                continue
            try:
                ring.verify(item.event, item.canonical or b"")
                ok = "[green]ok[/green]"
            except Exception as exc:  # shown, not hidden: the table is for a human
                ok = f"[red]{type(exc).__name__}[/red]"
            rows.append((item, item.event.occurred_at, ok))
    rows.sort(key=lambda r: (r[0].record.topic != store.topics.registry.name, str(r[1])))
    table = Table(title=title, show_lines=False)
    for col in ("topic", "part", "offset", "time", "type", "chain", "what", "sig"):
        table.add_column(col, overflow="fold")
    for item, when, ok in rows:
        e = item.event
        table.add_row(
            item.record.topic.rsplit(".", 1)[-1], str(item.record.partition), str(item.record.offset),
            e.occurred_at.strftime("%H:%M:%S") if e else "-", e.type if e else "?", (e.chain_id or "-") if e else "-",
            summary(e) if e else str(item.error), ok,
        )
    console.print(table)
