"""The provable log on both backends: seal, tamper, and watch ``verify`` name it.

Tampering: on SQLite records are rewritten in place (``rewrite_for_tests``), as an
administrator with file access could. Kafka cannot edit in place, so a tampered copy
of the ledger is written under a new topic prefix: exactly what an administrator
rewriting a topic produces. Both go through ``copy_ledger`` so one test covers both;
its checkpoints still name the original topic, so a copy is verified with
``allow_renamed_topic`` (``verify_copy``), and without it is a ``wrong topic``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlparse

import pytest

from ledger.cli import main
from ledger.cli.verify import _views_position
from ledger.events import TaskStarted
from ledger.log import OutgoingRecord, StoredRecord
from ledger.provable.host import seal
from ledger.provable.proofs import (
    ProofError,
    load_export,
    load_issuer_keys,
    load_public_key,
    pinned_keys,
    prove,
    verify_proof,
)
from ledger.provable.verifier import ProblemKind, VerifyReport, verify_log
from ledger.errors import LogTampered
from ledger.publisher import Publisher
from ledger.signing import IssuerKey
from ledger.store import EventStore
from tests.conftest import unique_prefix

ISSUER = IssuerKey.from_seed("cp-acme-sts", b"provable test issuer")
GATEWAY = IssuerKey.from_seed("gw-acme", b"provable test gateway")
SEALER = IssuerKey.from_seed("dledger-sealer", b"provable test sealer")
STRANGER = IssuerKey.from_seed("cp-acme-sts", b"a key nobody registered")
EVERY = 4
CHAINS = 12


def task(i: int, key: IssuerKey = ISSUER) -> TaskStarted:
    return TaskStarted(
        chain_id=f"chain-{i % CHAINS}", task_id=f"task-{i}", principal=f"user-{i}@acme",
        purpose=f"purpose-{i:04d}", agent_id=f"agent-{i % 3}", producer=key.producer,
    )


async def build_ledger(url: str, events: int = 60, unsealed: int = 0) -> None:
    """Registry, ``events`` lifecycle events from two issuers, sealed every EVERY records
    per partition; then ``unsealed`` more events nobody sealed yet."""
    async with EventStore.from_url(url) as store:
        async with Publisher(store, ISSUER) as cp, Publisher(store, GATEWAY) as gw:
            await cp.publish_many([ISSUER.registration(), GATEWAY.registration()])
            half = events // 2
            await cp.publish_many([task(i) for i in range(half)])
            await gw.publish_many([task(i, GATEWAY) for i in range(half, events)])
        await seal(store, SEALER, every=EVERY, once=True)
        if unsealed:
            async with Publisher(store, ISSUER) as cp:
                await cp.publish_many([task(events + i) for i in range(unsealed)])


async def verify(url: str, **kwargs: object) -> VerifyReport:
    async with EventStore.from_url(url) as store:
        return await verify_log(store, **kwargs)  # type: ignore[arg-type]


async def verify_copy(url: str, **kwargs: object) -> VerifyReport:
    return await verify(url, allow_renamed_topic=True, **kwargs)


def with_prefix(url: str, prefix: str) -> str:
    parsed = urlparse(url)
    query = {k: v[-1] for k, v in parse_qs(parsed.query).items()} | {"prefix": prefix}
    return parsed._replace(query=urlencode(query)).geturl()


Transform = Callable[[list[StoredRecord]], list[tuple[bytes, bytes]]]


async def busiest_partition(url: str) -> tuple[int, int]:
    """(partition, sealed records) of the lifecycle partition with most records."""
    async with EventStore.from_url(url) as store:
        ends = await store.log.end_offsets(store.topics.lifecycle.name)
    partition = max(ends, key=lambda p: (ends[p], -p))
    return partition, ends[partition]


async def copy_ledger(url: str, partition: int, transform: Transform, *, checkpoints: bool = True) -> str:
    """The ledger at ``url`` copied under a fresh prefix, ``transform`` applied to one
    lifecycle partition's records (given in offset order, returned as (key, value))."""
    dst = with_prefix(url, unique_prefix())
    async with EventStore.from_url(url) as src, EventStore.from_url(dst) as out:
        for name in ("registry", "checkpoints", "lifecycle"):
            if name == "checkpoints" and not checkpoints:
                continue
            s, d = getattr(src.topics, name).name, getattr(out.topics, name).name
            ends = await src.log.end_offsets(s)
            for p in sorted(ends):
                records = await src.log.read(s, p, 0)
                items = transform(records) if (name == "lifecycle" and p == partition) else [
                    (r.key, r.value) for r in records
                ]
                if items:
                    await out.log.append(d, [OutgoingRecord(k, v) for k, v in items])
    return dst


