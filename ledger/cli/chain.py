"""``dledger chain ID [--at TIME]``: the chain of delegation back to the principal."""

from __future__ import annotations

import argparse
from typing import Any

from rich.tree import Tree

from consumers.access import add_at_option, add_views_option, ask
from consumers.chain import Chain, chains

from .common import add_json_option, add_log_option, console, print_json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("chain", help="chain of delegation of a credential, identity or use, back to the principal")
    p.add_argument("id", metavar="ID", help="credential id, identity (subject) or use event id")
    add_log_option(p)
    add_views_option(p)
    add_at_option(p)
    add_json_option(p)
    p.set_defaults(func=run)


def _gap(text: str) -> str:
    return f"[bold red]MISSING[/bold red] {text}"


def tree(c: Chain) -> Tree:
    title = f"[bold]{c.query}[/bold] ({c.resolved_as})" + (f" at {c.at}" if c.at else "")
    title += "  [green]complete[/green]" if c.complete else f"  [red]{len(c.gaps)} missing link(s)[/red]"
    root = Tree(title)
    if c.task:
        t = c.task
        node = root.add(f"principal [bold]{t['principal']}[/bold] · task {t['task_id']} · agent {t['agent_id']}"
                        f" · purpose: {t['purpose']}")
    else:
        node = root.add(_gap("principal (no TaskStarted)"))
    for link in c.links:
        node = node.add(_link_label(link))
        _link_details(node, link)
    if c.use:
        u = c.use
        node.add(f"use {u['event_id']}: {u['action']} at {u['resource_id']} via {u['system']}: {u['outcome']}")
    return root


def _link_label(link: Any) -> str:
    i = link.issued
    if i is None:
        return f"{_gap('issuance')} of credential [bold]{link.credential_id}[/bold]"
    if link.live:
        state = "[green]live[/green]"
    elif link.revocation:
        state = f"[yellow]revoked ({link.revocation['reason']})[/yellow]"
    else:
        state = "[dim]expired or not yet valid[/dim]"
    return (f"credential [bold]{link.credential_id}[/bold] {i['kind']} to {i['subject']} depth {i['depth']}"
            f" · scopes {','.join(i['scopes']) or '-'} · issued {i['issued_at']} · {state}")


def _link_details(node: Tree, link: Any) -> None:
    if link.issued is None:
        return
    r = link.request
    node.add(f"request {r['request_id']} by {r['agent_id']} ({r['workload_identity']}) {r['kind']}"
             if r else _gap(f"request {link.issued['request_id'] or ''}".strip()))
    for d in link.decisions:
        node.add(f"policy {d['decision']} by {d['policy_id']} v{d['policy_version']} digest {d['policy_digest'][:23]}")
    for a in link.approvals:
        node.add(f"approval {a['approval_kind']} by {a['approver_type'].lower()} {a['approver']}")
    for g in link.gaps:
        if g.kind not in ("missing_request", "missing_issuance"):
            node.add(_gap(f"{g.kind.removeprefix('missing_').replace('_', ' ')}: {g.detail}"))
    for u in link.uses:
        node.add(f"use {u['action']} at {u['resource_id']} ({u['system']}) {u['outcome']} {u['used_at']}")
    if link.revocation:
        v = link.revocation
        node.add(f"revoked {v['reason']} at {v['revoked_at']}" + (f" by {v['revoked_by']}" if v["revoked_by"] else ""))


async def run(args: argparse.Namespace) -> int:
    found = await ask(args, chains, args.id)
    if args.json:
        print_json([c.as_dict() for c in found])
    else:
        for c in found:
            console.print(tree(c))
    return 0 if all(c.complete for c in found) else 1
