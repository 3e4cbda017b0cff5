"""``dledger serve [--log URL] [--views DB] [--port N]``: HTTP API, dashboard, views and
processors in one process."""

from __future__ import annotations

import argparse
import os

from consumers.access import DEFAULT_VIEWS
from consumers.serve import serve

from .common import add_log_option, err_console


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="HTTP API, dashboard, processors and views in one process")
    add_log_option(p)
    p.add_argument("--views", default=os.environ.get("DLEDGER_VIEWS", DEFAULT_VIEWS), metavar="DB",
                   help="views database (default %(default)s, or $DLEDGER_VIEWS)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--no-processors", action="store_true", help="do not run the embedded processors here")
    p.add_argument("--processor-key", metavar="PATH", help="the processors' signing key file")
    p.set_defaults(func=run)


async def run(args: argparse.Namespace) -> int:
    err_console.print(f"serving {args.log} on http://{args.host}:{args.port}/ (API docs at /docs); Ctrl-C to stop")
    await serve(args.log, args.views, host=args.host, port=args.port, processors=not args.no_processors,
                processor_key=args.processor_key)
    return 0