def keep(records: list[StoredRecord]) -> list[tuple[bytes, bytes]]:
    return [(r.key, r.value) for r in records]


def kinds_at(report: VerifyReport, offset: int) -> set[str]:
    lifecycle = report.topic
    return {p.kind.value for p in report.problems if p.topic == lifecycle and p.offset == offset}


# ---------------------------------------------------------------- clean


async def test_verify__untouched_log_is_clean(log_url: str) -> None:
    await build_ledger(log_url, unsealed=3)
    report = await verify(log_url)
    assert report.ok, [str(p) for p in report.problems]
    assert report.records == 63
    assert sum(s.sealed for s in report.partitions.values()) == 60
    assert all(s.checkpoints >= 1 for s in report.partitions.values() if s.records)


async def test_verify__untouched_copy_is_clean(log_url: str) -> None:
    await build_ledger(log_url)
    partition, _ = await busiest_partition(log_url)
    copy = await copy_ledger(log_url, partition, keep)
    assert (await verify_copy(copy)).ok


async def test_verify__copy_under_another_name_is_wrong_topic(log_url: str) -> None:
    await build_ledger(log_url)
    partition, _ = await busiest_partition(log_url)
    report = await verify(await copy_ledger(log_url, partition, keep))
    assert report.kinds() == {"wrong topic"}
    (run,) = report.problems  # one line for every checkpoint of the copy
    assert run.count > 1 and "not trusted" in run.detail


# ---------------------------------------------------------------- tampering, each named


async def test_verify__edited_bytes_are_modified(log_url: str) -> None:
    await build_ledger(log_url)
    partition, _ = await busiest_partition(log_url)

    def edit(records: list[StoredRecord]) -> list[tuple[bytes, bytes]]:
        out = keep(records)
        key, value = out[2]
        assert b"purpose-" in value
        out[2] = (key, value.replace(b"purpose-", b"PURPOSE-", 1))
        return out

    report = await verify_copy(await copy_ledger(log_url, partition, edit))
    assert not report.ok
    assert kinds_at(report, 2) == {"modified", "bad signature"}
    assert {p.offset for p in report.problems} == {2}


async def test_verify__deleted_event_is_missing(log_url: str) -> None:
    await build_ledger(log_url)
    partition, _ = await busiest_partition(log_url)
    report = await verify_copy(await copy_ledger(log_url, partition, lambda rs: keep(rs[:3] + rs[4:])))
    assert [(p.kind.value, p.partition, p.offset) for p in report.problems] == [("missing", partition, 3)]


async def test_verify__swapped_events_are_reordered(log_url: str) -> None:
    await build_ledger(log_url)
    partition, _ = await busiest_partition(log_url)
    report = await verify_copy(await copy_ledger(log_url, partition, lambda rs: keep([rs[0], rs[5], *rs[2:5], rs[1], *rs[6:]])))
    assert report.kinds() == {"reordered"}
    assert {p.offset for p in report.problems} <= {1, 5}
    assert any("sealed at offset 5" in p.detail for p in report.problems)


async def test_verify__forged_event_by_unknown_key_is_inserted(log_url: str) -> None:
    await build_ledger(log_url)
    partition, _ = await busiest_partition(log_url)
    async with EventStore.from_url(log_url) as store:
        records = await store.log.read(store.topics.lifecycle.name, partition, 0)
        chain = store.decode(records[0]).event.chain_id  # type: ignore[union-attr]
        forged = task(999, STRANGER).model_copy(update={"chain_id": chain})
        canonical = store.codec.canonical(forged)
        forged_bytes = store.codec.with_signature(forged, canonical, STRANGER.sign_batch([canonical])[0])

    def insert(rs: list[StoredRecord]) -> list[tuple[bytes, bytes]]:
        out = keep(rs)
        out.insert(2, (rs[0].key, forged_bytes))
        return out

    report = await verify_copy(await copy_ledger(log_url, partition, insert))
    assert kinds_at(report, 2) == {"inserted", "unknown key"}
    assert {p.offset for p in report.problems} == {2}


