"""``dledger demo``: the scenario end to end on the embedded log."""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

from rich.table import Table

from ..demo import DemoWorld
from ..events import CredentialRevoked, Event, GovernanceFinding
from ..publisher import Publisher
from ..render import summary
from ..signing import IssuerKey
from ..store import EventStore
from .common import console


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="run a realistic scenario end to end on the embedded log")
    p.add_argument("--db", help="keep the demo log in this SQLite file (default: a fresh temporary file)")
    p.set_defaults(func=run)


async def run(args: argparse.Namespace) -> int:
    from processors.runner import EmbeddedRunner

    path = Path(args.db) if args.db else Path(tempfile.mkdtemp(prefix="dledger-demo-")) / "ledger.db"
    if path.exists():
        path.unlink()
    # the stories happened a few minutes ago; the short-lived credential is issued now
    world = DemoWorld(start=datetime.now(timezone.utc).replace(microsecond=0) - timedelta(minutes=3))
    store = EventStore.from_url(f"sqlite:///{path}")
    async with store:
        cp = Publisher(store, world.control_plane)
        gw = Publisher(store, world.gateway)
        await cp.publish_many(world.registry())
        for scene in (world.vendor_onboarding, world.invoice_triage, world.risky_shortcuts):
            cp_events, gw_events = scene()
            late = [e for e in cp_events if e.type in ("TaskCompleted", "CredentialRevoked")]
            await cp.publish_many([e for e in cp_events if e not in late])
            await gw.publish_many(gw_events)
            await cp.publish_many(late)
        runner = EmbeddedRunner(store, PROCESSOR_KEY, grace=timedelta(seconds=1))
        await runner.run_until_idle()
        # an expiry, live: a credential that lives two seconds
        short = world.short_lived(datetime.now(timezone.utc))
        await cp.publish_many(short)
        expires = short[-1].expires_at  # type: ignore[attr-defined]
        with console.status(f"waiting for cred-quote-1 to expire at {expires:%H:%M:%S}..."):
            stop = asyncio.Event()
            follow = asyncio.create_task(runner.run(stop))
            for _ in range(100):
                if runner.state.credentials.get("cred-quote-1") and runner.state.credentials["cred-quote-1"].revoked:
                    break
                await asyncio.sleep(0.05)
            stop.set()
            await follow
            await runner.run_until_idle()
        await runner.close()
        await cp.close()
        await gw.close()
        await print_log(store, title=f"Delegation Ledger demo: {path}")
        await print_derived(store)
    return 0


PROCESSOR_KEY = IssuerKey.from_seed("dledger-processor", b"demo processors")


async def print_derived(store: EventStore) -> None:
    """What the processors wrote: revocations with their cause, findings with their owners."""
    revocations = Table(title="Revocations (written by the processors)")
    for col in ("credential", "reason", "at", "cause", "chain"):
        revocations.add_column(col, overflow="fold")
    findings = Table(title="Governance findings", show_lines=True)
    for col in ("severity", "kind", "what", "accountable", "standards"):
        findings.add_column(col, overflow="fold")
    by_id: dict[str, Event] = {}
    derived: list[Event] = []
    async for item in store.read_events(store.topics.lifecycle.name):
        if item.event is not None:
            by_id[item.event.event_id] = item.event
            if isinstance(item.event, (CredentialRevoked, GovernanceFinding)):
                derived.append(item.event)
    for e in derived:
        if isinstance(e, CredentialRevoked):
            cause = by_id.get(e.causation_id or "")
            what = f"{cause.type} {getattr(cause, 'credential_id', '') or getattr(cause, 'task_id', '')}" if cause else "-"
            by = f" by {e.revoked_by}" if e.revoked_by and e.revoked_by != "dledger-processor" else ""
            revocations.add_row(e.credential_id, e.reason.value.lower() + by, e.occurred_at.strftime("%H:%M:%S"),
                                what, e.chain_id or "-")
        elif isinstance(e, GovernanceFinding):
            colour = {"CRITICAL": "bold red", "HIGH": "red", "MEDIUM": "yellow"}.get(e.severity.value, "")
            findings.add_row(f"[{colour}]{e.severity.value}[/{colour}]" if colour else e.severity.value, e.kind,
                             e.summary, "\n".join(f"{p.role}: {p.party_id}" for p in e.accountable),
                             ", ".join(s.ref for s in e.standards))
    console.print(revocations)
    console.print(findings)


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
