"""Key -> partition, identical to Kafka's default partitioner (murmur2), so a chain
lands in the same partition number on every backend."""

from __future__ import annotations

from functools import lru_cache

from aiokafka.partitioner import murmur2


@lru_cache(maxsize=1 << 16)  # keys are chain ids: few, and hashed on every append
def partition_for(key: bytes, partitions: int) -> int:
    return (murmur2(key) & 0x7FFFFFFF) % partitions
