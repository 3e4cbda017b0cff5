"""``dledger schemas export DIR``: write the Avro schemas generated from the models."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..codec import schema_json
from ..events import EVENT_TYPES
from .common import console

SCHEMA_DIR = Path("schemas")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("schemas", help="Avro schemas of the event catalogue")
    s = p.add_subparsers(dest="schemas_command", required=True, metavar="ACTION")
    e = s.add_parser("export", help="write one .avsc per event type")
    e.add_argument("dir", type=Path, nargs="?", default=SCHEMA_DIR)
    e.set_defaults(func=export)


def export(args: argparse.Namespace) -> int:
    args.dir.mkdir(parents=True, exist_ok=True)
    for cls in EVENT_TYPES:
        (args.dir / f"{cls.__name__}.avsc").write_text(schema_json(cls))
    console.print(f"wrote {len(EVENT_TYPES)} schemas to {args.dir}")
    return 0
