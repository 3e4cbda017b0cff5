"""The Kafka log: aiokafka, an idempotent producer with acks=all, explicit topic configs."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError

from ..errors import LogUnavailable
from ..partitioning import partition_for
from .port import Capability, Log, OutgoingRecord, Position, StoredRecord, TopicKind, TopicSpec

_TOPIC_ALREADY_EXISTS = 36

TOPIC_CONFIGS: dict[TopicKind, dict[str, str]] = {
    # The chain of custody is kept forever: no time or size based deletion.
    TopicKind.LIFECYCLE: {"cleanup.policy": "delete", "retention.ms": "-1", "retention.bytes": "-1"},
    # Latest description per entity wins; tombstones are kept a day for slow readers.
    TopicKind.REGISTRY: {"cleanup.policy": "compact", "delete.retention.ms": "86400000", "min.compaction.lag.ms": "0"},
    TopicKind.DEADLETTER: {"cleanup.policy": "delete", "retention.ms": "-1", "retention.bytes": "-1"},
    TopicKind.CHECKPOINTS: {"cleanup.policy": "delete", "retention.ms": "-1", "retention.bytes": "-1"},
}


class KafkaLog(Log):
    capabilities = frozenset({Capability.CROSS_PROCESS_APPENDERS})

    def __init__(
        self,
        bootstrap: str,
        replication_factor: int | None = None,
        append_timeout: float = 30.0,
        linger_ms: int = 2,
    ) -> None:
        self.bootstrap = bootstrap
        self.replication_factor = replication_factor
        self.append_timeout = append_timeout
        self.linger_ms = linger_ms
        self._producer: AIOKafkaProducer | None = None
        self._reader: AIOKafkaConsumer | None = None
        self._admin: AIOKafkaAdminClient | None = None
        self._partitions: dict[str, int] = {}
        self._read_lock = asyncio.Lock()

    def __repr__(self) -> str:
        return f"KafkaLog({self.bootstrap!r})"

    async def open(self) -> None:
        if self._producer is not None:
            return
        try:
            self._admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap, request_timeout_ms=15000)
            await self._admin.start()
            if self.replication_factor is None:
                cluster = await self._admin.describe_cluster()
                self.replication_factor = min(3, len(cluster.get("brokers", [])) or 1)
            self._producer = AIOKafkaProducer(
                bootstrap_servers=self.bootstrap,
                acks="all",
                enable_idempotence=True,
                linger_ms=self.linger_ms,
                max_batch_size=512 * 1024,
                request_timeout_ms=int(self.append_timeout * 1000),
            )
            await self._producer.start()
            self._reader = AIOKafkaConsumer(
                bootstrap_servers=self.bootstrap, enable_auto_commit=False, group_id=None, auto_offset_reset="earliest"
            )
            await self._reader.start()
        except (KafkaError, OSError) as exc:
            await self.close()
            raise LogUnavailable(f"connect to Kafka at {self.bootstrap}: {exc!r}") from exc

    async def close(self) -> None:
        for client in (self._producer, self._reader, self._admin):
            if client is not None:
                try:
                    await client.stop() if not isinstance(client, AIOKafkaAdminClient) else await client.close()
                except Exception:  # closing a client whose broker is gone must not mask the real error
                    pass
        self._producer = self._reader = self._admin = None

    def _need(self) -> tuple[AIOKafkaProducer, AIOKafkaConsumer, AIOKafkaAdminClient]:
        if self._producer is None or self._reader is None or self._admin is None:
            raise LogUnavailable(f"{self!r} is not open")
        return self._producer, self._reader, self._admin

    async def ensure_topic(self, spec: TopicSpec) -> None:
        _, _, admin = self._need()
        topic = NewTopic(
            spec.name,
            num_partitions=spec.partitions,
            replication_factor=self.replication_factor or 1,
            topic_configs=TOPIC_CONFIGS[spec.kind],
        )
        try:
            response = await admin.create_topics([topic], timeout_ms=15000)
        except KafkaError as exc:
            raise LogUnavailable(f"create topic {spec.name}: {exc!r}") from exc
        for name, code, *rest in response.topic_errors:
            if code not in (0, _TOPIC_ALREADY_EXISTS):
                raise LogUnavailable(f"create topic {name}: error {code} {rest}")
        await self._wait_for_metadata(spec.name)

    async def _wait_for_metadata(self, topic: str) -> None:
        producer, _, _ = self._need()
        with _quiet_while_created(topic):
            for _ in range(100):
                parts = await producer.partitions_for(topic)
                if parts:
                    self._partitions[topic] = len(parts)
                    return
                await asyncio.sleep(0.1)
        raise LogUnavailable(f"topic {topic} has no partitions in metadata")

    async def partitions(self, topic: str) -> int:
        n = self._partitions.get(topic)
        if n is None:
            producer, _, _ = self._need()
            try:
                parts = await asyncio.wait_for(producer.partitions_for(topic), self.append_timeout)
            except (KafkaError, asyncio.TimeoutError) as exc:
                raise LogUnavailable(f"partitions of {topic}: {exc!r}") from exc
            n = self._partitions[topic] = len(parts)
        return n

    async def append(self, topic: str, records: Sequence[OutgoingRecord]) -> list[Position]:
        if not records:
            return []
        producer, _, _ = self._need()
        n = await self.partitions(topic)
        try:
            async with asyncio.timeout(self.append_timeout):
                futures = [
                    await producer.send(
                        topic,
                        value=r.value,
                        key=r.key,
                        partition=partition_for(r.key, n),
                        headers=list(r.headers) or None,
                    )
                    for r in records
                ]
                metadata = await asyncio.gather(*futures)
        except (KafkaError, TimeoutError, OSError) as exc:
            raise LogUnavailable(f"append {len(records)} records to {topic} (acks=all): {exc!r}") from exc
        return [Position(topic, m.partition, m.offset) for m in metadata]

    async def read(self, topic: str, partition: int, start: int = 0, limit: int | None = None) -> list[StoredRecord]:
        _, reader, _ = self._need()
        tp = TopicPartition(topic, partition)
        async with self._read_lock:
            try:
                reader.assign([tp])
                end = (await reader.end_offsets([tp]))[tp]
                stop = end if limit is None else min(end, start + limit)
                out: list[StoredRecord] = []
                if start >= stop:
                    return out
                reader.seek(tp, start)
                while not out or out[-1].offset + 1 < stop:
                    batches = await reader.getmany(tp, timeout_ms=1000, max_records=10_000)
                    got = batches.get(tp, [])
                    if not got and await reader.position(tp) >= stop:
                        break
                    out.extend(_stored(m) for m in got if m.offset < stop)
                return out
            except KafkaError as exc:
                raise LogUnavailable(f"read {topic}[{partition}] from {start}: {exc!r}") from exc

    async def end_offsets(self, topic: str) -> dict[int, int]:
        _, reader, _ = self._need()
        n = await self.partitions(topic)
        tps = [TopicPartition(topic, p) for p in range(n)]
        async with self._read_lock:
            try:
                ends = await reader.end_offsets(tps)
            except KafkaError as exc:
                raise LogUnavailable(f"end offsets of {topic}: {exc!r}") from exc
        return {tp.partition: off for tp, off in ends.items()}

    async def follow(self, topic: str, start: Mapping[int, int] | None = None) -> AsyncIterator[StoredRecord]:
        n = await self.partitions(topic)
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap, enable_auto_commit=False, group_id=None, auto_offset_reset="earliest"
        )
        try:
            await consumer.start()
            tps = [TopicPartition(topic, p) for p in range(n)]
            consumer.assign(tps)
            for tp in tps:
                consumer.seek(tp, (start or {}).get(tp.partition, 0))
            async for message in consumer:
                yield _stored(message)
        except KafkaError as exc:
            raise LogUnavailable(f"follow {topic}: {exc!r}") from exc
        finally:
            await consumer.stop()


@contextlib.contextmanager
def _quiet_while_created(topic: str) -> Iterator[None]:
    """A topic just created is missing from metadata for a moment, and aiokafka logs
    that as an error; while we wait for it on purpose, that line is noise."""

    def drop(record: logging.LogRecord) -> bool:
        return not (record.getMessage().endswith("not found in cluster metadata") and topic in record.getMessage())

    cluster_log = logging.getLogger("aiokafka.cluster")
    cluster_log.addFilter(drop)
    try:
        yield
    finally:
        cluster_log.removeFilter(drop)


def _stored(m: object) -> StoredRecord:
    return StoredRecord(
        m.topic,  # type: ignore[attr-defined]
        m.partition,  # type: ignore[attr-defined]
        m.offset,  # type: ignore[attr-defined]
        m.key or b"",  # type: ignore[attr-defined]
        m.value or b"",  # type: ignore[attr-defined]
        m.timestamp,  # type: ignore[attr-defined]
        tuple(m.headers or ()),  # type: ignore[attr-defined]
    )