async def test_verify__truncated_tail_after_checkpoint_is_missing(log_url: str) -> None:
    await build_ledger(log_url)
    partition, sealed = await busiest_partition(log_url)
    report = await verify_copy(await copy_ledger(log_url, partition, lambda rs: keep(rs[:-2])))
    (problem,) = report.problems
    assert (problem.kind, problem.offset, problem.count) == (ProblemKind.MISSING, sealed - 2, 2)
    assert "truncated" in problem.detail


async def test_verify__in_place_edit_and_delete_on_sqlite(sqlite_url: str) -> None:
    await build_ledger(sqlite_url)
    partition, _ = await busiest_partition(sqlite_url)
    async with EventStore.from_url(sqlite_url) as store:
        topic = store.topics.lifecycle.name
        (victim,) = await store.log.read(topic, partition, 1, limit=1)
        await store.log.rewrite_for_tests(  # type: ignore[attr-defined]
            "UPDATE records SET value = ? WHERE topic = ? AND partition = ? AND offset = 1",
            (victim.value.replace(b"purpose-", b"purpose_", 1), topic, partition),
        )
        await store.log.rewrite_for_tests(  # type: ignore[attr-defined]
            "DELETE FROM records WHERE topic = ? AND partition = ? AND offset = 4", (topic, partition)
        )
    report = await verify(sqlite_url)
    assert kinds_at(report, 1) == {"modified", "bad signature"}
    assert kinds_at(report, 4) == {"missing"}
    assert len(report.problems) == 3


# ---------------------------------------------------------------- checkpoints: resume, rewrite, export


async def test_seal__resumes_from_last_checkpoint_and_refuses_a_tampered_log(sqlite_url: str) -> None:
    await build_ledger(sqlite_url, unsealed=5)
    async with EventStore.from_url(sqlite_url) as store:
        assert await seal(store, SEALER, every=EVERY, once=True) >= 1
        assert await seal(store, SEALER, every=EVERY, once=True) == 0  # nothing new
    report = await verify(sqlite_url)
    assert report.ok and sum(s.sealed for s in report.partitions.values()) == 65
    partition, _ = await busiest_partition(sqlite_url)
    async with EventStore.from_url(sqlite_url) as store:
        await store.log.rewrite_for_tests(  # type: ignore[attr-defined]
            "DELETE FROM records WHERE topic = ? AND partition = ? AND offset = 0",
            (store.topics.lifecycle.name, partition),
        )
        with pytest.raises(LogTampered):
            await seal(store, SEALER, every=EVERY, once=True)


async def test_seal__follow_mode_seals_on_count_and_on_interval(log_url: str) -> None:
    await build_ledger(log_url, events=0)
    async with EventStore.from_url(log_url) as store:
        stop = asyncio.Event()
        sealed: list[int] = []
        sealer = asyncio.create_task(
            seal(store, SEALER, every=1000, interval=0.3, stop=stop, on_checkpoints=lambda cps: sealed.extend(
                c.tree_size for c in cps))
        )
        async with Publisher(store, ISSUER) as cp:
            await cp.publish_many([task(i) for i in range(CHAINS)])
        for _ in range(100):
            if sum(sealed) >= CHAINS:
                break
            await asyncio.sleep(0.1)
        stop.set()
        await asyncio.wait_for(sealer, 30)
    assert sum(sealed) == CHAINS  # every record sealed by the timer, none twice
    assert (await verify(log_url)).ok


async def test_verify_against__detects_a_rewrite_of_the_whole_topic(log_url: str, tmp_path: Path) -> None:
    await build_ledger(log_url)
    export = tmp_path / "checkpoints.json"
    assert await asyncio.to_thread(main, ["checkpoints", "export", str(export), "--log", log_url]) == 0
    partition, _ = await busiest_partition(log_url)
    # the administrator deletes an event, drops every checkpoint and reseals with a key of their own
    copy = await copy_ledger(log_url, partition, lambda rs: keep(rs[:3] + rs[4:]), checkpoints=False)
    async with EventStore.from_url(copy) as store:
        await seal(store, IssuerKey.from_seed("dledger-sealer", b"the administrator's own sealer"), every=EVERY,
                   once=True)
    assert (await verify(copy)).ok  # consistent with itself...

    report = await verify_copy(copy, against=load_export(export))
    # ...but not with the heads kept elsewhere, whose sealer key --against also pins
    assert report.kinds() == {"rewritten", "untrusted checkpoint"}
    assert {p.partition for p in report.problems if p.kind == ProblemKind.REWRITTEN} == {partition}
    assert (await verify(log_url, against=load_export(export))).ok
    assert (await verify(copy, against=load_export(export))).kinds() >= {"wrong topic"}


