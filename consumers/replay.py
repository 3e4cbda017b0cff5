"""Replay for incidents: rebuild the views from a range of the log into an isolated
database, and print a digest of what was rebuilt.

The range is a lifecycle offset (in every partition) or an event time, inclusive at
both ends; ``task``, ``agent`` or ``credential`` narrows it to one task, the tasks of
one agent, or the delegation tree (chain) a credential belongs to. The registry is
always replayed whole (up to ``to`` when that is a time), because owners are needed to
read any range. Replaying the same range gives the same digest; replaying everything
gives the digest of the live views (invariant 8).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from ledger.events import CredentialIssued, CredentialRevoked, CredentialUsed, CredentialRequested, Event, TaskStarted
from ledger.store import EventStore

from .common import parse_time
from .projection import Item, digest, open_views, project_in_transaction

BATCH = 5000


@dataclass(frozen=True)
class Bound:
    offset: int | None = None
    time: datetime | None = None

    @classmethod
    def parse(cls, text: str | None) -> Bound:
        if text is None or text == "":
            return cls()
        return cls(offset=int(text)) if text.isdigit() else cls(time=parse_time(text))


@dataclass(frozen=True)
class Selection:
    start: Bound = Bound()
    end: Bound = Bound()
    task: str | None = None
    agent: str | None = None
    credential: str | None = None


@dataclass
class ReplayResult:
    into: str
    records_read: int
    events_applied: int
    seconds: float
    digest: str

    @property
    def events_per_second(self) -> float:
        return self.records_read / self.seconds if self.seconds else 0.0


def _in_range(sel: Selection, offset: int, event: Event) -> bool:
    s, e = sel.start, sel.end
    if s.offset is not None and offset < s.offset:
        return False
    if e.offset is not None and offset > e.offset:
        return False
    if s.time is not None and event.occurred_at < s.time:
        return False
    if e.time is not None and event.occurred_at > e.time:
        return False
    return True


async def _scope(store: EventStore, sel: Selection) -> tuple[set[str], set[str]] | None:
    """(task ids, chain ids) the selection narrows to, or None for no narrowing."""
    if not (sel.task or sel.agent or sel.credential):
        return None
    tasks: set[str] = {sel.task} if sel.task else set()
    chains: set[str] = set()
    if sel.agent or sel.credential:
        async for read in store.read_events(store.topics.lifecycle.name):
            e = read.event
            if sel.agent and isinstance(e, (TaskStarted, CredentialRequested)) and e.agent_id == sel.agent and e.task_id:
                tasks.add(e.task_id)
            if (sel.credential and isinstance(e, (CredentialIssued, CredentialUsed, CredentialRevoked))
                    and e.credential_id == sel.credential and e.chain_id):
                chains.add(e.chain_id)
    return tasks, chains


async def count_records(store: EventStore) -> int:
    total = 0
    for topic in (store.topics.registry.name, store.topics.lifecycle.name):
        total += sum((await store.log.end_offsets(topic)).values())
    return total


async def replay(store: EventStore, into: str | Path, sel: Selection = Selection(), *,
                 progress: Callable[[int], None] | None = None) -> ReplayResult:
    path = Path(into)
    for suffix in ("", "-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    conn = open_views(str(path))
    started = time.perf_counter()
    scope = await _scope(store, sel)
    read = applied = 0
    try:
        for topic, is_registry in ((store.topics.registry.name, True), (store.topics.lifecycle.name, False)):
            batch: list[Item] = []
            async for record in store.log.read_all(topic):
                read += 1
                if progress and read % 1000 == 0:
                    progress(1000)
                item = store.decode(record)
                e = item.event
                if e is None:
                    continue
                if is_registry:
                    if sel.end.time is not None and e.occurred_at > sel.end.time:
                        continue
                elif not _in_range(sel, record.offset, e) or (
                        scope is not None and e.task_id not in scope[0] and e.chain_id not in scope[1]):
                    continue
                batch.append(Item(record.topic, record.partition, record.offset, e))
                if len(batch) >= BATCH:
                    applied += project_in_transaction(conn, batch).applied
                    batch = []
            applied += project_in_transaction(conn, batch).applied
        if progress:
            progress(read % 1000)
        seconds = time.perf_counter() - started
        return ReplayResult(str(path), read, applied, seconds, digest(conn))
    finally:
        conn.close()
