"""EventStore: the event-level face of a log (topics + codec + keyring).

Readers get every record back either as a verified event or as a precise reason it
is not one, so a consumer can route bad records to the dead-letter topic instead of
crashing or dropping them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass

from .codec import EventCodec
from .errors import DomainError
from .events import Event, IssuerKeyRegistered
from .log import Log, OutgoingRecord, Position, StoredRecord, log_from_url
from .signing import Keyring
from .topics import Topics, topics_from_url


@dataclass(frozen=True)
class ReadEvent:
    """One record read back: ``event`` and ``canonical`` when it decoded, else ``error``."""

    record: StoredRecord
    event: Event | None
    canonical: bytes | None
    error: DomainError | None = None


class EventStore:
    def __init__(self, log: Log, topics: Topics | None = None, codec: EventCodec | None = None) -> None:
        self.log = log
        self.topics = topics or Topics()
        self.codec = codec or EventCodec()

    @classmethod
    def from_url(cls, url: str) -> EventStore:
        """The store a log URL names; ``?registry=http://host:8081`` switches the codec to
        Confluent framing through that schema registry."""
        from urllib.parse import parse_qs, urlparse

        registry_url = parse_qs(urlparse(url).query).get("registry", [None])[-1]
        codec = None
        if registry_url:
            from .schema_registry import HttpSchemaRegistry

            codec = EventCodec(HttpSchemaRegistry(registry_url))
        return cls(log_from_url(url), topics_from_url(url), codec)

    async def open(self) -> None:
        await self.log.open()
        for spec in self.topics.all():
            await self.log.ensure_topic(spec)

    async def close(self) -> None:
        await self.log.close()

    async def __aenter__(self) -> EventStore:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def append_encoded(self, topic: str, items: Sequence[tuple[str, bytes]]) -> list[Position]:
        """Append already-encoded events given as (key, bytes)."""
        return await self.log.append(topic, [OutgoingRecord(k.encode(), v) for k, v in items])

    async def append(self, events: Sequence[Event]) -> list[Position]:
        """Append events as they stand (already signed, or deliberately unsigned), keeping input order
        per topic."""
        positions: list[Position | None] = [None] * len(events)
        by_topic: dict[str, list[int]] = {}
        for i, e in enumerate(events):
            by_topic.setdefault(self.topics.for_event(e).name, []).append(i)
        for topic, idxs in by_topic.items():
            got = await self.append_encoded(topic, [(events[i].key, self.codec.encode(events[i])) for i in idxs])
            for i, p in zip(idxs, got):
                positions[i] = p
        return positions  # type: ignore[return-value]

    def decode(self, record: StoredRecord) -> ReadEvent:
        try:
            decoded = self.codec.decode_with_canonical(record.value)
        except DomainError as exc:
            return ReadEvent(record, None, None, exc)
        return ReadEvent(record, decoded.event, decoded.canonical)

    async def read_events(self, topic: str) -> AsyncIterator[ReadEvent]:
        async for record in self.log.read_all(topic):
            yield self.decode(record)

    async def follow_events(self, topic: str, start: Mapping[int, int] | None = None) -> AsyncIterator[ReadEvent]:
        async for record in self.log.follow(topic, start):
            yield self.decode(record)

    async def keyring(self) -> Keyring:
        """Every issuer key registered so far, read from the registry topic."""
        ring = Keyring()
        async for item in self.read_events(self.topics.registry.name):
            if isinstance(item.event, IssuerKeyRegistered):
                try:
                    ring.register(item.event)
                except DomainError:
                    continue  # a bad registration is reported by verify, not trusted here
        return ring