async def test_verify__pinned_sealer_and_issuer_keys_catch_a_rewritten_registry(log_url: str, tmp_path: Path) -> None:
    await build_ledger(log_url)
    export = tmp_path / "checkpoints.json"
    assert await asyncio.to_thread(main, ["checkpoints", "export", str(export), "--log", log_url]) == 0
    partition, _ = await busiest_partition(log_url)
    # the administrator registers a key of their own, forges an event with it, and reseals everything
    copy = await copy_ledger(log_url, partition, keep, checkpoints=False)
    async with EventStore.from_url(copy) as store:
        async with Publisher(store, STRANGER) as forger:
            await forger.publish_many([STRANGER.registration(), task(999, STRANGER)])
        await seal(store, IssuerKey.from_seed("dledger-sealer", b"the administrator's own sealer"), every=EVERY,
                   once=True)
    assert (await verify(copy)).ok  # the registry vouches for every key it now lists

    pinned = pinned_keys([SEALER.public_bytes.hex()])
    report = await verify(copy, sealer_keys=pinned)
    assert report.kinds() == {"untrusted checkpoint"}
    assert sum(s.sealed for s in report.partitions.values()) == 0  # nothing vouched for by the pinned key

    report = await verify(copy, sealer_keys=pinned, issuer_keys=load_issuer_keys(export))
    assert report.kinds() == {"untrusted checkpoint", "unknown key"}
    unknown = {(p.topic, p.offset) for p in report.problems if p.kind == ProblemKind.UNKNOWN_KEY}
    assert len(unknown) == 3  # the forger's and the new sealer's registrations, and the forged event

    clean = await verify(log_url, sealer_keys=pinned, issuer_keys=load_issuer_keys(export))
    assert clean.ok and sum(s.sealed for s in clean.partitions.values()) == 60


# ---------------------------------------------------------------- proofs, offline


def test_prove__verify_proof_round_trip_offline(log_url: str, tmp_path: Path) -> None:
    asyncio.run(build_ledger(log_url, unsealed=1))

    async def some_event_id() -> str:
        async with EventStore.from_url(log_url) as store:
            async for item in store.read_events(store.topics.lifecycle.name):
                if item.record.offset == 3:
                    return item.event.event_id  # type: ignore[union-attr]
        raise AssertionError("no event at offset 3")

    event_id = asyncio.run(some_event_id())
    proof_file = tmp_path / "proof.json"
    assert main(["prove", event_id, "--log", log_url, "--out", str(proof_file)]) == 0
    public = SEALER.public_bytes.hex()
    assert main(["verify-proof", str(proof_file), "--key", public]) == 0  # no --log: offline

    proof = json.loads(proof_file.read_text())
    result = verify_proof(proof, load_public_key(public))
    assert (result["event_id"], result["offset"]) == (event_id, 3)
    for bent in (
        proof | {"offset": 2},
        proof | {"audit_path": proof["audit_path"][:-1]},
        proof | {"checkpoint": proof["checkpoint"] | {"root_hash": "00" * 32}},
    ):
        with pytest.raises(ProofError):
            verify_proof(bent, load_public_key(public))
        (tmp_path / "bent.json").write_text(json.dumps(bent))
        assert main(["verify-proof", str(tmp_path / "bent.json"), "--key", public]) == 1
    with pytest.raises(ProofError, match="not this key"):
        verify_proof(proof, load_public_key(STRANGER.public_bytes.hex()))


async def test_prove__unsealed_event_is_refused(sqlite_url: str) -> None:
    await build_ledger(sqlite_url, events=0, unsealed=1)
    async with EventStore.from_url(sqlite_url) as store:
        async for item in store.read_events(store.topics.lifecycle.name):
            with pytest.raises(ProofError, match="not sealed"):
                await prove(store, item.event.event_id)  # type: ignore[union-attr]


