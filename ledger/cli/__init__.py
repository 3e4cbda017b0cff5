"""``dledger``: the command line. Each command lives in its own module with a
``register(subparsers)`` function; this file only wires them together."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import inspect
import sys
from collections.abc import Sequence

from ..errors import LedgerError

# module path of every command group, in the order `dledger --help` lists them
COMMAND_MODULES: tuple[str, ...] = (
    "ledger.cli.demo",
    "ledger.cli.publish",
    "ledger.cli.tail",
    "ledger.cli.keys",
    "ledger.cli.schemas",
    "ledger.cli.bench",
    "ledger.cli.process",
    "ledger.cli.seal",
    "ledger.cli.verify",
    "ledger.cli.project",
    "ledger.cli.chain",
    "ledger.cli.timeline",
    "ledger.cli.blast_radius",
    "ledger.cli.owners",
    "ledger.cli.findings",
    "ledger.cli.replay",
    "ledger.cli.report",
    "ledger.cli.serve",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dledger",
        description="Delegation Ledger: the chain of custody for every credential an AI agent touches.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:
        if not getattr(args, "accepts_extra", False):
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
        args.extra = extra
    try:
        result = args.func(args)
        if inspect.iscoroutine(result):
            result = asyncio.run(result)
    except LedgerError as exc:
        print(f"dledger {args.command}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return int(result or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
