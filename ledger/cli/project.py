"""``dledger project --log URL --views DB [--once]``: keep the views up to date."""

from __future__ import annotations

import argparse
import asyncio

from consumers.access import add_views_option
from consumers.projection import digest
from consumers.projector import Projector, ViewsDB

from ..store import EventStore
from .common import add_json_option, add_log_option, console, err_console, print_json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("project", help="keep the accountability views up to date from the log")
    add_log_option(p)
    add_views_option(p)
    add_json_option(p)
    p.add_argument("--once", action="store_true", help="catch up with the log, then exit")
    p.set_defaults(func=run)


async def run(args: argparse.Namespace) -> int:
    async with EventStore.from_url(args.log) as store, ViewsDB(args.views) as views:
        projector = Projector(store, views)
        if args.once:
            totals = await projector.catch_up()
            view_digest = await views.run(digest)
            if args.json:
                print_json(vars(totals) | {"digest": view_digest})
            else:
                err_console.print(f"projected {totals.applied} events into {args.views}"
                                  f" ({totals.duplicates} duplicates, {totals.undecodable} undecodable skipped)")
                console.print(f"digest {view_digest}")
            return 0
        err_console.print(f"projecting {args.log} into {args.views}; Ctrl-C to stop")
        try:
            await projector.run()
        except asyncio.CancelledError:
            pass
    return 0
