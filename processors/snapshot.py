"""Durable snapshots of the processors' state, so a restart reads only the log's tail.

A snapshot is a cache of the log, never a second truth: it holds the registry state,
each lifecycle partition's state (whose timers, revocation marks and reported finding
ids say which derived events were already written) and the log positions that state
covers, all in one row written in one SQLite transaction. A host loads it, replays
only the records past those positions (noting, as in a full rebuild, the derived
events and revocations already further down), and writes what is still owed. A
SIGKILL while a snapshot is written leaves the previous one; a snapshot taken before
an output was appended leaves that output in the tail, where the rebuild finds it.

A snapshot is only taken when every output the state implies has been appended (the
host is between steps), and it is ignored unless it was written for the same ledger,
the same processor key, the same grace period and a log that still reaches its
positions (a ledger deleted and recreated starts from offset 0).

The file lives next to the processor key (``processor.key`` ->
``processor.snapshots.db``); it holds one snapshot per ledger URL.
"""

from __future__ import annotations

import pickle
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path

from ledger.log import StoredRecord
from ledger.errors import DomainError

from .state import State

FORMAT = 2
# SQLite refuses a blob over 1e9 bytes; a state of a million live credentials pickles
# to more than that, so a snapshot is stored in chunks, all written in one transaction.
CHUNK_BYTES = 256 * 1024 * 1024


@dataclass
class Snapshot:
    registry: State
    registry_positions: dict[int, int]
    parts: dict[int, State]
    positions: dict[int, int]  # lifecycle partition -> next offset to read
    registry_rejects: list[tuple[StoredRecord, DomainError, str | None]] = field(default_factory=list)
    # (topic, partition) -> sha256 of the last record the state covers: proves it is the same log
    anchors: dict[tuple[str, int], str] = field(default_factory=dict)


def ledger_id(url: str) -> str:
    """The ledger a URL names, independent of the working directory."""
    if url.startswith("sqlite:///"):
        rest = url[len("sqlite:///"):]
        path, sep, query = rest.partition("?")
        return "sqlite:///" + str(Path(path).resolve()) + sep + query
    return url


def path_for_key(key_path: str | Path) -> Path:
    p = Path(key_path)
    return p.with_name(p.stem + ".snapshots.db")


class SnapshotFile:
    """One SQLite file of snapshots, keyed by ledger URL."""

    def __init__(self, path: str | Path, ledger: str, *, key_id: str, grace_seconds: float,
                 chunk_bytes: int = CHUNK_BYTES) -> None:
        self.path = Path(path)
        self.chunk_bytes = chunk_bytes
        self.ledger = ledger_id(ledger)
        self.fingerprint = f"{FORMAT}|{key_id}|{grace_seconds:g}"

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=30)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("CREATE TABLE IF NOT EXISTS snapshots (ledger TEXT PRIMARY KEY, fingerprint TEXT NOT NULL,"
                     " taken_at REAL NOT NULL, events INTEGER NOT NULL, state BLOB NOT NULL)")
        conn.execute("CREATE TABLE IF NOT EXISTS snapshot_chunks (ledger TEXT NOT NULL, seq INTEGER NOT NULL,"
                     " data BLOB NOT NULL, PRIMARY KEY (ledger, seq))")
        return conn

    def dump(self, snapshot: Snapshot) -> bytes:
        """Serialize on the caller's thread (the state must not change meanwhile)."""
        return pickle.dumps(snapshot, protocol=pickle.HIGHEST_PROTOCOL)

    def write(self, blob: bytes, events: int) -> None:
        """Replace this ledger's snapshot in one transaction (safe to run in a thread)."""
        conn = self._connect()
        try:
            with conn:
                conn.execute("DELETE FROM snapshot_chunks WHERE ledger = ?", (self.ledger,))
                conn.executemany(
                    "INSERT INTO snapshot_chunks VALUES (?, ?, ?)",
                    ((self.ledger, seq, blob[start : start + self.chunk_bytes])
                     for seq, start in enumerate(range(0, len(blob), self.chunk_bytes))),
                )
                conn.execute("INSERT OR REPLACE INTO snapshots VALUES (?, ?, ?, ?, ?)",
                             (self.ledger, self.fingerprint, time.time(), events, b""))
        finally:
            conn.close()

    def load(self, ends: dict[int, int], registry_ends: dict[int, int]) -> Snapshot | None:
        """The latest snapshot of this ledger, or None when there is none or it does not fit the log."""
        if not self.path.exists():
            return None
        conn = self._connect()
        try:
            row = conn.execute("SELECT fingerprint FROM snapshots WHERE ledger = ?", (self.ledger,)).fetchone()
            if row is None or row[0] != self.fingerprint:
                return None
            blob = b"".join(
                chunk for (chunk,) in
                conn.execute("SELECT data FROM snapshot_chunks WHERE ledger = ? ORDER BY seq", (self.ledger,))
            )
        finally:
            conn.close()
        try:
            snap: Snapshot = pickle.loads(blob)
        except Exception:  # an unreadable snapshot costs a full rebuild, nothing else
            return None
        fits = all(snap.positions.get(p, 0) <= ends.get(p, 0) for p in snap.positions) and set(snap.positions) <= set(ends) \
            and all(snap.registry_positions.get(p, 0) <= registry_ends.get(p, 0) for p in snap.registry_positions)
        return snap if fits else None

    def clear(self) -> None:
        if self.path.exists():
            conn = self._connect()
            try:
                with conn:
                    conn.execute("DELETE FROM snapshots WHERE ledger = ?", (self.ledger,))
                    conn.execute("DELETE FROM snapshot_chunks WHERE ledger = ?", (self.ledger,))
            finally:
                conn.close()
