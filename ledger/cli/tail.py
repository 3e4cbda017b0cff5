"""``dledger tail --log URL``: print events as they arrive."""

from __future__ import annotations

import argparse

from ..render import summary
from ..store import EventStore
from .common import add_json_option, add_log_option, console, print_json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("tail", help="print events as they arrive")
    add_log_option(p)
    add_json_option(p)
    p.add_argument("--topic", choices=["lifecycle", "registry", "deadletter", "checkpoints"], default="lifecycle")
    p.add_argument("--from-start", action="store_true", help="print the whole topic first, then follow")
    p.add_argument("--limit", type=int, help="stop after this many events")
    p.set_defaults(func=run)


async def run(args: argparse.Namespace) -> int:
    async with EventStore.from_url(args.log) as store:
        spec = getattr(store.topics, args.topic)
        start = None if args.from_start else await store.log.end_offsets(spec.name)
        seen = 0
        async for item in store.follow_events(spec.name, start):
            r = item.record
            if args.json:
                body = item.event.model_dump(mode="json") if item.event else {"error": str(item.error)}
                print_json({"topic": r.topic, "partition": r.partition, "offset": r.offset, "event": body})
            elif item.event is None:
                console.print(f"{r.partition}@{r.offset} [red]undecodable:[/red] {item.error}")
            else:
                e = item.event
                console.print(f"{r.partition}@{r.offset} {e.occurred_at:%Y-%m-%d %H:%M:%S} [bold]{e.type}[/bold] {summary(e)}")
            seen += 1
            if args.limit and seen >= args.limit:
                break
    return 0
