"""How commands reach the views: the live views (caught up from the log first), or a
scratch rebuild from the log when ``--at TIME`` asks about the past."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from ledger.store import EventStore

from .common import parse_time
from .history import views_at
from .projector import Projector, ViewsDB

T = TypeVar("T")
DEFAULT_VIEWS = ".dledger/views.db"


def add_views_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--views", default=os.environ.get("DLEDGER_VIEWS", DEFAULT_VIEWS), metavar="DB",
                   help="views database (default %(default)s, or $DLEDGER_VIEWS)")
    p.add_argument("--no-refresh", action="store_true",
                   help="answer from the views as they are, without catching up from the log first")


def add_at_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--at", metavar="TIME", help="the state as it was at TIME (ISO 8601, UTC unless stated),"
                                                " answered from the log")


async def ask(args: argparse.Namespace, fn: Callable[..., T], *fargs: Any, at_kw: str | None = "now",
              **kwargs: Any) -> T:
    """Run query ``fn(conn, *fargs, **kwargs)`` where the arguments say: at a time from the
    log, or now from the views (after catching them up unless ``--no-refresh``)."""
    at: datetime | None = parse_time(args.at) if getattr(args, "at", None) else None
    store = EventStore.from_url(args.log)
    async with store:
        if at is not None:
            conn = await views_at(store, at)
            try:
                return fn(conn, *fargs, **({at_kw: at} if at_kw else {}), **kwargs)
            finally:
                conn.close()
        async with ViewsDB(args.views) as views:
            if not getattr(args, "no_refresh", False):
                await Projector(store, views).catch_up()
            return await views.run(fn, *fargs, **kwargs)
