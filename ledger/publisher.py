"""The Publisher: how an issuer puts events on the ledger, fail closed.

``publish`` returns only once the event is durably appended; any failure raises, so
an issuer that hands out a credential after ``await publish(issued)`` returned can
prove the ledger has it (invariant 2). Nothing is dropped silently.

Throughput comes from batching, not from skipping work: concurrent ``publish`` calls
and ``publish_many`` are grouped into batches; each batch is encoded once, signed
once (Ed25519 over the RFC 9162 Merkle root of its events' canonical bytes), and
appended in one call. The next batch is encoded and signed while the previous one
is being appended, and appends run one after another, so per-key order is the order
of the calls.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

from .codec import encode_group_signatures
from .errors import InvalidEvent, LedgerError, LogUnavailable
from .events import Event
from .log import Position
from .signing import IssuerKey
from .store import EventStore

DEFAULT_BATCH = 1000


@dataclass
class _Request:
    """One ``publish_many`` call: resolved once every one of its events is settled."""

    events: list[Event]
    future: asyncio.Future[list[Position]]
    positions: list[Position | None] = field(default_factory=list)
    pending: int = 0
    error: BaseException | None = None
    taken: int = 0  # events already handed to a batch

    def settle(self, index: int, position: Position | None, error: BaseException | None = None) -> None:
        if error is not None and self.error is None:
            self.error = error
        self.positions[index] = position
        self.pending -= 1
        if self.pending == 0 and not self.future.done():
            if self.error is not None:
                self.future.set_exception(self.error)
            else:
                self.future.set_result(self.positions)  # type: ignore[arg-type]


@dataclass
class _Prepared:
    topic: str
    items: list[tuple[str, bytes]]
    owners: list[tuple[_Request, int]]


class Publisher:
    def __init__(self, store: EventStore, key: IssuerKey, *, max_batch: int = DEFAULT_BATCH) -> None:
        self.store = store
        self.key = key
        self.max_batch = max_batch
        self._queue: deque[_Request] = deque()
        self._wakeup = asyncio.Event()
        self._flusher: asyncio.Task[None] | None = None
        self._closed = False

    # ------------------------------------------------------------ public API

    async def publish(self, event: Event) -> Position:
        """Sign and durably append one event; return its position or raise."""
        (position,) = await self.publish_many([event])
        return position

    async def publish_many(self, events: Iterable[Event]) -> list[Position]:
        """Sign and durably append events in order; return their positions or raise.
        If one batch fails this raises, though earlier batches may already be durable."""
        batch = list(events)
        for event in batch:
            self.check(event)
        if not batch:
            return []
        self._ensure_flusher()
        request = _Request(batch, asyncio.get_running_loop().create_future(), [None] * len(batch), len(batch))
        self._queue.append(request)
        self._wakeup.set()
        return await request.future

    def check(self, event: Event) -> None:
        """Raise InvalidEvent unless this issuer may publish ``event`` as it stands."""
        if event.signature is not None:
            raise InvalidEvent(f"event {event.event_id} is already signed; publish unsigned events")
        if event.producer is not None and event.producer != self.key.producer:
            raise InvalidEvent(
                f"event {event.event_id} names producer {event.producer.issuer_id}/{event.producer.key_id},"
                f" but this publisher signs as {self.key.issuer_id}/{self.key.key_id}"
            )

    async def close(self) -> None:
        """Finish every queued event (or fail it), then stop."""
        self._closed = True
        self._wakeup.set()
        if self._flusher is not None:
            await self._flusher
            self._flusher = None

    async def __aenter__(self) -> Publisher:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ------------------------------------------------------------ batching

    def _ensure_flusher(self) -> None:
        if self._closed:
            raise LogUnavailable("publisher is closed")
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush_forever(), name="dledger-publisher")

    def _take(self) -> list[tuple[_Request, int]]:
        """Up to ``max_batch`` events from the head of the queue, in call order."""
        chunk: list[tuple[_Request, int]] = []
        while self._queue and len(chunk) < self.max_batch:
            request = self._queue[0]
            end = min(len(request.events), request.taken + self.max_batch - len(chunk))
            chunk.extend((request, i) for i in range(request.taken, end))
            request.taken = end
            if end == len(request.events):
                self._queue.popleft()
        return chunk

    async def _flush_forever(self) -> None:
        in_flight: asyncio.Task[None] | None = None
        while True:
            if not self._queue:
                if in_flight is not None:
                    await in_flight
                    in_flight = None
                    continue
                if self._closed:
                    return
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            batches = self._prepare(self._take())  # CPU work overlaps the append in flight
            if in_flight is not None:
                await in_flight
            in_flight = asyncio.create_task(self._append(batches))

    def _prepare(self, chunk: list[tuple[_Request, int]]) -> list[_Prepared]:
        codec, topics, producer = self.store.codec, self.store.topics, self.key.producer
        by_topic: dict[str, tuple[_Prepared, list[tuple[Event, bytes]]]] = {}
        for request, index in chunk:
            event = request.events[index]
            try:
                canonical = codec.canonical(event, producer)
            except LedgerError as exc:
                request.settle(index, None, exc)
                continue
            topic = topics.for_event(event).name
            prepared, pairs = by_topic.setdefault(topic, (_Prepared(topic, [], []), []))
            prepared.owners.append((request, index))
            pairs.append((event, canonical))
        for prepared, pairs in by_topic.values():
            for start, sig, paths in self.key.sign_groups([c for _, c in pairs]):
                group = pairs[start : start + len(paths)]
                prepared.items.extend(
                    (event.key, codec.with_encoded_signature(event, canonical, encoded))
                    for (event, canonical), encoded in zip(group, encode_group_signatures(sig, paths))
                )
        return [prepared for prepared, _ in by_topic.values()]

    async def _append(self, batches: list[_Prepared]) -> None:
        for batch in batches:
            try:
                positions = await self.store.append_encoded(batch.topic, batch.items)
            except Exception as exc:  # fail closed: every waiting caller sees the error
                err = exc if isinstance(exc, LedgerError) else LogUnavailable(f"append to {batch.topic}: {exc!r}")
                for request, index in batch.owners:
                    request.settle(index, None, err)
                continue
            for (request, index), position in zip(batch.owners, positions):
                request.settle(index, position)
