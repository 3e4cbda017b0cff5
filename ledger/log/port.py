"""The log port: what every backend of the ledger must do.

A log is a set of named topics, each split into a fixed number of partitions. An
appended record lands in the partition chosen from its key (Kafka's murmur2, so both
backends place a key in the same partition) and gets the next offset there. The
contract, checked by tests/contract/test_log_contract.py against every adapter:

- ``append`` returns one Position per record, in input order, and returns only once
  every record is durable (Kafka: acknowledged by all in-sync replicas through an
  idempotent producer; SQLite: committed with synchronous=FULL). If it cannot
  confirm durability it raises LogUnavailable: it never returns a partial success.
- Offsets in a partition start at 0 and grow by one per record, with no gaps, across
  concurrent appenders and across reopen.
- Records with the same key keep their append order (same partition, rising offsets).
- ``read`` returns the records of one partition from an offset, in offset order.
- ``follow`` yields records of every partition of a topic from given start offsets,
  as they arrive, until cancelled; within a partition, in offset order.
"""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum


class TopicKind(str, Enum):
    LIFECYCLE = "lifecycle"  # infinite retention: the chain of custody
    REGISTRY = "registry"  # compacted: the latest description of each entity wins
    DEADLETTER = "deadletter"  # infinite retention: nothing bad is dropped
    CHECKPOINTS = "checkpoints"  # infinite retention: signed tree heads


@dataclass(frozen=True)
class TopicSpec:
    name: str
    kind: TopicKind
    partitions: int


@dataclass(frozen=True)
class Position:
    topic: str
    partition: int
    offset: int


@dataclass(frozen=True)
class OutgoingRecord:
    key: bytes
    value: bytes
    headers: tuple[tuple[str, bytes], ...] = ()


@dataclass(frozen=True)
class StoredRecord:
    topic: str
    partition: int
    offset: int
    key: bytes
    value: bytes
    timestamp_ms: int
    headers: tuple[tuple[str, bytes], ...] = field(default=())

    @property
    def position(self) -> Position:
        return Position(self.topic, self.partition, self.offset)


class Capability(str, Enum):
    """Optional abilities a backend may lack; contract tests skip by name, never fake."""

    CROSS_PROCESS_APPENDERS = "cross_process_appenders"
    REWRITE_FOR_TESTS = "rewrite_for_tests"


class Log(abc.ABC):
    """An ordered, partitioned, append-only log of byte records."""

    capabilities: frozenset[Capability] = frozenset()

    @abc.abstractmethod
    async def open(self) -> None:
        """Connect and create the topics this ledger uses (idempotent)."""

    @abc.abstractmethod
    async def close(self) -> None: ...

    async def __aenter__(self) -> "Log":
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @abc.abstractmethod
    async def ensure_topic(self, spec: TopicSpec) -> None:
        """Create ``spec`` unless it exists, with the configuration its kind needs."""

    @abc.abstractmethod
    async def partitions(self, topic: str) -> int: ...

    @abc.abstractmethod
    async def append(self, topic: str, records: Sequence[OutgoingRecord]) -> list[Position]:
        """Append durably; see the module docstring for the guarantee."""

    @abc.abstractmethod
    async def read(self, topic: str, partition: int, start: int = 0, limit: int | None = None) -> list[StoredRecord]:
        """Records of one partition with offset >= start, at most ``limit`` of them."""

    @abc.abstractmethod
    async def end_offsets(self, topic: str) -> dict[int, int]:
        """Per partition, the offset the next appended record will get."""

    @abc.abstractmethod
    def follow(self, topic: str, start: Mapping[int, int] | None = None) -> AsyncIterator[StoredRecord]:
        """Yield records as they arrive (from offset 0 unless ``start`` says otherwise)."""

    async def read_all(self, topic: str) -> AsyncIterator[StoredRecord]:
        """Every record now in ``topic``, partition by partition, in offset order."""
        ends = await self.end_offsets(topic)
        for partition in sorted(ends):
            offset = 0
            while offset < ends[partition]:
                batch = await self.read(topic, partition, offset, limit=min(10_000, ends[partition] - offset))
                if not batch:
                    break
                for record in batch:
                    yield record
                offset = batch[-1].offset + 1
