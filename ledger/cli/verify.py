"""``dledger verify``, ``prove``, ``prove-consistency``, ``verify-proof`` and
``checkpoints export``: the provable log's commands (see ledger/provable)."""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
from pathlib import Path

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from ..provable.proofs import (
    ProofError,
    export_checkpoints,
    load_export,
    load_issuer_keys,
    load_public_key,
    pinned_keys,
    prove,
    prove_consistency,
    verify_proof,
)
from ..provable.verifier import verify_log
from ..store import EventStore
from .common import add_json_option, add_log_option, console, err_console, print_json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("verify", help="check signatures, checkpoints and completeness of the whole log")
    add_log_option(p)
    add_json_option(p)
    p.add_argument("--against", type=Path, metavar="FILE",
                   help="also check the log against checkpoints exported earlier (detects a rewrite of the topic);"
                        " the export's sealer keys are pinned as with --sealer-key")
    p.add_argument("--sealer-key", action="append", default=[], metavar="PUBLIC_KEY",
                   help="trust only checkpoints signed by this sealer key (hex, base64, PEM or key file;"
                        " repeatable), not whatever the registry topic says")
    p.add_argument("--issuer-keys", type=Path, metavar="FILE",
                   help="check producer signatures against the issuer keys of this export"
                        " (`checkpoints export`), not the registry topic")
    p.add_argument("--allow-renamed-topic", action="store_true",
                   help="accept checkpoints (and an --against export) that name another topic: verifying a copy")
    p.set_defaults(func=run_verify)

    p = sub.add_parser("prove", help="write an inclusion proof of one event against the latest checkpoint")
    p.add_argument("event_id", metavar="EVENT_ID")
    add_log_option(p)
    add_json_option(p)
    p.add_argument("--out", type=Path, help="write the proof to this file (default: standard output)")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--views", metavar="DB",
                       help="find the event's position in this views database (`dledger project`) instead of"
                            " scanning the topic; falls back to the scan if it is not there")
    where.add_argument("--offset", metavar="P:O", type=_position,
                       help="the event is at partition P, offset O (checked; falls back to a scan)")
    p.set_defaults(func=run_prove)

    p = sub.add_parser("prove-consistency",
                       help="write an RFC 9162 consistency proof between two checkpoints of a partition")
    add_log_option(p)
    add_json_option(p)
    p.add_argument("--partition", type=int, required=True, metavar="P")
    p.add_argument("--from", dest="old_size", type=int, required=True, metavar="SIZE",
                   help="tree size of the older checkpoint")
    p.add_argument("--to", dest="new_size", type=int, metavar="SIZE",
                   help="tree size of the newer checkpoint (default: the partition's latest)")
    p.add_argument("--out", type=Path, help="write the proof to this file (default: standard output)")
    p.set_defaults(func=run_prove_consistency)

    p = sub.add_parser("verify-proof", help="check an inclusion or consistency proof offline, with no access to the log")
    p.add_argument("proof", type=Path, metavar="PROOF.json")
    p.add_argument("--key", required=True, action="append", metavar="PUBLIC_KEY",
                   help="the sealer's Ed25519 public key: hex, base64, or a PEM / key file (repeatable: each"
                        " signed head must be signed by one of them)")
    add_json_option(p)
    p.set_defaults(func=run_verify_proof)

    p = sub.add_parser("checkpoints", help="signed tree heads")
    cps = p.add_subparsers(dest="checkpoints_command", required=True, metavar="ACTION")
    e = cps.add_parser("export", help="write every checkpoint (heads and signer keys) to FILE, to keep elsewhere")
    e.add_argument("file", type=Path, metavar="FILE")
    add_log_option(e)
    e.set_defaults(func=run_export)


def _position(text: str) -> tuple[int, int]:
    partition, sep, offset = text.partition(":")
    try:
        if sep:
            return int(partition), int(offset)
    except ValueError:
        pass
    raise argparse.ArgumentTypeError(f"expected PARTITION:OFFSET, got {text!r}")


async def run_verify(args: argparse.Namespace) -> int:
    against = load_export(args.against) if args.against else None
    sealers = pinned_keys(args.sealer_key)
    issuers = load_issuer_keys(args.issuer_keys) if args.issuer_keys else None
    async with EventStore.from_url(args.log) as store:
        total = sum((await store.log.end_offsets(store.topics.lifecycle.name)).values())
        columns = (TextColumn("verifying"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
        with Progress(*columns, console=err_console, transient=True,
                      disable=args.json or total < 20_000 or not err_console.is_terminal) as bar:
            task = bar.add_task("verify", total=total)
            report = await verify_log(store, against=against, sealer_keys=sealers, issuer_keys=issuers,
                                      allow_renamed_topic=args.allow_renamed_topic,
                                      progress=lambda n: bar.advance(task, n))
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


def _views_position(path: str, topic: str, event_id: str) -> tuple[int, int] | None:
    """The event's (partition, offset) in the views' events table (consumers/events_view.py),
    read-only. Only a hint: ``prove`` reads the record there and checks it is the event."""
    try:
        conn = sqlite3.connect(f"file:{Path(path).resolve()}?mode=ro", uri=True)
        try:
            row = conn.execute("SELECT partition, offset FROM events WHERE event_id = ? AND topic = ?",
                               (event_id, topic)).fetchone()
        finally:
            conn.close()
    except sqlite3.Error as exc:
        err_console.print(f"views {path}: {exc}; scanning the log instead")
        return None
    return (int(row[0]), int(row[1])) if row else None


async def run_prove(args: argparse.Namespace) -> int:
    async with EventStore.from_url(args.log) as store:
        hint = args.offset
        if args.views:
            hint = _views_position(args.views, store.topics.lifecycle.name, args.event_id)
        proof = await prove(store, args.event_id, hint)
    return _emit(proof, args.out, f"{args.event_id} at {proof['topic']}[{proof['partition']}]@{proof['offset']},"
                 f" tree size {proof['tree_size']}, {len(proof['audit_path'])} hashes")


async def run_prove_consistency(args: argparse.Namespace) -> int:
    async with EventStore.from_url(args.log) as store:
        proof = await prove_consistency(store, args.partition, args.old_size, args.new_size)
    return _emit(proof, args.out, f"{proof['topic']}[{proof['partition']}] size {proof['old_size']} ->"
                 f" {proof['new_size']}, {len(proof['proof'])} hashes")


def _emit(proof: dict, out: Path | None, summary: str) -> int:
    """Write a proof to ``out`` and say what it proves, or print it as JSON."""
    if out:
        out.write_text(json.dumps(proof, indent=2) + "\n")
        console.print(f"wrote {out}: {summary}")
    else:
        print_json(proof)
    return 0


def run_verify_proof(args: argparse.Namespace) -> int:
    try:
        proof = json.loads(args.proof.read_text())
    except (OSError, ValueError) as exc:
        raise ProofError(f"read {args.proof}: {exc}") from exc
    try:
        result = verify_proof(proof, [load_public_key(k) for k in args.key])
    except ProofError as exc:
        if args.json:
            print_json({"ok": False, "error": str(exc)})
        else:
            print(f"dledger verify-proof: INVALID: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print_json(result)
    elif result["kind"] == "consistency":
        console.print(f"[green]valid[/green]: {result['topic']}[{result['partition']}] tree of {result['old_size']}"
                      f" is a prefix of the tree of {result['new_size']}; both heads signed by"
                      f" {', '.join(result['signer_key_ids'])}")
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
