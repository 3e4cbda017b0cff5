"""``dledger findings [--owner ID] [--kind K] [--severity S]``: governance findings."""

from __future__ import annotations

import argparse

from rich.table import Table

from consumers.access import add_views_option, ask
from consumers.queries import findings

from .common import add_json_option, add_log_option, console, print_json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("findings", help="governance findings with accountable parties and standards references")
    p.add_argument("--owner", metavar="ID", help="only findings this party is accountable for")
    p.add_argument("--kind", metavar="K")
    p.add_argument("--severity", choices=["LOW", "MEDIUM", "HIGH", "CRITICAL"], type=str.upper)
    p.add_argument("--limit", type=int, default=1000)
    add_log_option(p)
    add_views_option(p)
    add_json_option(p)
    p.set_defaults(func=run)


async def run(args: argparse.Namespace) -> int:
    found = await ask(args, findings, at_kw=None, owner=args.owner, kind=args.kind, severity=args.severity,
                      limit=args.limit)
    if args.json:
        print_json(found)
        return 0
    t = Table(title=f"{len(found)} findings")
    for col in ("severity", "kind", "summary", "accountable", "standards", "credential", "evidence"):
        t.add_column(col, overflow="fold")
    for f in found:
        t.add_row(f["severity"], f["kind"], f["summary"],
                  ", ".join(f"{a['role']}={a['party_id']}" for a in f["accountable"]),
                  ", ".join(f"{s['framework']} {s['ref']}" for s in f["standards"]),
                  f["credential_id"] or "-", ", ".join(f["evidence_event_ids"]))
    console.print(t)
    return 0
