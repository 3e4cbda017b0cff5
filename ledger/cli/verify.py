"""``dledger verify``, ``prove``, ``verify-proof`` and ``checkpoints export``: the
provable log's commands (see ledger/provable)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from ..provable.proofs import ProofError, export_checkpoints, load_export, load_public_key, prove, verify_proof
from ..provable.verifier import verify_log
from ..store import EventStore
from .common import add_json_option, add_log_option, console, err_console, print_json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("verify", help="check signatures, checkpoints and completeness of the whole log")
    add_log_option(p)
    add_json_option(p)
    p.add_argument("--against", type=Path, metavar="FILE",
                   help="also check the log against checkpoints exported earlier (detects a rewrite of the topic)")
    p.set_defaults(func=run_verify)

    p = sub.add_parser("prove", help="write an inclusion proof of one event against the latest checkpoint")
    p.add_argument("event_id", metavar="EVENT_ID")
    add_log_option(p)
    add_json_option(p)
    p.add_argument("--out", type=Path, help="write the proof to this file (default: standard output)")
    p.set_defaults(func=run_prove)

    p = sub.add_parser("verify-proof", help="check an inclusion proof offline, with no access to the log")
    p.add_argument("proof", type=Path, metavar="PROOF.json")
    p.add_argument("--key", required=True, metavar="PUBLIC_KEY",
                   help="the sealer's Ed25519 public key: hex, base64, or a PEM / key file")
    add_json_option(p)
    p.set_defaults(func=run_verify_proof)

    p = sub.add_parser("checkpoints", help="signed tree heads")
    cps = p.add_subparsers(dest="checkpoints_command", required=True, metavar="ACTION")
    e = cps.add_parser("export", help="write every checkpoint (heads and signer keys) to FILE, to keep elsewhere")
    e.add_argument("file", type=Path, metavar="FILE")
    add_log_option(e)
    e.set_defaults(func=run_export)


async def run_verify(args: argparse.Namespace) -> int:
    against = load_export(args.against) if args.against else ()
    async with EventStore.from_url(args.log) as store:
        total = sum((await store.log.end_offsets(store.topics.lifecycle.name)).values())
        columns = (TextColumn("verifying"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
        with Progress(*columns, console=err_console, transient=True,
                      disable=args.json or total < 20_000 or not err_console.is_terminal) as bar:
            task = bar.add_task("verify", total=total)
            report = await verify_log(store, against=against, progress=lambda n: bar.advance(task, n))
    if args.json:
        print_json(report.as_dict())
    else:
        sealed = sum(s.sealed for s in report.partitions.values())
        checkpoints = sum(s.checkpoints for s in report.partitions.values())
        console.print(f"{report.topic}: {report.records} records, {sealed} sealed by {checkpoints} checkpoints,"
                      f" {report.records - sealed if report.records > sealed else 0} not sealed yet")
        for p in report.problems:
            console.print(f"[red]{p.kind.value}[/red] {p.topic}[{p.partition}]@{p.offset}"
                          + (f" (+{p.count - 1})" if p.count > 1 else "") + f": {p.detail}", highlight=False)
        console.print("[green]ok[/green]" if report.ok else f"[red]{len(report.problems)} problem(s)[/red]")
    return 0 if report.ok else 1


async def run_prove(args: argparse.Namespace) -> int:
    async with EventStore.from_url(args.log) as store:
        proof = await prove(store, args.event_id)
    if args.out:
        args.out.write_text(json.dumps(proof, indent=2) + "\n")
        console.print(f"wrote {args.out}: {args.event_id} at {proof['topic']}[{proof['partition']}]@{proof['offset']},"
                      f" tree size {proof['tree_size']}, {len(proof['audit_path'])} hashes")
    else:
        print_json(proof)
    return 0


def run_verify_proof(args: argparse.Namespace) -> int:
    try:
        proof = json.loads(args.proof.read_text())
    except (OSError, ValueError) as exc:
        raise ProofError(f"read {args.proof}: {exc}") from exc
    try:
        result = verify_proof(proof, load_public_key(args.key))
    except ProofError as exc:
        if args.json:
            print_json({"ok": False, "error": str(exc)})
        else:
            print(f"dledger verify-proof: INVALID: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print_json(result)
    else:
        console.print(f"[green]valid[/green]: event {result['event_id']} ({result['type']}) is at"
                      f" {result['topic']}[{result['partition']}]@{result['offset']} in the tree of"
                      f" {result['tree_size']} signed by {result['signer_key_id']} at {result['sealed_at']}")
    return 0


async def run_export(args: argparse.Namespace) -> int:
    async with EventStore.from_url(args.log) as store:
        data = await export_checkpoints(store)
    args.file.write_text(json.dumps(data, indent=2) + "\n")
    console.print(f"wrote {len(data['checkpoints'])} checkpoint(s) to {args.file}")
    return 0
