"""The log port's contract, run against every adapter (see ledger/log/port.py).

A backend subclasses ``LogContract`` and provides ``url``; a capability it lacks is
declared on the adapter and the matching test skips by name.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
from collections import defaultdict

import pytest

from ledger.log import Capability, Log, OutgoingRecord, TopicKind, TopicSpec, log_from_url
from ledger.partitioning import partition_for

def rec(key: str, value: str) -> OutgoingRecord:
    return OutgoingRecord(key.encode(), value.encode(), (("h", b"1"),))


class LogContract:
    url: str
    spec: TopicSpec

    @pytest.fixture
    async def log(self) -> Log:
        log = log_from_url(self.url)
        await log.open()
        await log.ensure_topic(self.spec)
        yield log
        await log.close()

    async def test_append__returns_positions_in_input_order(self, log: Log) -> None:
        records = [rec(f"k{i % 5}", f"v{i}") for i in range(20)]
        positions = await log.append(self.spec.name, records)
        assert len(positions) == 20
        for r, p in zip(records, positions):
            assert p.partition == partition_for(r.key, 3)
            (stored,) = await log.read(self.spec.name, p.partition, p.offset, limit=1)
            assert (stored.key, stored.value, stored.headers) == (r.key, r.value, r.headers)

    async def test_offsets__start_at_zero_without_gaps(self, log: Log) -> None:
        await log.append(self.spec.name, [rec(f"k{i}", str(i)) for i in range(30)])
        await log.append(self.spec.name, [rec(f"k{i}", str(i)) for i in range(30)])
        ends = await log.end_offsets(self.spec.name)
        assert sum(ends.values()) == 60
        for partition, end in ends.items():
            offsets = [r.offset for r in await log.read(self.spec.name, partition)]
            assert offsets == list(range(end))

    async def test_same_key__keeps_append_order(self, log: Log) -> None:
        for i in range(10):
            await log.append(self.spec.name, [rec("chain-a", f"{i}.0"), rec("chain-b", f"{i}"), rec("chain-a", f"{i}.1")])
        p = partition_for(b"chain-a", 3)
        values = [r.value.decode() for r in await log.read(self.spec.name, p) if r.key == b"chain-a"]
        assert values == [f"{i}.{j}" for i in range(10) for j in range(2)]

    async def test_read__from_offset_with_limit(self, log: Log) -> None:
        await log.append(self.spec.name, [rec("same", str(i)) for i in range(10)])
        p = partition_for(b"same", 3)
        got = await log.read(self.spec.name, p, start=3, limit=4)
        assert [r.value for r in got] == [b"3", b"4", b"5", b"6"]
        assert await log.read(self.spec.name, p, start=10) == []

    async def test_partitioning__is_kafkas_murmur2(self, log: Log) -> None:
        keys = [f"chain-{i}" for i in range(40)]
        positions = await log.append(self.spec.name, [rec(k, "x") for k in keys])
        assert [p.partition for p in positions] == [partition_for(k.encode(), 3) for k in keys]
        assert {p.partition for p in positions} == {0, 1, 2}

    async def test_durability__survives_reopen(self, log: Log) -> None:
        positions = await log.append(self.spec.name, [rec("k", "durable")])
        await log.close()
        reopened = log_from_url(self.url)
        await reopened.open()
        try:
            (r,) = await reopened.read(self.spec.name, positions[0].partition, positions[0].offset, limit=1)
            assert r.value == b"durable"
            assert await reopened.partitions(self.spec.name) == 3
        finally:
            await reopened.close()

    async def test_concurrent_appenders__no_lost_or_duplicate_offsets(self, log: Log) -> None:
        writers = [log_from_url(self.url) for _ in range(4)]
        for w in writers:
            await w.open()

        async def write(w: Log, n: int) -> list:
            out = []
            for i in range(25):
                out += await w.append(self.spec.name, [rec(f"w{n}", f"{n}:{i}"), rec(f"shared{i % 3}", f"{n}:{i}")])
            return out

        try:
            results = await asyncio.gather(*(write(w, n) for n, w in enumerate(writers)))
        finally:
            for w in writers:
                await w.close()
        positions = [p for r in results for p in r]
        assert len(set(positions)) == 4 * 25 * 2
        by_partition: dict[int, list[int]] = defaultdict(list)
        for p in positions:
            by_partition[p.partition].append(p.offset)
        for offsets in by_partition.values():
            assert sorted(offsets) == list(range(len(offsets)))
        for n in range(4):  # each writer's own key stays in its order
            p = partition_for(f"w{n}".encode(), 3)
            mine = [r.value.decode() for r in await log.read(self.spec.name, p) if r.key == f"w{n}".encode()]
            assert mine == [f"{n}:{i}" for i in range(25)]

    async def test_cross_process_appenders(self, log: Log) -> None:
        if Capability.CROSS_PROCESS_APPENDERS not in log.capabilities:
            pytest.skip("cross_process_appenders not offered by this backend")
        script = textwrap.dedent(
            f"""
            import asyncio, sys
            from ledger.log import log_from_url, OutgoingRecord
            async def main():
                log = log_from_url({self.url!r}); await log.open()
                for i in range(40):
                    await log.append({self.spec.name!r}, [OutgoingRecord(b"proc" + sys.argv[1].encode(), str(i).encode())])
                await log.close()
            asyncio.run(main())
            """
        )
        procs = [subprocess.Popen([sys.executable, "-c", script, str(n)]) for n in range(3)]
        assert [p.wait(timeout=120) for p in procs] == [0, 0, 0]
        for n in range(3):
            key = f"proc{n}".encode()
            got = [r.value for r in await log.read(self.spec.name, partition_for(key, 3)) if r.key == key]
            assert got == [str(i).encode() for i in range(40)]

    async def test_follow__yields_new_records_as_they_arrive(self, log: Log) -> None:
        await log.append(self.spec.name, [rec("before", "old")])
        start = await log.end_offsets(self.spec.name)
        seen: list[bytes] = []

        async def consume() -> None:
            async for r in log.follow(self.spec.name, start):
                seen.append(r.value)
                if len(seen) == 5:
                    return

        task = asyncio.create_task(consume())
        await asyncio.sleep(0.3)
        await log.append(self.spec.name, [rec(f"k{i}", f"new{i}") for i in range(5)])
        await asyncio.wait_for(task, 30)
        assert sorted(seen) == [f"new{i}".encode() for i in range(5)]

    async def test_ensure_topic__is_idempotent(self, log: Log) -> None:
        await log.ensure_topic(self.spec)
        assert await log.partitions(self.spec.name) == 3


class TestSqliteLog(LogContract):
    @pytest.fixture(autouse=True)
    def _url(self, sqlite_url: str) -> None:
        self.url = sqlite_url
        self.spec = TopicSpec("contract.events", TopicKind.LIFECYCLE, 3)


@pytest.mark.kafka
class TestKafkaLog(LogContract):
    @pytest.fixture(autouse=True)
    def _url(self, kafka_bootstrap: str) -> None:
        from tests.conftest import unique_prefix

        self.url = f"kafka://{kafka_bootstrap}"
        self.spec = TopicSpec(f"{unique_prefix()}.events", TopicKind.LIFECYCLE, 3)  # topics are broker-global

    async def test_topics__are_created_with_their_kind_configs(self, kafka_bootstrap: str) -> None:
        """Kafka regression: lifecycle and dead letters keep everything, the registry compacts."""
        from aiokafka.admin import AIOKafkaAdminClient
        from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

        from ledger.store import EventStore
        from tests.conftest import unique_prefix

        store = EventStore.from_url(f"kafka://{kafka_bootstrap}?prefix={unique_prefix()}")
        await store.open()
        await store.close()
        admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
        await admin.start()
        try:
            specs = store.topics.all()
            responses = await admin.describe_configs(
                [ConfigResource(ConfigResourceType.TOPIC, s.name) for s in specs]
            )
            configs: dict[str, dict[str, str]] = {}
            for response in responses:
                for _code, _msg, _type, name, entries in response.resources:
                    configs[name] = {e[0]: e[1] for e in entries}
        finally:
            await admin.close()
        lifecycle, registry = configs[store.topics.lifecycle.name], configs[store.topics.registry.name]
        assert (lifecycle["cleanup.policy"], lifecycle["retention.ms"], lifecycle["retention.bytes"]) == ("delete", "-1", "-1")
        assert registry["cleanup.policy"] == "compact"
        assert configs[store.topics.deadletter.name]["retention.ms"] == "-1"
