"""The shell around the pure processor: decode, verify, step, write; rebuild on start
and on every partition it is handed.

Durable state is the log. The lifecycle topic is keyed by ``chain_id``, so a delegation
tree, its cascade, its task completion and the derived events about it all live in one
partition. A host therefore keeps one processor per lifecycle partition it owns (all of
them for the embedded runner, those faust assigns for a worker), each sharing the
registry facts, which every host reads in full (the registry topic is small). Owning
a partition means: rebuilding its state from the log when it is handed over, writing
the derived events its records imply, and firing the expiries of its credentials.

A rebuild replays a partition through a fresh processor. Before replaying it notes
which derived events the partition already holds (by their deterministic ids) and
which credentials already have a revocation further down: outputs that are already in
the log are not written again, and no rule revokes a credential whose revocation is
still to be read. What is left is exactly what a crash (or the previous owner) left
owed, and it is written at once (missed expiries oldest first). So a SIGKILL at any
point, or a partition moving between faust workers, neither loses nor duplicates a
revocation or a finding. With a snapshot (``processors.snapshot``) the replay starts
from the snapshot's state and positions instead of offset 0.

Records that do not decode or verify go to the dead-letter topic, keyed by their
source position, with the reason in headers, and produce an ``unverifiable_record``
finding; the host keeps running. A bad lifecycle record is reported in its own
partition (its key is its chain); a bad registry record by the owner of the partition
``DEADLETTER_CHAIN`` hashes to, so exactly one worker reports it.
"""

from __future__ import annotations

import hashlib
import logging
from collections import ChainMap
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from ledger.errors import DomainError, UnknownIssuerKey
from ledger.events import CredentialRevoked, Event, GovernanceFinding, IssuerKeyRegistered
from ledger.log import OutgoingRecord, StoredRecord
from ledger.partitioning import partition_for
from ledger.publisher import Publisher
from ledger.signing import IssuerKey, Keyring
from ledger.store import EventStore, ReadEvent

from .engine import DEFAULT_GRACE, Processor
from .findings import DEADLETTER_CHAIN
from .state import State

if TYPE_CHECKING:
    from .snapshot import Snapshot

log = logging.getLogger("dledger.processors")

PROCESSOR_ISSUER = "dledger-processor"
DEFAULT_KEY_PATH = Path(".dledger/keys/processor.key")
READ_CHUNK = 10_000


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def load_or_create_key(path: str | Path = DEFAULT_KEY_PATH, issuer_id: str = PROCESSOR_ISSUER) -> IssuerKey:
    """The processor's signing key, kept on disk so restarts sign as the same issuer."""
    p = Path(path)
    if p.exists():
        return IssuerKey.load(p)
    key = IssuerKey.generate(issuer_id)
    key.save(p)
    return key


class StateView:
    """A read-only look across the partitions a host owns (demo, bench, logs)."""

    def __init__(self, host: ProcessorHost) -> None:
        self._host = host

    @property
    def credentials(self) -> ChainMap:
        return ChainMap(*(p.state.credentials for _, p in sorted(self._host.parts.items())))

    @property
    def live_credentials(self) -> int:
        return sum(p.state.live_credentials for p in self._host.parts.values())


