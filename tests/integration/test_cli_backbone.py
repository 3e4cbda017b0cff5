"""The backbone's commands, run as a user runs them."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest

from ledger.cli import main
from ledger.demo import DemoWorld
from ledger.store import EventStore


def test_demo__prints_the_ordered_log(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["demo", "--db", str(tmp_path / "demo.db")]) == 0
    out = capsys.readouterr().out
    for needle in ("CredentialRequested", "PolicyEvaluated", "ApprovalRecorded", "CredentialIssued", "CredentialUsed",
                   "TaskCompleted", "MINT approved by human carol@acme", "wf-invoice-triage"):
        assert needle in out
    assert "SignatureInvalid" not in out and "undecodable" not in out


def _jsonl(tmp_path: Path, lines: list[str]) -> Path:
    f = tmp_path / "events.jsonl"
    f.write_text("\n".join(lines) + "\n")
    return f


def _key(tmp_path: Path, url: str) -> Path:
    key = tmp_path / "cp.key"
    assert main(["keys", "new", "--issuer", "cp-acme-sts", "--out", str(key), "--log", url]) == 0
    return key


async def _lifecycle_count(url: str) -> int:
    async with EventStore.from_url(url) as store:
        return sum((await store.log.end_offsets(store.topics.lifecycle.name)).values())


def _event_lines() -> list[str]:
    cp, gw = DemoWorld().vendor_onboarding()
    return [e.model_dump_json(exclude={"producer", "signature"}) for e in cp[:6]]


def test_publish__jsonl_file_is_published(tmp_path: Path, sqlite_url: str) -> None:
    key = _key(tmp_path, sqlite_url)
    assert main(["publish", "--log", sqlite_url, "--key", str(key), str(_jsonl(tmp_path, _event_lines()))]) == 0
    assert asyncio.run(_lifecycle_count(sqlite_url)) == 6


def test_publish__bad_line_is_named_and_nothing_is_published(
    tmp_path: Path, sqlite_url: str
) -> None:
    key = _key(tmp_path, sqlite_url)
    lines = _event_lines()
    bad = json.loads(lines[3])
    bad["subject"] = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"  # a raw token where a subject goes
    lines[3] = json.dumps(bad)
    lines.insert(1, '{"type": "TaskStarted", "chain_id": "c"}')  # missing fields
    proc = subprocess.run(
        [sys.executable, "-m", "ledger", "publish", "--log", sqlite_url, "--key", str(key),
         str(_jsonl(tmp_path, lines))],
        capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 2
    assert "events.jsonl:2:" in proc.stderr and "principal" in proc.stderr
    assert "nothing was published" in proc.stderr
    assert asyncio.run(_lifecycle_count(sqlite_url)) == 0


def test_tail__prints_existing_events(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "demo.db"
    main(["demo", "--db", str(db)])
    capsys.readouterr()
    assert main(["tail", "--log", f"sqlite:///{db}", "--from-start", "--limit", "3", "--json"]) == 0
    out = capsys.readouterr().out
    assert out.count('"offset"') == 3 and "TaskStarted" in out
