"""``dledger keys new``: create an issuer signing key and register it on the ledger."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..publisher import Publisher
from ..signing import IssuerKey
from ..store import EventStore
from .common import add_log_option, console

DEFAULT_KEY_DIR = Path(".dledger/keys")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("keys", help="issuer signing keys")
    keys = p.add_subparsers(dest="keys_command", required=True, metavar="ACTION")
    new = keys.add_parser("new", help="create an Ed25519 key for an issuer and publish its IssuerKeyRegistered event")
    new.add_argument("--issuer", required=True, help="issuer id (a control plane, broker, STS or gateway)")
    new.add_argument("--out", type=Path, help=f"key file (default {DEFAULT_KEY_DIR}/ISSUER.key)")
    new.add_argument("--control-plane", help="control plane the issuer belongs to")
    new.add_argument("--no-register", action="store_true", help="only write the key file")
    add_log_option(new)
    new.set_defaults(func=new_key)


async def new_key(args: argparse.Namespace) -> int:
    path = args.out or DEFAULT_KEY_DIR / f"{args.issuer}.key"
    if path.exists():
        console.print(f"[red]{path} exists; refusing to overwrite a signing key[/red]")
        return 1
    key = IssuerKey.generate(args.issuer)
    key.save(path)
    console.print(f"wrote {path} (key id {key.key_id})")
    if not args.no_register:
        async with EventStore.from_url(args.log) as store, Publisher(store, key) as pub:
            pos = await pub.publish(key.registration(control_plane_id=args.control_plane))
        console.print(f"registered on {args.log} at {pos.topic}[{pos.partition}]@{pos.offset}")
    return 0
