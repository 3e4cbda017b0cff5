"""``dledger blast-radius CREDENTIAL_ID [--at TIME]``: what a compromised credential reaches."""

from __future__ import annotations

import argparse

from rich.table import Table

from consumers.access import add_at_option, add_views_option, ask
from consumers.queries import blast_radius

from .common import add_json_option, add_log_option, console, print_json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("blast-radius", help="descendant credentials and identities of a credential, resources they"
                                            " touched, and which are still live")
    p.add_argument("credential_id", metavar="CREDENTIAL_ID")
    add_log_option(p)
    add_views_option(p)
    add_at_option(p)
    add_json_option(p)
    p.set_defaults(func=run)


async def run(args: argparse.Namespace) -> int:
    br = await ask(args, blast_radius, args.credential_id)
    if args.json:
        print_json(br)
        return 0
    if not br["known"]:
        console.print(f"[yellow]credential {args.credential_id} was never issued (as of {br['at']})[/yellow]")
    t = Table(title=f"blast radius of {args.credential_id} at {br['at']}: {len(br['live'])} live")
    for col in ("credential", "gen", "kind", "subject", "issued", "expires", "state"):
        t.add_column(col, overflow="fold")
    for c in br["credentials"]:
        state = "[red]LIVE[/red]" if c["live"] else (f"revoked {c['revoked_reason']}" if c["revoked_at"] else
                                                     ("expired" if c["issued"] else "never issued"))
        t.add_row(c["credential_id"], str(c["generation"]), c["kind"] or "-", c["subject"] or "-",
                  c["issued_at"] or "-", c["expires_at"] or "-", state)
    console.print(t)
    r = Table(title="resources touched")
    for col in ("resource", "owner", "first used", "last used", "uses", "by"):
        r.add_column(col, overflow="fold")
    for x in br["resources"]:
        r.add_row(x["resource_id"], x["owner"] or "-", x["first_used"], x["last_used"], str(x["uses"]),
                  ", ".join(x["credentials"]))
    console.print(r)
    if br["identities"]:
        console.print("identities: " + "; ".join(
            f"{i['identity']}{' (LIVE)' if i['live'] else ''}" for i in br["identities"]))
    return 0
