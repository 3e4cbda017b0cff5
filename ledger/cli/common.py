"""Options and output helpers shared by commands."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from rich.console import Console

from ..log import DEFAULT_LOG_URL

console = Console(width=None if sys.stdout.isatty() else 200)
err_console = Console(stderr=True)


def add_log_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--log",
        default=os.environ.get("DLEDGER_LOG", DEFAULT_LOG_URL),
        metavar="URL",
        help="sqlite:///PATH (default %(default)s, or $DLEDGER_LOG) or kafka://HOST:PORT",
    )


def add_json_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")


def print_json(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2, default=str, sort_keys=False)
    sys.stdout.write("\n")
