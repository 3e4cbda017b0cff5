"""``dledger process``: run the processors (revocation enforcement, governance findings).

On ``kafka://`` the processors run as a faust worker (start several: they share the
lifecycle partitions); on ``sqlite://`` (or with ``--embedded``) they run in this
process with the embedded runner, which snapshots its state next to its key so a
restart reads only the log's tail.
"""

from __future__ import annotations

import argparse
import asyncio
from datetime import timedelta

from .common import add_log_option, err_console


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("process", help="run the processors: revocations and governance findings")
    add_log_option(p)
    p.add_argument("--key", default=".dledger/keys/processor.key", metavar="PATH",
                   help="the processor's signing key (created and registered on first run; default %(default)s)")
    p.add_argument("--grace", type=float, default=5.0, metavar="SECONDS",
                   help="how long a rule waits for a late event before reporting a gap (default %(default)s)")
    p.add_argument("--embedded", action="store_true", help="use the embedded runner even on Kafka")
    p.add_argument("--until-idle", action="store_true", help="catch up, write what is due, and exit")
    p.add_argument("--snapshot-interval", type=float, default=60.0, metavar="SECONDS",
                   help="embedded runner: how often to snapshot its state next to --key (default %(default)s)")
    p.add_argument("--no-snapshot", action="store_true",
                   help="embedded runner: neither load nor write a snapshot (rebuild from offset 0)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from processors.host import load_or_create_key

    key = load_or_create_key(args.key)
    grace = timedelta(seconds=args.grace)
    if args.log.startswith("kafka://") and not (args.embedded or args.until_idle):
        from processors.faust_app import run_worker

        err_console.print(f"dledger process: faust worker on {args.log}")
        run_worker(args.log, key, grace=grace)
        return 0
    return asyncio.run(_embedded(args, key, grace))


async def _embedded(args: argparse.Namespace, key, grace: timedelta) -> int:  # noqa: ANN001
    from ledger.store import EventStore
    from processors.runner import EmbeddedRunner
    from processors.snapshot import SnapshotFile, path_for_key

    snapshots = None if args.no_snapshot else SnapshotFile(
        path_for_key(args.key), args.log, key_id=key.key_id, grace_seconds=grace.total_seconds())
    async with EventStore.from_url(args.log) as store:
        runner = EmbeddedRunner(store, key, grace=grace, snapshots=snapshots, snapshot_interval=args.snapshot_interval)
        try:
            await runner.start()
            if runner.restored_from_snapshot:
                err_console.print(f"dledger process: resumed from the snapshot in {snapshots.path}")  # type: ignore[union-attr]
            if args.until_idle:
                await runner.run_until_idle()
            else:
                err_console.print(f"dledger process: embedded runner on {args.log}")
                await runner.run()
        finally:
            await runner.close()
        err_console.print(f"dledger process: {runner.stats}")
    return 0
