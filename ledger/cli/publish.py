"""``dledger publish --log URL --key KEY FILE.jsonl``: publish events given as JSON lines.

Every line is validated before anything is published: a bad line is reported with
its line number and nothing from the file reaches the ledger.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pydantic import ValidationError

from ..errors import InvalidEvent
from ..events import Event, event_from_json
from ..publisher import Publisher
from ..signing import IssuerKey
from ..store import EventStore
from .common import add_log_option, console


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("publish", help="publish events given as JSON lines (all or nothing)")
    p.add_argument("file", type=Path, metavar="FILE.jsonl", help="one event per line, '-' for stdin")
    p.add_argument("--key", type=Path, required=True, help="issuer key file (from `dledger keys new`)")
    add_log_option(p)
    p.set_defaults(func=run)


def parse_lines(lines: list[str], source: str) -> list[Event]:
    """Every event in ``lines``, or InvalidEvent naming the first bad line."""
    events: list[Event] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            events.append(event_from_json(line))
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc']) or 'line'}: {err['msg']}" for err in exc.errors()[:5]
            )
            raise InvalidEvent(f"{source}:{number}: {problems}; nothing was published") from None
    return events


async def run(args: argparse.Namespace) -> int:
    text = sys.stdin.read() if str(args.file) == "-" else args.file.read_text()
    events = parse_lines(text.splitlines(), str(args.file))
    key = IssuerKey.load(args.key)
    async with EventStore.from_url(args.log) as store, Publisher(store, key) as pub:
        for e in events:
            pub.check(e)  # refuse a foreign producer or a pre-signed event before anything is sent
        positions = await pub.publish_many(events)
    console.print(f"published {len(positions)} events to {args.log}")
    return 0
