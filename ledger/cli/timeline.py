"""``dledger timeline --task|--agent|--credential ID``: ordered events with their offsets."""

from __future__ import annotations

import argparse

from rich.table import Table

from consumers.access import add_views_option, ask
from consumers.queries import timeline

from .common import add_json_option, add_log_option, console, print_json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("timeline", help="the events of a task, an agent or a credential, in order, with offsets")
    who = p.add_mutually_exclusive_group(required=True)
    who.add_argument("--task", metavar="ID")
    who.add_argument("--agent", metavar="ID")
    who.add_argument("--credential", metavar="ID")
    add_log_option(p)
    add_views_option(p)
    add_json_option(p)
    p.set_defaults(func=run)


async def run(args: argparse.Namespace) -> int:
    events = await ask(args, timeline, at_kw=None, task=args.task, agent=args.agent, credential=args.credential)
    if args.json:
        print_json(events)
        return 0
    table = Table(title=f"timeline of {args.task or args.agent or args.credential}")
    for col in ("time", "topic", "part", "offset", "type", "what"):
        table.add_column(col, overflow="fold")
    for e in events:
        table.add_row(e["occurred_at"], e["topic"].rsplit(".", 1)[-1], str(e["partition"]), str(e["offset"]),
                      e["type"], e["summary"])
    console.print(table)
    return 0
