"""``dledger report [--owner ID] --standard owasp-nhi|owasp-asi|nist-ai-rmf --format md|json|html``."""

from __future__ import annotations

import argparse
import sys

from consumers.access import add_views_option, ask
from consumers.reports import FORMATS, STANDARDS, build, render

from .common import add_log_option


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="findings and controls grouped by standard reference, per owner")
    p.add_argument("--standard", required=True, choices=list(STANDARDS))
    p.add_argument("--format", default="md", choices=list(FORMATS))
    p.add_argument("--owner", metavar="ID", help="only findings this party is accountable for")
    p.add_argument("--json", action="store_true", help="same as --format json")
    p.add_argument("--output", "-o", metavar="FILE", help="write the report here instead of stdout")
    add_log_option(p)
    add_views_option(p)
    p.set_defaults(func=run)


async def run(args: argparse.Namespace) -> int:
    report = await ask(args, build, args.standard, at_kw=None, owner=args.owner)
    text = render(report, "json" if args.json else args.format)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as f:
            f.write(text)
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    return 0
