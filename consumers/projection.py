"""The projection core: apply records of the log to the views, exactly once.

Pure and synchronous: ``apply_batch(conn, items)`` runs inside one transaction that
also advances the tracking table ``positions`` (topic, partition, next offset). A
record at or below the tracked position is skipped (a redelivery after restart), an
event whose id is already indexed is skipped (a duplicate append), and everything
else reaches every view. Callers commit; a crash before the commit loses the batch
and its positions together, so the restart applies it again, once.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass

from ledger.events import Event

from . import custody_view, events_view, findings_view, registry_view

VIEW_MODULES = (registry_view, custody_view, findings_view)

TRACKING_SCHEMA = """
CREATE TABLE IF NOT EXISTS positions (
    topic TEXT NOT NULL, partition INTEGER NOT NULL, next_offset INTEGER NOT NULL,
    PRIMARY KEY (topic, partition));
CREATE TABLE IF NOT EXISTS skipped (
    topic TEXT NOT NULL, partition INTEGER NOT NULL, offset INTEGER NOT NULL, reason TEXT NOT NULL,
    PRIMARY KEY (topic, partition, offset));
"""

# the tables a digest covers: views only, never tracking (a partial replay's positions
# differ from the live ones even when the views agree)
DIGEST_TABLES: tuple[str, ...] = events_view.TABLES + tuple(t for m in VIEW_MODULES for t in m.TABLES)


@dataclass(frozen=True)
class Item:
    """One record to project: its position and the event, or why it has none."""

    topic: str
    partition: int
    offset: int
    event: Event | None
    error: str | None = None


@dataclass
class BatchResult:
    applied: int = 0
    duplicates: int = 0
    redelivered: int = 0
    undecodable: int = 0


def create_schema(conn: sqlite3.Connection) -> None:
    conn.executescript(TRACKING_SCHEMA + events_view.SCHEMA + "".join(m.SCHEMA for m in VIEW_MODULES))


def configure(conn: sqlite3.Connection) -> None:
    """WAL so readers (API, queries) never block the projector; NORMAL sync is enough
    because the views are rebuildable and positions commit with the rows they cover."""
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA busy_timeout=60000")


def positions(conn: sqlite3.Connection) -> dict[str, dict[int, int]]:
    out: dict[str, dict[int, int]] = {}
    for topic, partition, nxt in conn.execute("SELECT topic, partition, next_offset FROM positions"):
        out.setdefault(topic, {})[partition] = nxt
    return out


def apply_event(conn: sqlite3.Connection, event: Event) -> None:
    for module in VIEW_MODULES:
        module.apply(conn, event)


def apply_batch(conn: sqlite3.Connection, items: Iterable[Item]) -> BatchResult:
    """Apply items and advance positions; the caller wraps this in one transaction."""
    result = BatchResult()
    tracked = positions(conn)
    advanced: dict[tuple[str, int], int] = {}
    for item in items:
        key = (item.topic, item.partition)
        nxt = advanced.get(key, tracked.get(item.topic, {}).get(item.partition, 0))
        if item.offset < nxt:
            result.redelivered += 1
            continue
        advanced[key] = item.offset + 1
        if item.event is None:
            conn.execute("INSERT OR IGNORE INTO skipped VALUES (?,?,?,?)",
                         (item.topic, item.partition, item.offset, item.error or "undecodable"))
            result.undecodable += 1
            continue
        if not events_view.record(conn, item.event, item.topic, item.partition, item.offset):
            result.duplicates += 1
            continue
        apply_event(conn, item.event)
        result.applied += 1
    conn.executemany(
        "INSERT INTO positions VALUES (?,?,?) ON CONFLICT(topic, partition) DO UPDATE SET next_offset=excluded.next_offset",
        [(t, p, o) for (t, p), o in advanced.items()],
    )
    return result


def project_in_transaction(conn: sqlite3.Connection, items: Iterable[Item]) -> BatchResult:
    conn.execute("BEGIN IMMEDIATE")
    try:
        result = apply_batch(conn, items)
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return result


def open_views(path: str, *, create: bool = True) -> sqlite3.Connection:
    """A sync connection to a views database (``:memory:`` for a scratch one)."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    if path != ":memory:":
        configure(conn)
    if create:
        create_schema(conn)
    return conn


def digest(conn: sqlite3.Connection) -> str:
    """sha256 over every view row, table by table in a fixed order, rows sorted: equal
    views give equal digests whatever order their rows were written in."""
    h = hashlib.sha256()
    for table in DIGEST_TABLES:
        cols = [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]
        h.update(f"\x00{table}\x00{','.join(cols)}\n".encode())
        order = ", ".join(f"{c} IS NULL, {c}" for c in cols)
        for row in conn.execute(f"SELECT * FROM {table} ORDER BY {order}"):
            h.update(json.dumps(row, separators=(",", ":"), default=str).encode())
            h.update(b"\n")
    return h.hexdigest()
