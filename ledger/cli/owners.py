"""``dledger owners [--control-plane|--workflow|--resource|--broker ID | --party ID] [--at TIME]``."""

from __future__ import annotations

import argparse
from typing import Any

from rich.table import Table

from consumers.access import add_at_option, add_views_option, ask
from consumers.owners_view import entity_view, parties, party_view

from .common import add_json_option, add_log_option, console, print_json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("owners", help="accountability per owner: issued, live, revoked, uses, findings, failures")
    who = p.add_mutually_exclusive_group()
    who.add_argument("--control-plane", metavar="ID")
    who.add_argument("--workflow", metavar="ID")
    who.add_argument("--resource", metavar="ID")
    who.add_argument("--broker", metavar="ID")
    who.add_argument("--party", metavar="ID", help="a person or team, in every role it holds")
    add_log_option(p)
    add_views_option(p)
    add_at_option(p)
    add_json_option(p)
    p.set_defaults(func=run)


def _row(t: Table, name: str, s: dict[str, Any]) -> None:
    rev = ", ".join(f"{k.lower()} {v}" for k, v in s["revoked_by_reason"].items()) or "-"
    sev = ", ".join(f"{k.lower()} {v}" for k, v in s["open_findings_by_severity"].items()) or "-"
    t.add_row(name, str(s["credentials_issued"]), str(s["live_now"]), rev, str(s["uses_accepted"]),
              str(s["uses_rejected"]), sev, str(s["governance_failures"]))


def _table(title: str) -> Table:
    t = Table(title=title)
    for col in ("scope", "issued", "live", "revoked", "uses ok", "uses rejected", "open findings", "gov. failures"):
        t.add_column(col, overflow="fold")
    return t


async def run(args: argparse.Namespace) -> int:
    for kind in ("control_plane", "workflow", "resource", "broker"):
        entity = getattr(args, kind)
        if entity:
            view = await ask(args, entity_view, kind, entity)
            if args.json:
                print_json(view)
            else:
                t = _table(f"{kind.replace('_', ' ')} {entity}: owner {view['owner'] or 'UNKNOWN'} ({view['at']})")
                _row(t, entity, view)
                console.print(t)
            return 0
    if args.party:
        view = await ask(args, party_view, args.party)
        if args.json:
            print_json(view)
        else:
            t = _table(f"{args.party} ({view['at']})")
            for role, s in view["roles"].items():
                _row(t, f"{role}: {', '.join(s['entities'])}", s)
            console.print(t)
        return 0
    found = await ask(args, parties, at_kw=None)
    if args.json:
        print_json(found)
        return 0
    t = Table(title="accountable parties")
    for col in ("party", "roles", "findings"):
        t.add_column(col)
    for p in found:
        t.add_row(p["party"], ", ".join(p["roles"]), str(p["findings"]))
    console.print(t)
    return 0
