"""``dledger bench verify``: what verification costs next to a raw read of the same log,
and what an inclusion proof costs at a million events.

- verify events/s: ``verify_log`` (decode, producer signature, leaf hash, checkpoint
  manifests, diff) vs a raw read of the same records (``Log.read_all``, no decoding),
  and vs a decode-only read (``read_events``: the codec's share, which is most of it;
  the rest is the verifier's own per-record work).
- sealing events/s, for scale: ``seal --once`` over the same records.
- inclusion proof: ``prove`` on the benchmark log, the proof's size, and
  ``verify_proof`` time (head signature, decode, path); then the audit path alone in
  one tree of ``--proof-leaves`` leaves (default 1 000 000), where a path is
  log2(n) hashes, built and checked the way ``prove``/``verify-proof`` do.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from .. import merkle
from ..bench.report import BenchReport, Comparison
from ..events import CredentialUsed, UseOutcome
from ..publisher import Publisher
from ..signing import IssuerKey
from ..store import EventStore
from ..tokens import fingerprint
from .host import seal
from .proofs import load_public_key, prove, verify_proof
from .verifier import verify_log

ISSUER = IssuerKey.from_seed("gw-bench", b"bench verify issuer")
SEALER = IssuerKey.from_seed("dledger-sealer", b"bench verify sealer")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--events", type=int, default=100_000, help="events in the benchmark log (default %(default)s)")
    parser.add_argument("--every", type=int, default=1000, help="checkpoint every N records (default %(default)s)")
    parser.add_argument("--proof-leaves", type=int, default=1_000_000,
                        help="tree size for the inclusion-proof figures (default %(default)s)")


def _events(n: int) -> list[CredentialUsed]:
    fp = fingerprint(b"bench-token", b"bench fingerprint key")
    return [
        CredentialUsed(
            chain_id=f"chain-{i % 997}", task_id=f"task-{i % 997}", credential_id=f"cred-{i % 997}",
            token_fingerprint=fp, resource_id="res-vendor-db", action="read", outcome=UseOutcome.ACCEPTED,
            system="postgres-vendors", producer=ISSUER.producer,
        )
        for i in range(n)
    ]


async def _measure(url: str, label: str, args: argparse.Namespace, report: BenchReport) -> None:
    async with EventStore.from_url(url) as store:
        async with Publisher(store, ISSUER, max_batch=5000) as pub:
            await pub.publish(ISSUER.registration())
            for start in range(0, args.events, 20_000):
                await pub.publish_many(_events(min(20_000, args.events - start)))
        t = time.perf_counter()
        checkpoints = await seal(store, SEALER, every=args.every, once=True)
        seal_s = time.perf_counter() - t

        t = time.perf_counter()
        raw = 0
        async for _ in store.log.read_all(store.topics.lifecycle.name):
            raw += 1
        raw_s = time.perf_counter() - t

        t = time.perf_counter()
        async for _ in store.read_events(store.topics.lifecycle.name):
            pass
        decode_s = time.perf_counter() - t

        t = time.perf_counter()
        result = await verify_log(store)
        verify_s = time.perf_counter() - t
        if not result.ok or result.records != raw:
            raise AssertionError(f"benchmark log did not verify clean: {result.problems[:3]}")

        t = time.perf_counter()
        async for item in store.read_events(store.topics.lifecycle.name):
            if item.record.offset == 0:
                event_id = item.event.event_id  # type: ignore[union-attr]
                break
        proof = await prove(store, event_id)
        prove_s = time.perf_counter() - t

    report.add(Comparison(f"verify ({label})", raw / verify_s, raw / raw_s, note=f"vs raw read; {raw:,} events"))
    report.add(Comparison(f"verify vs decode-only ({label})", raw / verify_s, raw / decode_s,
                          note="verifier's own work on top of decoding"))
    report.add(Comparison(f"seal --once ({label})", raw / seal_s, raw / raw_s, note=f"{checkpoints} checkpoints"))
    key = load_public_key(SEALER.public_bytes.hex())
    verify_proof(proof, key)  # the first call builds the process's codec: not per proof
    runs = 200
    t = time.perf_counter()
    for _ in range(runs):
        verify_proof(proof, key)
    report.figures[f"{label}: prove (find event + rebuild partition tree), s"] = round(prove_s, 3)
    report.figures[f"{label}: proof tree size / audit path hashes"] = f"{proof['tree_size']:,} / {len(proof['audit_path'])}"
    report.figures[f"{label}: proof JSON bytes"] = len(json.dumps(proof))
    report.figures[f"{label}: verify-proof (signature+decode+path), us"] = round((time.perf_counter() - t) / runs * 1e6, 1)


def _proof_at(n: int, report: BenchReport) -> None:
    t = time.perf_counter()
    leaves = [merkle.leaf_hash(i.to_bytes(8, "big")) for i in range(n)]
    tree = merkle.Tree(leaves)
    root = tree.root()
    build_s = time.perf_counter() - t
    index = n // 2 + 1 if n > 2 else 0
    t = time.perf_counter()
    path = tree.inclusion_path(index)
    path_s = time.perf_counter() - t
    runs = 2000
    t = time.perf_counter()
    for _ in range(runs):
        assert merkle.verify_inclusion(leaves[index], index, n, path, root)
    check_us = (time.perf_counter() - t) / runs * 1e6
    old = max(n // 3, 1)
    proof = tree.consistency_proof(old)
    old_root = tree.root(old)
    t = time.perf_counter()
    for _ in range(runs):
        assert merkle.verify_consistency(old, n, old_root, root, proof)
    consistency_us = (time.perf_counter() - t) / runs * 1e6
    report.figures[f"proof @ {n:,} leaves: audit path hashes"] = len(path)
    report.figures[f"proof @ {n:,} leaves: audit path bytes"] = 32 * len(path)
    report.figures[f"proof @ {n:,} leaves: path verification, us"] = round(check_us, 1)
    report.figures[f"proof @ {n:,} leaves: audit path from the built tree, us"] = round(path_s * 1e6, 1)
    report.figures[f"proof @ {n:,} leaves: hash + tree {n:,} leaves, s"] = round(build_s, 3)
    report.figures[f"consistency {old:,} -> {n:,}: proof hashes / verification, us"] = \
        f"{len(proof)} / {consistency_us:.1f}"


async def run(args: argparse.Namespace) -> BenchReport:
    report = BenchReport("verify")
    with tempfile.TemporaryDirectory(prefix="dledger-bench-verify-") as tmp:
        await _measure(f"sqlite:///{Path(tmp) / 'ledger.db'}", "sqlite", args, report)
    if args.kafka:
        prefix = "benchverify" + os.urandom(4).hex()
        await _measure(f"kafka://{args.kafka}?prefix={prefix}", "kafka", args, report)
    _proof_at(args.proof_leaves, report)
    report.figures["events"] = args.events
    report.figures["checkpoint every"] = args.every
    return report
