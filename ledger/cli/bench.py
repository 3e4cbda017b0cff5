"""``dledger bench publish|revoke|views|verify``.

Each benchmark lives beside the code it measures and exposes
``add_arguments(parser)`` and ``async run(args) -> BenchReport``. Its module is
imported only when that benchmark runs, so the CLI starts fast.
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
        b = benches.add_parser(name, help=help_text, add_help=False)
        b.add_argument("options", nargs=argparse.REMAINDER, help="see `dledger bench NAME --help`")
        b.set_defaults(func=_runner(name, module, help_text), accepts_extra=True)


def _runner(name: str, module: str, help_text: str):
    async def run(args: argparse.Namespace) -> int:
        bench = importlib.import_module(module)
        parser = argparse.ArgumentParser(prog=f"dledger bench {name}", description=help_text)
        add_json_option(parser)
        parser.add_argument("--kafka", metavar="HOST:PORT", help="also run against this Kafka broker")
        bench.add_arguments(parser)
        options = parser.parse_args([*getattr(args, "extra", []), *args.options])
        report = await bench.run(options)
        report.print(options.json)
        return 0

    return run
