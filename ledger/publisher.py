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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .errors import InvalidEvent, LedgerError, LogUnavailable
from .events import Event
from .log import Position
from .signing import IssuerKey
from .store import EventStore

DEFAULT_BATCH = 1000


@dataclass
class _Prepared:
    topic: str
    items: list[tuple[str, bytes]]
    futures: list[asyncio.Future[Position]]


class Publisher:
    def __init__(self, store: EventStore, key: IssuerKey, *, max_batch: int = DEFAULT_BATCH) -> None:
        self.store = store
        self.key = key
        self.max_batch = max_batch
        self._queue: list[tuple[Event, asyncio.Future[Position]]] = []
        self._wakeup = asyncio.Event()
        self._flusher: asyncio.Task[None] | None = None
        self._closed = False

    # ------------------------------------------------------------ public API

    async def publish(self, event: Event) -> Position:
        """Sign and durably append one event; return its position or raise."""
        (position,) = await self.publish_many([event])
        return position

    async def publish_many(self, events: Iterable[Event]) -> list[Position]:
        """Sign and durably append events in order. All-or-error per call: if any
        batch fails, this raises (earlier batches may already be durable)."""
        prepared = [self.stamp(e) for e in events]
        loop = asyncio.get_running_loop()
        futures = [loop.create_future() for _ in prepared]
        self._queue.extend(zip(prepared, futures))
        self._ensure_flusher()
        self._wakeup.set()
        results = await asyncio.gather(*futures, return_exceptions=True)
        for r in results:
            if isinstance(r, BaseException):
                raise r
        return list(results)  # type: ignore[arg-type]

    def stamp(self, event: Event) -> Event:
        """Check the event may be published by this issuer and set its producer."""
        if event.signature is not None:
            raise InvalidEvent(f"event {event.event_id} is already signed; publish unsigned events")
        if event.producer is None:
            return event.model_copy(update={"producer": self.key.producer})
        if event.producer != self.key.producer:
            raise InvalidEvent(
                f"event {event.event_id} names producer {event.producer.issuer_id}/{event.producer.key_id},"
                f" but this publisher signs as {self.key.issuer_id}/{self.key.key_id}"
            )
        return event

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
            take, self._queue = self._queue[: self.max_batch], self._queue[self.max_batch :]
            batches = self._prepare(take)  # CPU work overlaps the append in flight
            if in_flight is not None:
                await in_flight
            in_flight = asyncio.create_task(self._append(batches))

    def _prepare(self, take: Sequence[tuple[Event, asyncio.Future[Position]]]) -> list[_Prepared]:
        by_topic: dict[str, _Prepared] = {}
        canon: dict[str, list[tuple[Event, bytes]]] = {}
        codec = self.store.codec
        for event, future in take:
            try:
                canonical = codec.canonical(event)
            except LedgerError as exc:
                future.set_exception(exc)
                continue
            topic = self.store.topics.for_event(event).name
            by_topic.setdefault(topic, _Prepared(topic, [], [])).futures.append(future)
            canon.setdefault(topic, []).append((event, canonical))
        for topic, pairs in canon.items():
            signatures = self.key.sign_batch([c for _, c in pairs])
            by_topic[topic].items.extend(
                (event.key, codec.with_signature(event, canonical, sig))
                for (event, canonical), sig in zip(pairs, signatures)
            )
        return list(by_topic.values())

    async def _append(self, batches: list[_Prepared]) -> None:
        for batch in batches:
            try:
                positions = await self.store.append_encoded(batch.topic, batch.items)
            except Exception as exc:  # fail closed: every waiting caller sees the error
                err = exc if isinstance(exc, LedgerError) else LogUnavailable(f"append to {batch.topic}: {exc!r}")
                for f in batch.futures:
                    if not f.done():
                        f.set_exception(err)
                continue
            for f, p in zip(batch.futures, positions):
                if not f.done():
                    f.set_result(p)
