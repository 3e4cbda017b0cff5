"""``dledger replay --from X --to Y [--task|--agent|--credential ID] --into DB``."""

from __future__ import annotations

import argparse

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from consumers.replay import Bound, Selection, count_records, replay

from ..store import EventStore
from .common import add_json_option, add_log_option, console, err_console, print_json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("replay", help="rebuild the views from a range of the log into an isolated database")
    p.add_argument("--from", dest="start", metavar="OFFSET|TIME", help="first lifecycle offset or event time")
    p.add_argument("--to", dest="end", metavar="OFFSET|TIME", help="last lifecycle offset or event time (inclusive)")
    who = p.add_mutually_exclusive_group()
    who.add_argument("--task", metavar="ID")
    who.add_argument("--agent", metavar="ID")
    who.add_argument("--credential", metavar="ID", help="the delegation tree this credential belongs to")
    p.add_argument("--into", required=True, metavar="DB", help="the views database to build (replaced if present)")
    add_log_option(p)
    add_json_option(p)
    p.set_defaults(func=run)


async def run(args: argparse.Namespace) -> int:
    sel = Selection(Bound.parse(args.start), Bound.parse(args.end), args.task, args.agent, args.credential)
    async with EventStore.from_url(args.log) as store:
        total = await count_records(store)
        with Progress(TextColumn("replay"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=err_console, transient=args.json) as bar:
            task = bar.add_task("replay", total=total)
            result = await replay(store, args.into, sel, progress=lambda n: bar.advance(task, n))
    if args.json:
        print_json(vars(result) | {"events_per_second": round(result.events_per_second, 1)})
    else:
        console.print(f"replayed {result.records_read} records ({result.events_applied} applied) into {result.into}"
                      f" in {result.seconds:.2f}s ({result.events_per_second:,.0f} events/s)")
        console.print(f"digest {result.digest}")
    return 0