class ProcessorHost:
    """Turns records into processor steps and processor outputs into signed events,
    for the lifecycle partitions it owns."""

    def __init__(
        self,
        store: EventStore,
        key: IssuerKey,
        *,
        grace: timedelta = DEFAULT_GRACE,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.store = store
        self.key = key
        self.clock = clock
        self.grace = grace
        self.registry = Processor(grace)  # registry facts, shared by every partition's state
        self.parts: dict[int, Processor] = {}  # owned lifecycle partitions
        self.paused: set[int] = set()  # owned, but a rebalance is under way: neither read nor tick
        self.keyring = Keyring()
        self.publisher = Publisher(store, key)
        self.positions: dict[str, dict[int, int]] = {}
        self.opened = False
        self.recovered = False
        self._dead_keys: set[str] = set()
        self._registry_rejects: list[tuple[StoredRecord, DomainError, str | None]] = []
        self._deadletter_partition = partition_for(DEADLETTER_CHAIN.encode(), store.topics.lifecycle_partitions)
        self._snapshot: Snapshot | None = None
        self._last: dict[tuple[str, int], bytes] = {}  # last record read per partition: a snapshot's anchor
        self._anchors: dict[tuple[str, int], str] = {}  # anchors of a loaded snapshot, for partitions not read since
        self.stats = {"events": 0, "revocations": 0, "findings": 0, "deadlettered": 0}

    @property
    def state(self) -> StateView:
        return StateView(self)

    @property
    def lifecycle(self) -> str:
        return self.store.topics.lifecycle.name

    def _new_processor(self) -> Processor:
        r = self.registry.state
        return Processor(self.grace, State(control_planes=r.control_planes, workflows=r.workflows, resources=r.resources,
                                           policies=r.policies, brokers=r.brokers, issuers=r.issuers))

    # ------------------------------------------------------------ start and ownership

    async def open(self, snapshot: Snapshot | None = None) -> None:
        """Register the processor key and read the whole registry (from ``snapshot``'s
        position when given); owns no lifecycle partition yet."""
        if self.opened:
            return
        self.keyring = await self.store.keyring()
        if not self.keyring.knows(self.key.issuer_id, self.key.key_id):
            await self.publisher.publish(self.key.registration(system="dledger-processors"))
        self.keyring.add_key(self.key)
        if snapshot is not None:
            self._snapshot = snapshot
            self.registry = Processor(self.grace, snapshot.registry)
            self.positions[self.store.topics.registry.name] = dict(snapshot.registry_positions)
            self._registry_rejects = list(snapshot.registry_rejects)
            self._anchors = dict(snapshot.anchors)
        await self.refresh_keys()
        self.opened = True

    async def recover(self, snapshot: Snapshot | None = None) -> None:
        """Own every lifecycle partition (the embedded runner): rebuild them all and
        write whatever a crash left owed."""
        await self.open(snapshot)
        await self.assign(range(self.store.topics.lifecycle_partitions))
        self.recovered = True

    async def assign(self, partitions: Iterable[int]) -> list[int]:
        """Take ownership of ``partitions``: release those no longer listed is the
        caller's call (``release``); those already owned resume; new ones are rebuilt
        from the log (or the snapshot) and what they owe is written. Returns the new ones."""
        wanted = set(partitions)
        self.paused -= wanted
        new = sorted(wanted - set(self.parts))
        if not new:
            return []
        await self.refresh_keys()  # the registry as of now, before any lifecycle record
        self._dead_keys = {r.key.decode(errors="replace") async for r in self.store.log.read_all(self.store.topics.deadletter.name)}
        ends = await self.store.log.end_offsets(self.lifecycle)
        for p in new:
            await self._rebuild(p, ends.get(p, 0))
        self._snapshot = None  # used once, at start
        return new

    def release(self, partitions: Iterable[int]) -> None:
        """Give partitions up (another worker owns them now): forget their state and timers."""
        seen = self.positions.setdefault(self.lifecycle, {})
        for p in partitions:
            self.parts.pop(p, None)
            self.paused.discard(p)
            seen.pop(p, None)
            self._last.pop((self.lifecycle, p), None)
            self._anchors.pop((self.lifecycle, p), None)

    def pause(self, partitions: Iterable[int]) -> None:
        """A rebalance started: stop writing for ``partitions`` until ``assign`` says
        whether they stay. Callers hold the host's lock, so no write is in flight."""
        self.paused |= set(partitions) & set(self.parts)

    async def _rebuild(self, p: int, end: int) -> None:
        snap = self._snapshot
        if snap is not None and p in snap.parts:
            proc, start = Processor(self.grace, snap.parts[p]), snap.positions.get(p, 0)
        else:
            proc, start = self._new_processor(), 0
        items: list[ReadEvent] = []
        offset = start
        while offset < end:
            batch = await self.store.log.read(self.lifecycle, p, offset, limit=min(READ_CHUNK, end - offset))
            if not batch:
                break
            items.extend(self.store.decode(r) for r in batch)
            offset = batch[-1].offset + 1
        in_log = {i.event.event_id for i in items if isinstance(i.event, (CredentialRevoked, GovernanceFinding))}
        proc.state.in_log_revoked = {i.event.credential_id for i in items if isinstance(i.event, CredentialRevoked)}
        self.parts[p] = proc
        self.paused.discard(p)
        outputs: list[Event] = []
        dead: list[OutgoingRecord] = []
        for item in items:
            outputs += self._handle(item, dead)
        if p == self._deadletter_partition:
            for record, error, chain_id in self._registry_rejects:
                outputs += self._reject(proc, record, error, dead, chain_id)
        outputs = [o for o in outputs if o.event_id not in in_log]
        proc.state.in_log_revoked = set()
        self.positions.setdefault(self.lifecycle, {})[p] = max(end, start)
        outputs += proc.tick(self.clock())
        await self._write(outputs, dead)

    def snapshot(self) -> Snapshot:
        """The state as it stands, with the positions it covers; call only between steps
        (every output it implies has been written)."""
        from .snapshot import Snapshot

        seen = self.positions.get(self.lifecycle, {})
        anchors = dict(self._anchors)
        anchors.update((tp, hashlib.sha256(value).hexdigest()) for tp, value in self._last.items())
        anchors = {tp: a for tp, a in anchors.items() if tp[0] != self.lifecycle or tp[1] in self.parts}
        return Snapshot(
            anchors=anchors,
            registry=self.registry.state,
            registry_positions=dict(self.positions.get(self.store.topics.registry.name, {})),
            parts={p: proc.state for p, proc in self.parts.items()},
            positions={p: seen.get(p, 0) for p in self.parts},
            registry_rejects=list(self._registry_rejects),
        )

    # ------------------------------------------------------------ records

    def _handle(self, item: ReadEvent, dead: list[OutgoingRecord]) -> list[Event]:
        record = item.record
        self._last[(record.topic, record.partition)] = record.value
        if record.topic == self.lifecycle:
            proc = self.parts.get(record.partition)
            if proc is None:
                return []  # another worker's partition
        else:
            proc = self.registry
        if item.event is None:
            return self._bad(proc, record, item.error or DomainError("undecodable record"), dead)
        event = item.event
        if isinstance(event, IssuerKeyRegistered):
            try:
                self.keyring.register(event)
            except DomainError as exc:
                return self._bad(proc, record, exc, dead, chain_id=event.chain_id)
        try:
            self.keyring.verify(event, item.canonical or b"")
        except DomainError as exc:
            return self._bad(proc, record, exc, dead, chain_id=event.chain_id)
        self.stats["events"] += 1
        return proc.step(event)

    def _bad(self, proc: Processor, record: StoredRecord, error: DomainError, dead: list[OutgoingRecord],
             chain_id: str | None = None) -> list[Event]:
        if proc is not self.registry:
            # its key is its chain: the finding lands in the record's own partition
            return self._reject(proc, record, error, dead, chain_id or record.key.decode(errors="replace") or None)
        self._registry_rejects.append((record, error, chain_id))
        owner = self.parts.get(self._deadletter_partition)
        if owner is None or self._deadletter_partition in self.paused:
            return []  # reported by the owner of the dead-letter chain's partition (now, or when it rebuilds)
        return self._reject(owner, record, error, dead, chain_id)

    def _reject(self, proc: Processor, record: StoredRecord, error: DomainError, dead: list[OutgoingRecord],
                chain_id: str | None) -> list[Event]:
        position = f"{record.topic}/{record.partition}/{record.offset}"
        at = datetime.fromtimestamp(record.timestamp_ms / 1000, timezone.utc)
        if position not in self._dead_keys:
            self._dead_keys.add(position)
            dead.append(OutgoingRecord(position.encode(), record.value, (
                ("dledger-reason", str(error).encode()),
                ("dledger-error", type(error).__name__.encode()),
                ("dledger-source", position.encode()),
            )))
        return proc.reject(topic=record.topic, partition=record.partition, offset=record.offset,
                           reason=str(error), error=type(error).__name__, at=at, chain_id=chain_id)

    async def handle_records(self, records: Iterable[StoredRecord]) -> int:
        """Process records read past the known positions (older ones, and those of
        partitions this host does not own or has paused, are skipped) and write what they
        imply. Returns how many were processed."""
        outputs: list[Event] = []
        dead: list[OutgoingRecord] = []
        n = 0
        for record in records:
            if record.topic == self.lifecycle and (record.partition not in self.parts or record.partition in self.paused):
                continue
            seen = self.positions.setdefault(record.topic, {})
            if record.offset < seen.get(record.partition, 0):
                continue
            item = self.store.decode(record)
            if isinstance(item.error, UnknownIssuerKey) or (
                item.event is not None and item.event.producer is not None
                and not self.keyring.knows(item.event.producer.issuer_id, item.event.producer.key_id)
            ):
                await self.refresh_keys()  # the key may have been registered a moment ago
            outputs += self._handle(item, dead)
            seen[record.partition] = record.offset + 1
            n += 1
        await self._write(outputs, dead)
        return n

    async def refresh_keys(self) -> None:
        """Read the registry up to its end (new issuer keys, workflows, resources)."""
        registry = self.store.topics.registry.name
        seen = self.positions.setdefault(registry, {})
        ends = await self.store.log.end_offsets(registry)
        for partition, end in ends.items():
            while seen.get(partition, 0) < end:
                start = seen.get(partition, 0)
                batch = await self.store.log.read(registry, partition, start, limit=min(READ_CHUNK, end - start))
                if not batch:
                    break
                outputs: list[Event] = []
                dead: list[OutgoingRecord] = []
                for record in batch:
                    outputs += self._handle(self.store.decode(record), dead)
                    seen[partition] = record.offset + 1
                await self._write(outputs, dead)

    # ------------------------------------------------------------ time

    async def tick(self) -> int:
        """Fire what the clock says is due in the partitions this host owns; returns
        how many events were written."""
        now = self.clock()
        outputs: list[Event] = []
        for p, proc in sorted(self.parts.items()):
            if p not in self.paused:
                outputs += proc.tick(now)
        await self._write(outputs, [])
        return len(outputs)

    def next_due(self) -> datetime | None:
        dues = [d for p, proc in self.parts.items() if p not in self.paused and (d := proc.next_due()) is not None]
        return min(dues) if dues else None

    async def _write(self, outputs: list[Event], dead: list[OutgoingRecord]) -> None:
        if dead:
            await self.store.log.append(self.store.topics.deadletter.name, dead)
            self.stats["deadlettered"] += len(dead)
        if outputs:
            await self.publisher.publish_many(outputs)
            for o in outputs:
                self.stats["revocations" if isinstance(o, CredentialRevoked) else "findings"] += 1

    async def close(self) -> None:
        await self.publisher.close()
