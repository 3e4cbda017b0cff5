"""Shared fixtures: real backends only.

Kafka tests need a real broker: ``make test`` starts one with scripts/kafka-local and
exports DLEDGER_KAFKA_BOOTSTRAP. Without a broker a Kafka test is skipped locally,
and fails under CI=true: a CI run never skips Kafka silently.
"""

from __future__ import annotations

import os
import socket
import subprocess
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ledger.store import EventStore

REPO = Path(__file__).resolve().parents[1]


def _reachable(address: str) -> bool:
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=2):
            return True
    except OSError:
        return False


def _discover_broker() -> str | None:
    address = os.environ.get("DLEDGER_KAFKA_BOOTSTRAP")
    if not address:
        script = REPO / "scripts" / "kafka-local"
        try:
            out = subprocess.run([str(script), "address"], capture_output=True, text=True, timeout=20)
            address = out.stdout.strip().splitlines()[-1] if out.returncode == 0 and out.stdout.strip() else None
        except (OSError, subprocess.TimeoutExpired):
            address = None
    return address if address and _reachable(address) else None


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    address = _discover_broker()
    if address is None:
        message = "no Kafka broker: run `scripts/kafka-local start` or set DLEDGER_KAFKA_BOOTSTRAP"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message + " (CI=true: Kafka tests must not skip)")
        pytest.skip(message)
    return address


def unique_prefix() -> str:
    return "t" + uuid.uuid4().hex[:12]


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'ledger.db'}"


@pytest.fixture
def kafka_url(kafka_bootstrap: str) -> str:
    return f"kafka://{kafka_bootstrap}?prefix={unique_prefix()}&partitions=3"


@pytest.fixture(params=["sqlite", "kafka"])
def log_url(request: pytest.FixtureRequest) -> str:
    """The same test against every backend."""
    if request.param == "kafka":
        request.applymarker(pytest.mark.kafka)
        return request.getfixturevalue("kafka_url")
    return request.getfixturevalue("sqlite_url")


@pytest.fixture
async def store(log_url: str) -> AsyncIterator[EventStore]:
    s = EventStore.from_url(log_url)
    await s.open()
    try:
        yield s
    finally:
        await s.close()
