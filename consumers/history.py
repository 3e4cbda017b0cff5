"""Point-in-time answers (``--at TIME``), from the log rather than the live views.

The live views hold the present; the past is in the log. ``views_at`` projects every
event that occurred at or before ``at`` into a scratch in-memory database with the
same core the live projector uses, so a query at a time sees exactly what the views
would have held had the log stopped there, revocations and findings included.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime

from ledger.store import EventStore

from .projection import Item, open_views, project_in_transaction

BATCH = 5000


async def views_at(store: EventStore, at: datetime) -> sqlite3.Connection:
    conn = open_views(":memory:")
    for topic in (store.topics.registry.name, store.topics.lifecycle.name):
        batch: list[Item] = []
        async for record in store.log.read_all(topic):
            read = store.decode(record)
            if read.event is None or read.event.occurred_at > at:
                continue
            batch.append(Item(record.topic, record.partition, record.offset, read.event))
            if len(batch) >= BATCH:
                project_in_transaction(conn, batch)
                batch = []
        project_in_transaction(conn, batch)
    return conn
