"""The ledger's topics and where each event goes."""

from __future__ import annotations

from dataclasses import dataclass

from .events import Checkpoint, Event
from .log.port import TopicKind, TopicSpec

DEFAULT_PREFIX = "dledger"
DEFAULT_LIFECYCLE_PARTITIONS = 6


@dataclass(frozen=True)
class Topics:
    """Topic names under one prefix, so several ledgers (or test runs) share a broker."""

    prefix: str = DEFAULT_PREFIX
    lifecycle_partitions: int = DEFAULT_LIFECYCLE_PARTITIONS

    @property
    def lifecycle(self) -> TopicSpec:
        return TopicSpec(f"{self.prefix}.lifecycle", TopicKind.LIFECYCLE, self.lifecycle_partitions)

    @property
    def registry(self) -> TopicSpec:
        # One partition: registry traffic is small and a single order is simplest to reason about.
        return TopicSpec(f"{self.prefix}.registry", TopicKind.REGISTRY, 1)

    @property
    def deadletter(self) -> TopicSpec:
        return TopicSpec(f"{self.prefix}.deadletter", TopicKind.DEADLETTER, 1)

    @property
    def checkpoints(self) -> TopicSpec:
        return TopicSpec(f"{self.prefix}.checkpoints", TopicKind.CHECKPOINTS, 1)

    def all(self) -> tuple[TopicSpec, ...]:
        return (self.registry, self.lifecycle, self.deadletter, self.checkpoints)

    def for_event(self, event: Event) -> TopicSpec:
        if isinstance(event, Checkpoint):
            return self.checkpoints
        return self.registry if event.family == "registry" else self.lifecycle


def topics_from_url(url: str) -> Topics:
    """Topic layout named by a log URL's query: ``?prefix=NAME&partitions=N``."""
    from urllib.parse import parse_qs, urlparse

    query = {k: v[-1] for k, v in parse_qs(urlparse(url).query).items()}
    return Topics(
        prefix=query.get("prefix", DEFAULT_PREFIX),
        lifecycle_partitions=int(query.get("partitions", DEFAULT_LIFECYCLE_PARTITIONS)),
    )
