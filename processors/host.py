"""The shell around the pure processor: decode, verify, step, write; recover on start.

Durable state is the log. On start a host re-reads the registry and lifecycle topics
from the beginning and replays them through a fresh processor. Before replaying it
notes which derived events the log already holds (by their deterministic ids) and
which credentials already have a revocation further down: outputs that are already
in the log are not written again, and no rule revokes a credential whose revocation
is still to be read. What is left is exactly what a crash lost, and it is written at
once (missed expiries oldest first). So a SIGKILL at any point neither loses nor
duplicates a revocation or a finding, whether the host is the embedded runner or a
faust worker.

Records that do not decode or verify go to the dead-letter topic, keyed by their
source position, with the reason in headers, and produce an ``unverifiable_record``
finding; the host keeps running.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta, timezone
from pathlib import Path

from ledger.errors import DomainError, UnknownIssuerKey
from ledger.events import CredentialRevoked, Event, GovernanceFinding, IssuerKeyRegistered
from ledger.log import OutgoingRecord, StoredRecord
from ledger.publisher import Publisher
from ledger.signing import IssuerKey, Keyring
from ledger.store import EventStore, ReadEvent

from .engine import DEFAULT_GRACE, Processor

log = logging.getLogger("dledger.processors")

PROCESSOR_ISSUER = "dledger-processor"
DEFAULT_KEY_PATH = Path(".dledger/keys/processor.key")


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


class ProcessorHost:
    """Turns records into processor steps and processor outputs into signed events."""

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
        self.processor = Processor(grace)
        self.keyring = Keyring()
        self.publisher = Publisher(store, key)
        self.positions: dict[str, dict[int, int]] = {}
        self.recovered = False
        self._dead_keys: set[str] = set()
        self.stats = {"events": 0, "revocations": 0, "findings": 0, "deadlettered": 0}

    @property
    def state(self):  # noqa: ANN201 - the processor's State
        return self.processor.state

    # ------------------------------------------------------------ recovery

    async def recover(self) -> None:
        """Rebuild the state from the log and write whatever a crash left owed."""
        topics = self.store.topics
        self.keyring = await self.store.keyring()
        if not self.keyring.knows(self.key.issuer_id, self.key.key_id):
            await self.publisher.publish(self.key.registration(system="dledger-processors"))
        self.keyring.add_key(self.key)
        outputs: list[Event] = []
        dead: list[OutgoingRecord] = []
        async for record in self.store.log.read_all(topics.deadletter.name):
            self._dead_keys.add(record.key.decode(errors="replace"))
        for spec in (topics.registry, topics.lifecycle):
            ends = await self.store.log.end_offsets(spec.name)
            items: list[ReadEvent] = []
            for partition, end in sorted(ends.items()):
                offset = 0
                while offset < end:
                    batch = await self.store.log.read(spec.name, partition, offset, limit=min(10_000, end - offset))
                    if not batch:
                        break
                    items.extend(self.store.decode(r) for r in batch)
                    offset = batch[-1].offset + 1
            in_log = {i.event.event_id for i in items if isinstance(i.event, (CredentialRevoked, GovernanceFinding))}
            self.state.in_log_revoked = {i.event.credential_id for i in items if isinstance(i.event, CredentialRevoked)}
            for item in items:
                outputs += self._handle(item, dead)
            outputs = [o for o in outputs if o.event_id not in in_log]
            self.state.in_log_revoked = set()
            self.positions[spec.name] = dict(ends)
        outputs += self.processor.tick(self.clock())
        await self._write(outputs, dead)
        self.recovered = True

    # ------------------------------------------------------------ records

    def _handle(self, item: ReadEvent, dead: list[OutgoingRecord]) -> list[Event]:
        record = item.record
        if item.event is None:
            return self._dead_letter(record, item.error or DomainError("undecodable record"), dead)
        event = item.event
        if isinstance(event, IssuerKeyRegistered):
            try:
                self.keyring.register(event)
            except DomainError as exc:
                return self._dead_letter(record, exc, dead)
        try:
            self.keyring.verify(event, item.canonical or b"")
        except DomainError as exc:
            return self._dead_letter(record, exc, dead, chain_id=event.chain_id)
        self.stats["events"] += 1
        return self.processor.step(event)

    def _dead_letter(self, record: StoredRecord, error: DomainError, dead: list[OutgoingRecord],
                     chain_id: str | None = None) -> list[Event]:
        position = f"{record.topic}/{record.partition}/{record.offset}"
        at = datetime.fromtimestamp(record.timestamp_ms / 1000, timezone.utc)
        if position not in self._dead_keys:
            self._dead_keys.add(position)
            dead.append(OutgoingRecord(position.encode(), record.value, (
                ("dledger-reason", str(error).encode()),
                ("dledger-error", type(error).__name__.encode()),
                ("dledger-source", position.encode()),
            )))
        return self.processor.reject(topic=record.topic, partition=record.partition, offset=record.offset,
                                     reason=str(error), error=type(error).__name__, at=at, chain_id=chain_id)

    async def handle_records(self, records: Iterable[StoredRecord]) -> int:
        """Process records read past the recovered positions (older ones are skipped)
        and write what they imply. Returns how many were processed."""
        outputs: list[Event] = []
        dead: list[OutgoingRecord] = []
        n = 0
        for record in records:
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
        registry = self.store.topics.registry.name
        seen = self.positions.setdefault(registry, {})
        ends = await self.store.log.end_offsets(registry)
        for partition, end in ends.items():
            start = seen.get(partition, 0)
            if start < end:
                batch = await self.store.log.read(registry, partition, start, limit=end - start)
                outputs: list[Event] = []
                dead: list[OutgoingRecord] = []
                for record in batch:
                    outputs += self._handle(self.store.decode(record), dead)
                    seen[partition] = record.offset + 1
                await self._write(outputs, dead)

    async def tick(self) -> int:
        """Fire what the clock says is due; returns how many events were written."""
        outputs = self.processor.tick(self.clock())
        await self._write(outputs, [])
        return len(outputs)

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
