"""The log port and the composition root that turns a URL into an adapter.

    sqlite:///relative/path.db   sqlite:////absolute/path.db   (the default)
        ?poll=0.02&busy_timeout=60
    kafka://host:port[,host:port]?replication=3&append_timeout=30
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlparse

from .port import Capability, Log, OutgoingRecord, Position, StoredRecord, TopicKind, TopicSpec

DEFAULT_LOG_URL = "sqlite:///.dledger/ledger.db"

__all__ = [
    "Capability",
    "DEFAULT_LOG_URL",
    "Log",
    "OutgoingRecord",
    "Position",
    "StoredRecord",
    "TopicKind",
    "TopicSpec",
    "log_from_url",
]


def log_from_url(url: str) -> Log:
    """Build (not open) the adapter a URL names."""
    parsed = urlparse(url)
    query = {k: v[-1] for k, v in parse_qs(parsed.query).items()}
    if parsed.scheme == "sqlite":
        from .sqlite import SqliteLog

        path = parsed.path[1:] if parsed.path.startswith("/") else parsed.path
        if not path:
            raise ValueError(f"{url!r}: sqlite URL needs a path, e.g. sqlite:///.dledger/ledger.db")
        return SqliteLog(
            Path(path), poll_interval=float(query.get("poll", 0.02)), busy_timeout=float(query.get("busy_timeout", 60))
        )
    if parsed.scheme == "kafka":
        from .kafka import KafkaLog

        if not parsed.netloc:
            raise ValueError(f"{url!r}: kafka URL needs host:port, e.g. kafka://127.0.0.1:9092")
        replication = int(query["replication"]) if "replication" in query else None
        return KafkaLog(
            parsed.netloc,
            replication_factor=replication,
            append_timeout=float(query.get("append_timeout", 30)),
        )
    raise ValueError(f"unknown log URL scheme in {url!r}: use sqlite:///PATH or kafka://HOST:PORT")
