"""``dledger seal``: append signed Merkle checkpoints of the lifecycle topic."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
from pathlib import Path

from ..provable.heads import SEALER_ISSUER
from ..provable.host import seal
from ..provable.sealer import DEFAULT_EVERY, DEFAULT_INTERVAL
from ..signing import IssuerKey
from ..store import EventStore
from .common import add_log_option, console, err_console

DEFAULT_SEALER_KEY = Path(".dledger/keys/sealer.key")


def add_sealer_key_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--key",
        type=Path,
        default=Path(os.environ.get("DLEDGER_SEALER_KEY", DEFAULT_SEALER_KEY)),
        help="sealer signing key (default %(default)s or $DLEDGER_SEALER_KEY; created on first use)",
    )


def sealer_key(path: Path) -> IssuerKey:
    if path.exists():
        return IssuerKey.load(path)
    key = IssuerKey.generate(SEALER_ISSUER)
    key.save(path)
    err_console.print(f"created sealer key {path} (key id {key.key_id}, public {key.public_bytes.hex()})")
    return key


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("seal", help="append signed Merkle checkpoints (tree heads) of the lifecycle log")
    add_log_option(p)
    add_sealer_key_option(p)
    p.add_argument("--every", type=int, default=DEFAULT_EVERY, metavar="N",
                   help="checkpoint a partition every N records (default %(default)s)")
    p.add_argument("--interval", type=float, default=DEFAULT_INTERVAL, metavar="T",
                   help="or when its oldest unsealed record is T seconds old (default %(default)s)")
    p.add_argument("--once", action="store_true", help="seal every record now in the log, then exit")
    p.set_defaults(func=run)


async def run(args: argparse.Namespace) -> int:
    key = sealer_key(args.key)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):
            pass

    def show(cps: list) -> None:
        for cp in cps:
            console.print(f"sealed {cp.topic}[{cp.partition}] size {cp.tree_size} root {cp.root_hash.hex()[:16]}..")

    async with EventStore.from_url(args.log) as store:
        if not args.once:
            console.print(f"sealing {store.topics.lifecycle.name} as {key.key_id} (public {key.public_bytes.hex()});"
                          " Ctrl-C to stop")
        n = await seal(store, key, every=args.every, interval=args.interval, once=args.once, stop=stop,
                       on_checkpoints=show)
    console.print(f"{n} checkpoint(s) written")
    return 0
