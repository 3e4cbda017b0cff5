"""Events view: one row per event with its source position, the index behind
timelines and the table that makes a duplicate (the same event id appended twice)
visible, so it is applied to the other views once."""

from __future__ import annotations

import sqlite3

from ledger.events import Event
from ledger.render import summary

from .common import ts

TABLES = ("events",)

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    event_id TEXT PRIMARY KEY, topic TEXT NOT NULL, partition INTEGER NOT NULL, offset INTEGER NOT NULL,
    type TEXT NOT NULL, occurred_at TEXT NOT NULL, chain_id TEXT, task_id TEXT, workflow_id TEXT, agent_id TEXT,
    credential_id TEXT, request_id TEXT, causation_id TEXT, issuer_id TEXT, summary TEXT);
CREATE INDEX IF NOT EXISTS events_task ON events(task_id, occurred_at);
CREATE INDEX IF NOT EXISTS events_agent ON events(agent_id);
CREATE INDEX IF NOT EXISTS events_credential ON events(credential_id);
CREATE INDEX IF NOT EXISTS events_request ON events(request_id);
"""


def record(conn: sqlite3.Connection, e: Event, topic: str, partition: int, offset: int) -> bool:
    """Index the event; False when its id is already known (a duplicate append)."""
    fields = e.__dict__  # not getattr: a missing field costs pydantic an exception
    cur = conn.execute(
        "INSERT OR IGNORE INTO events VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (e.event_id, topic, partition, offset, e.type, ts(e.occurred_at), e.chain_id, e.task_id, e.workflow_id,
         fields.get("agent_id"), fields.get("credential_id"), fields.get("request_id"),
         e.causation_id, e.producer.issuer_id if e.producer else None, summary(e)),
    )
    return cur.rowcount == 1