def test_verify_cli__exit_status_and_json(sqlite_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    asyncio.run(build_ledger(sqlite_url))
    assert main(["verify", "--log", sqlite_url, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["ok"] is True
    export = str(tmp_path / "export.json")
    assert main(["checkpoints", "export", export, "--log", sqlite_url]) == 0
    assert main(["verify", "--log", sqlite_url, "--json", "--against", export, "--issuer-keys", export]) == 0
    capsys.readouterr()
    partition, _ = asyncio.run(busiest_partition(sqlite_url))
    copy = asyncio.run(copy_ledger(sqlite_url, partition, lambda rs: keep(rs[1:])))
    assert main(["verify", "--log", copy, "--json", "--allow-renamed-topic"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert [(p["kind"], p["offset"]) for p in out["problems"]] == [("missing", 0)]
    assert main(["verify", "--log", sqlite_url, "--json", "--sealer-key", SEALER.public_bytes.hex()]) == 0
    capsys.readouterr()
    assert main(["verify", "--log", sqlite_url, "--json", "--sealer-key", STRANGER.public_bytes.hex()]) == 1
    assert json.loads(capsys.readouterr().out)["problems"][0]["kind"] == "untrusted checkpoint"


def test_prove_consistency__verify_proof_checks_it_offline(log_url: str, tmp_path: Path) -> None:
    asyncio.run(build_ledger(log_url))
    partition, sealed = asyncio.run(busiest_partition(log_url))
    out = tmp_path / "consistency.json"
    assert main(["prove-consistency", "--log", log_url, "--partition", str(partition), "--from", str(EVERY),
                 "--out", str(out)]) == 0
    proof = json.loads(out.read_text())
    assert (proof["old_size"], proof["new_size"]) == (EVERY, sealed)
    public = SEALER.public_bytes.hex()
    assert main(["verify-proof", str(out), "--key", public]) == 0  # no --log: offline
    result = verify_proof(proof, load_public_key(public))
    assert (result["kind"], result["old_size"], result["new_size"]) == ("consistency", EVERY, sealed)

    bent_root = proof["old_checkpoint"] | {"root_hash": proof["new_checkpoint"]["root_hash"]}
    for bent in (
        proof | {"proof": proof["proof"][1:]},
        proof | {"proof": list(reversed(proof["proof"]))},
        proof | {"old_size": EVERY + 1},
        proof | {"old_checkpoint": bent_root},  # signature no longer covers the head
    ):
        with pytest.raises(ProofError):
            verify_proof(bent, load_public_key(public))
    with pytest.raises(ProofError, match="not this key"):
        verify_proof(proof, load_public_key(STRANGER.public_bytes.hex()))
    with pytest.raises(ProofError, match="no checkpoint at size 3"):
        asyncio.run(_prove_consistency(log_url, partition, 3))


async def _prove_consistency(url: str, partition: int, old: int) -> dict:
    from ledger.provable.proofs import prove_consistency

    async with EventStore.from_url(url) as store:
        return await prove_consistency(store, partition, old)


def test_prove__position_from_views_or_hint_skips_the_scan(sqlite_url: str, tmp_path: Path) -> None:
    asyncio.run(build_ledger(sqlite_url))
    partition, _ = asyncio.run(busiest_partition(sqlite_url))

    async def event_at(offset: int) -> str:
        async with EventStore.from_url(sqlite_url) as store:
            (record,) = await store.log.read(store.topics.lifecycle.name, partition, offset, limit=1)
            return store.decode(record).event.event_id  # type: ignore[union-attr]

    event_id = asyncio.run(event_at(5))
    views = tmp_path / "views.db"
    assert main(["project", "--log", sqlite_url, "--views", str(views), "--once"]) == 0
    assert _views_position(str(views), "dledger.lifecycle", event_id) == (partition, 5)
    assert _views_position(str(tmp_path / "absent.db"), "dledger.lifecycle", event_id) is None
    public = SEALER.public_bytes.hex()
    for how in (["--views", str(views)], ["--offset", f"{partition}:5"], ["--offset", f"{partition}:2"], []):
        out = tmp_path / "proof.json"
        assert main(["prove", event_id, "--log", sqlite_url, "--out", str(out), *how]) == 0  # a wrong hint: scan
        assert verify_proof(json.loads(out.read_text()), load_public_key(public))["offset"] == 5


async def test_prove__hint_at_another_event_falls_back_to_the_scan(sqlite_url: str) -> None:
    await build_ledger(sqlite_url)
    partition, _ = await busiest_partition(sqlite_url)
    async with EventStore.from_url(sqlite_url) as store:
        (record,) = await store.log.read(store.topics.lifecycle.name, partition, 1, limit=1)
        event_id = store.decode(record).event.event_id  # type: ignore[union-attr]
        assert (await prove(store, event_id, hint=(partition, 0)))["offset"] == 1
        assert (await prove(store, event_id, hint=(partition, 10_000)))["offset"] == 1
        with pytest.raises(ProofError, match="no such event"):
            await prove(store, "no-such-event", hint=(partition, 1))
