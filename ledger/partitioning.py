"""Key -> partition, identical to Kafka's default partitioner (murmur2), so a chain
lands in the same partition number on every backend."""

from __future__ import annotations

from aiokafka.partitioner import murmur2


def partition_for(key: bytes, partitions: int) -> int:
    return (murmur2(key) & 0x7FFFFFFF) % partitions
