"""``dledger bench publish|revoke|views|verify``.

Each benchmark lives beside the code it measures and exposes
``add_arguments(parser)`` and ``async run(args) -> BenchReport``.
"""

from __future__ import annotations

import argparse
import importlib

from .common import add_json_option

BENCHES: dict[str, tuple[str, str]] = {
    "publish": ("ledger.bench.publish", "Publisher vs raw producer / raw sqlite3 inserts"),
    "revoke": ("processors.bench", "TTL revocation lag and processor events/s vs decode-only consumer"),
    "views": ("consumers.bench", "projection events/s, visibility latency, chain queries, replay"),
    "verify": ("ledger.provable.bench", "verify events/s vs raw read; inclusion proof size and time"),
}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="benchmarks against raw baselines, side by side")
    benches = p.add_subparsers(dest="bench", required=True, metavar="BENCH")
    for name, (module, help_text) in BENCHES.items():
        b = benches.add_parser(name, help=help_text)
        add_json_option(b)
        b.add_argument("--kafka", metavar="HOST:PORT", help="also run against this Kafka broker")
        b.set_defaults(func=_runner(module))
        try:
            importlib.import_module(module).add_arguments(b)
        except ModuleNotFoundError as exc:
            if not exc.name or not module.startswith(exc.name):
                raise  # a real import error inside the benchmark, not a missing benchmark


def _runner(module: str):
    async def run(args: argparse.Namespace) -> int:
        report = await importlib.import_module(module).run(args)
        report.print(args.json)
        return 0

    return run
