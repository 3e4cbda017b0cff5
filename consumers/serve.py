"""One process for a laptop or a small team: the HTTP API and dashboard, the
projector keeping the views current, and the embedded processors (they meet the
views only in the log: the runner writes revocations and findings, the projector
reads them)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path

import uvicorn

from ledger.store import EventStore
from processors.host import load_or_create_key
from processors.runner import EmbeddedRunner

from .api import create_app
from .projector import Projector, ViewsDB

log = logging.getLogger("dledger.serve")


def embedded_processors(store: EventStore, key_path: str | None) -> EmbeddedRunner:
    """The embedded processor runner. ``serve`` is a composition root: it hosts the
    processors beside the views in one process, though the two still meet only in
    the log."""
    key = load_or_create_key(key_path) if key_path else load_or_create_key()
    return EmbeddedRunner(store, key)


async def serve(log_url: str, views_path: str, *, host: str = "127.0.0.1", port: int = 8080,
                processors: bool = True, processor_key: str | None = None,
                started: asyncio.Event | None = None) -> None:
    Path(views_path).parent.mkdir(parents=True, exist_ok=True)
    async with EventStore.from_url(log_url) as store, ViewsDB(views_path) as views:
        projector = Projector(store, views)
        runner = embedded_processors(store, processor_key) if processors else None
        app = create_app(views_path, log_url)
        server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on"))
        tasks = [asyncio.create_task(projector.run(), name="dledger-projector")]
        if runner is not None:
            tasks.append(asyncio.create_task(runner.run(), name="dledger-processors"))
        web = asyncio.create_task(server.serve(), name="dledger-http")
        if started is not None:
            while not server.started and not web.done():
                await asyncio.sleep(0.02)
            started.set()
        try:
            done, _ = await asyncio.wait([web, *tasks], return_when=asyncio.FIRST_COMPLETED)
            for t in done:
                t.result()  # a crashed projector or runner stops the server, loudly
        finally:
            server.should_exit = True
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            with contextlib.suppress(asyncio.CancelledError):
                await web
            if runner is not None and hasattr(runner, "close"):
                await runner.close()
