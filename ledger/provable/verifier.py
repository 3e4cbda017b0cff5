"""``verify``: re-read the log and name every problem by topic, partition, offset and
kind. The approach (sealed sequence vs current sequence) is described in the package
docstring, ``ledger/provable/__init__.py``."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from enum import Enum
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from .. import merkle
from ..errors import DomainError, SignatureInvalid, UnknownIssuerKey
from ..events import Checkpoint, IssuerKeyRegistered
from ..signing import Keyring
from ..store import EventStore
from .heads import checkpoint_message, head_signature_ok, record_leaf

READ_BATCH = 5_000


class ProblemKind(str, Enum):
    MODIFIED = "modified"
    MISSING = "missing"
    REORDERED = "reordered"
    INSERTED = "inserted"
    BAD_SIGNATURE = "bad signature"
    UNKNOWN_KEY = "unknown key"
    BAD_CHECKPOINT = "bad checkpoint"
    UNTRUSTED_CHECKPOINT = "untrusted checkpoint"
    WRONG_TOPIC = "wrong topic"
    REWRITTEN = "rewritten"


@dataclass(frozen=True)
class Problem:
    kind: ProblemKind
    topic: str
    partition: int
    offset: int
    detail: str
    count: int = 1  # a run of ``count`` consecutive offsets from ``offset``
    event_id: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self) | {"kind": self.kind.value}

    def __str__(self) -> str:
        where = f"{self.topic}[{self.partition}]@{self.offset}"
        if self.count > 1:
            where += f"..{self.offset + self.count - 1}"
        return f"{self.kind.value}: {where}: {self.detail}"


@dataclass
class PartitionSummary:
    records: int = 0
    sealed: int = 0
    checkpoints: int = 0


@dataclass
class VerifyReport:
    topic: str
    problems: list[Problem] = field(default_factory=list)
    partitions: dict[int, PartitionSummary] = field(default_factory=dict)
    records: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems

    def kinds(self) -> set[str]:
        return {p.kind.value for p in self.problems}

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "topic": self.topic,
            "records": self.records,
            "partitions": {p: asdict(s) for p, s in sorted(self.partitions.items())},
            "problems": [p.as_dict() for p in self.problems],
        }


@dataclass
class _Current:
    """One partition as it is now: leaf hashes in offset order and their offsets."""

    leaves: list[bytes] = field(default_factory=list)
    offsets: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class ExportedHead:
    partition: int
    tree_size: int
    root_hash: bytes


@dataclass(frozen=True)
class Export:
    """A ``checkpoints export`` file, signatures checked: the copy kept elsewhere."""

    topic: str
    heads: tuple[ExportedHead, ...]
    signers: Mapping[str, Ed25519PublicKey]  # sealer key id -> public key


Progress = Callable[[int], None]


async def verify_log(
    store: EventStore,
    *,
    against: Export | None = None,
    sealer_keys: Mapping[str, Ed25519PublicKey] | None = None,
    issuer_keys: Keyring | None = None,
    allow_renamed_topic: bool = False,
    progress: Progress | None = None,
) -> VerifyReport:
    """Check producer signatures, checkpoints, and the lifecycle topic against them.

    Trust anchors: by default the sealer and issuer keys come from the registry topic,
    which an administrator who rewrites the log can rewrite too. ``sealer_keys`` (key
    id -> public key) pins the sealer: a head signed by any other key is an
    ``untrusted checkpoint``; ``against`` pins its own signers the same way (added to
    ``sealer_keys``). ``issuer_keys`` replaces the registry as the source of producer
    keys (it is extended with the pinned sealer keys, so pass a fresh keyring).
    A head names the topic it seals; one naming another topic is a ``wrong topic``
    (a copy under a new prefix) unless ``allow_renamed_topic``.
    """
    topic = store.topics.lifecycle.name
    report = VerifyReport(topic)
    ring = issuer_keys if issuer_keys is not None else await store.keyring()
    pinned = dict(sealer_keys or {}) | (dict(against.signers) if against else {})
    await _check_signed_topic(store, store.topics.registry.name, ring, report)
    heads = await _read_checkpoints(store, ring, report, pinned or None, allow_renamed_topic)
    current = await _read_lifecycle(store, ring, report, progress)
    if against is not None and against.topic != topic and not allow_renamed_topic:
        report.problems.append(
            Problem(ProblemKind.WRONG_TOPIC, topic, 0, 0,
                    f"the exported heads are of topic {against.topic}, not {topic}; not compared"
                    " (--allow-renamed-topic to compare a copy)")
        )
        against = None
    for partition in sorted(set(current) | set(heads)):
        cur = current.get(partition, _Current())
        summary = report.partitions.setdefault(partition, PartitionSummary())
        summary.records = len(cur.leaves)
        summary.checkpoints = len(heads.get(partition, []))
        sealed, verified_heads = _sealed_sequence(
            topic, store.topics.checkpoints.name, partition, heads.get(partition, []), cur, report
        )
        summary.sealed = sealed.size
        _compare(topic, partition, sealed.leaves, cur, report)
        exported = [h for h in against.heads if h.partition == partition] if against else []
        if exported:
            _check_against(topic, partition, exported, verified_heads, sealed, cur, report)
    report.problems.sort(key=lambda p: (p.topic != topic, p.topic, p.partition, p.offset, p.kind.value))
    return report


# ---------------------------------------------------------------- producer signatures


def _signature_problem(ring: Keyring, item: Any) -> tuple[ProblemKind, str] | None:
    if item.event is None:
        return ProblemKind.BAD_SIGNATURE, f"record does not decode: {item.error}"
    try:
        ring.verify(item.event, item.canonical or b"")
    except UnknownIssuerKey as exc:
        return ProblemKind.UNKNOWN_KEY, str(exc)
    except SignatureInvalid as exc:
        return ProblemKind.BAD_SIGNATURE, str(exc)
    return None


async def _check_signed_topic(store: EventStore, topic: str, ring: Keyring, report: VerifyReport) -> None:
    async for item in store.read_events(topic):
        found = _signature_problem(ring, item)
        if isinstance(item.event, IssuerKeyRegistered):
            try:
                Keyring().register(item.event)
            except DomainError as exc:
                found = (ProblemKind.BAD_SIGNATURE, str(exc))
        if found:
            r = item.record
            report.problems.append(
                Problem(found[0], topic, r.partition, r.offset, found[1], event_id=item.event and item.event.event_id)
            )


async def _read_lifecycle(
    store: EventStore, ring: Keyring, report: VerifyReport, progress: Progress | None
) -> dict[int, _Current]:
    topic = store.topics.lifecycle.name
    ends = await store.log.end_offsets(topic)
    current: dict[int, _Current] = {p: _Current() for p in ends}
    for partition, end in sorted(ends.items()):
        cur = current[partition]
        offset = 0
        while offset < end:
            batch = await store.log.read(topic, partition, offset, limit=min(READ_BATCH, end - offset))
            if not batch:
                break
            for record in batch:
                cur.leaves.append(record_leaf(record.value))
                cur.offsets.append(record.offset)
                item = store.decode(record)
                found = _signature_problem(ring, item)
                if found:
                    report.problems.append(
                        Problem(found[0], topic, partition, record.offset, found[1],
                                event_id=item.event and item.event.event_id)
                    )
            offset = batch[-1].offset + 1
            report.records += len(batch)
            if progress:
                progress(len(batch))
    return current


# ---------------------------------------------------------------- checkpoints


def _raw(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _add_run(problems: list[Problem], p: Problem) -> None:
    """Append ``p``, or extend the previous problem if ``p`` continues its run (same
    kind and detail at the next offset): one line for a log resealed or renamed whole."""
    q = problems[-1] if problems else None
    if q is not None and (q.kind, q.topic, q.partition, q.detail) == (p.kind, p.topic, p.partition, p.detail) \
            and q.offset + q.count == p.offset:
        problems[-1] = Problem(q.kind, q.topic, q.partition, q.offset, q.detail, q.count + 1)
    else:
        problems.append(p)


async def _read_checkpoints(
    store: EventStore, ring: Keyring, report: VerifyReport, pinned: Mapping[str, Ed25519PublicKey] | None,
    allow_renamed_topic: bool,
) -> dict[int, list[tuple[int, Checkpoint]]]:
    """Checkpoints of the lifecycle topic by partition, with their offsets; producer and
    head signatures checked here (a head that fails is reported and not trusted).
    With ``pinned`` sealer keys, only those keys are trusted to sign heads."""
    topic = store.topics.checkpoints.name
    lifecycle = store.topics.lifecycle.name
    heads: dict[int, list[tuple[int, Checkpoint]]] = {}
    async for item in store.read_events(topic):
        r = item.record
        cp = item.event
        if isinstance(cp, Checkpoint) and pinned and cp.producer and cp.producer.key_id in pinned \
                and not ring.knows(cp.producer.issuer_id, cp.producer.key_id):
            public = _raw(pinned[cp.producer.key_id])  # a pinned sealer key vouches for its own records
            ring.register(IssuerKeyRegistered(issuer_id=cp.producer.issuer_id, key_id=cp.producer.key_id,
                                              public_key=public))
        found = _signature_problem(ring, item)
        untrusted = isinstance(cp, Checkpoint) and pinned is not None and cp.signer_key_id not in pinned
        if found and not (untrusted and found[0] == ProblemKind.UNKNOWN_KEY):  # said once, as untrusted
            report.problems.append(Problem(found[0], topic, r.partition, r.offset, found[1]))
        if not isinstance(cp, Checkpoint):
            continue
        if cp.topic != lifecycle and not allow_renamed_topic:
            _add_run(report.problems, Problem(
                ProblemKind.WRONG_TOPIC, topic, r.partition, r.offset,
                f"checkpoint seals topic {cp.topic}, not {lifecycle} (a copy under another name?); not trusted"))
            continue
        if pinned is not None:
            public = pinned.get(cp.signer_key_id)
            if public is None:
                _add_run(report.problems, Problem(
                    ProblemKind.UNTRUSTED_CHECKPOINT, topic, r.partition, r.offset,
                    f"checkpoint signed by sealer key {cp.signer_key_id}, which is not a pinned sealer key;"
                    " not trusted"))
                continue
            if not head_signature_ok(public, checkpoint_message(cp), cp.head_signature):
                report.problems.append(
                    Problem(ProblemKind.BAD_CHECKPOINT, topic, r.partition, r.offset,
                            f"head signature of partition {cp.partition} at size {cp.tree_size} does not verify"
                            " with the pinned key; not trusted", event_id=cp.event_id)
                )
                continue
            heads.setdefault(cp.partition, []).append((r.offset, cp))
            continue
        if cp.producer is None or not ring.knows(cp.producer.issuer_id, cp.signer_key_id):
            report.problems.append(
                Problem(ProblemKind.UNKNOWN_KEY, topic, r.partition, r.offset,
                        f"checkpoint of partition {cp.partition} at size {cp.tree_size} is signed by unregistered"
                        f" sealer key {cp.signer_key_id}; not trusted", event_id=cp.event_id)
            )
            continue
        public = ring.public_key(cp.producer.issuer_id, cp.signer_key_id)
        if not head_signature_ok(public, checkpoint_message(cp), cp.head_signature):
            report.problems.append(
                Problem(ProblemKind.BAD_CHECKPOINT, topic, r.partition, r.offset,
                        f"head signature of partition {cp.partition} at size {cp.tree_size} does not verify;"
                        " not trusted", event_id=cp.event_id)
            )
            continue
        heads.setdefault(cp.partition, []).append((r.offset, cp))
    for items in heads.values():
        items.sort(key=lambda oc: (oc[1].tree_size, oc[0]))
    return heads


def _sealed_sequence(
    topic: str, cp_topic: str, partition: int, heads: list[tuple[int, Checkpoint]], cur: _Current, report: VerifyReport
) -> tuple[merkle.Tree, list[Checkpoint]]:
    """The authenticated sequence S of sealed leaf hashes (the returned tree's leaves),
    from the manifests of heads that are signed, link to their predecessor and
    reproduce their root. A head without a manifest (or after a gap) borrows the
    current leaves for its range: its root then checks the log directly, without
    naming offsets. Each verified head is also checked against the previous one by an
    RFC 9162 consistency proof built from S: the check an auditor holding only the two
    signed heads makes (``prove-consistency``)."""
    tree = merkle.Tree()
    verified: list[Checkpoint] = []
    for offset, cp in heads:
        size = tree.size
        last_root = verified[-1].root_hash if verified else None
        if verified and cp.tree_size == size:
            if cp.root_hash != last_root:
                report.problems.append(
                    Problem(ProblemKind.BAD_CHECKPOINT, cp_topic, 0, offset,
                            f"partition {partition}: two signed heads at size {cp.tree_size} with different roots"
                            " (a fork)", event_id=cp.event_id)
                )
            continue
        if cp.previous_tree_size != size or (cp.previous_root_hash or None) != last_root:
            report.problems.append(
                Problem(ProblemKind.BAD_CHECKPOINT, cp_topic, 0, offset,
                        f"partition {partition}: head at size {cp.tree_size} extends size {cp.previous_tree_size},"
                        f" but the previous verified head has size {size} (a checkpoint is missing or forged)",
                        event_id=cp.event_id)
            )
        borrowed = not (cp.previous_tree_size == size and len(cp.leaf_hashes) == cp.tree_size - size)
        tree.extend(cur.leaves[size : cp.tree_size] if borrowed else cp.leaf_hashes)
        if tree.size != cp.tree_size or tree.root() != cp.root_hash:
            tree.truncate(size)
            if borrowed:
                report.problems.append(
                    Problem(ProblemKind.MODIFIED, topic, partition, size,
                            f"offsets {size}..{cp.tree_size - 1} no longer reproduce the signed root at size"
                            f" {cp.tree_size} (checkpoint has no usable manifest, so no finer location)",
                            count=max(cp.tree_size - size, 1))
                )
                continue
            report.problems.append(
                Problem(ProblemKind.BAD_CHECKPOINT, cp_topic, 0, offset,
                        f"partition {partition}: manifest does not reproduce the signed root at size"
                        f" {cp.tree_size}", event_id=cp.event_id)
            )
            # keep going from what the log has, so later heads are still checked
            tree.extend(cur.leaves[size : cp.tree_size])
            if tree.size != cp.tree_size or tree.root() != cp.root_hash:
                tree.truncate(size)
                continue
        if last_root is not None and size > 0:
            proof = tree.consistency_proof(size)
            if not merkle.verify_consistency(size, cp.tree_size, last_root, cp.root_hash, proof):
                report.problems.append(
                    Problem(ProblemKind.BAD_CHECKPOINT, cp_topic, 0, offset,
                            f"partition {partition}: head at size {cp.tree_size} is not consistent with the head at"
                            f" size {size} (RFC 9162 consistency proof fails)", event_id=cp.event_id)
                )
        verified.append(cp)
    return tree, verified


# ---------------------------------------------------------------- sealed vs current


def _compare(topic: str, partition: int, sealed: list[bytes], cur: _Current, report: VerifyReport) -> None:
    n = len(sealed)
    if cur.leaves[:n] == sealed:
        return
    i0 = next(i for i in range(n) if i >= len(cur.leaves) or cur.leaves[i] != sealed[i])
    a, b = sealed[i0:], cur.leaves[i0:]
    ops = difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes()
    removed: dict[bytes, int] = {}  # sealed leaf -> sealed offset, gone from its place
    added: dict[bytes, int] = {}  # current leaf -> current index, not in its sealed place
    for tag, s1, s2, c1, c2 in ops:
        if tag in ("delete", "replace"):
            for k in range(s1, s2):
                removed.setdefault(a[k], i0 + k)
        if tag in ("insert", "replace"):
            for k in range(c1, c2):
                added.setdefault(b[k], i0 + k)
    moved = removed.keys() & added.keys()
    found: list[Problem] = []

    def off(ci: int) -> int:
        return cur.offsets[ci]

    for tag, s1, s2, c1, c2 in ops:
        if tag == "equal":
            continue
        last = s2 == len(a)  # this op reaches the end of the sealed sequence
        olds = [i0 + k for k in range(s1, s2) if a[k] not in moved]
        news = [i0 + k for k in range(c1, c2) if b[k] not in moved]
        for k in range(c1, c2):
            if b[k] in moved:
                found.append(Problem(ProblemKind.REORDERED, topic, partition, off(i0 + k),
                                     f"sealed at offset {removed[b[k]]}, now at offset {off(i0 + k)}"))
        pairs = min(len(olds), len(news))
        for si, ci in zip(olds[:pairs], news[:pairs]):
            found.append(Problem(ProblemKind.MODIFIED, topic, partition, off(ci),
                                 f"bytes differ from the record sealed at offset {si}"))
        for si in olds[pairs:]:
            detail = "sealed record is gone"
            if si >= len(cur.leaves) or (last and not news):
                detail = "sealed record is gone (the log ends before the last checkpoint: truncated)"
            found.append(Problem(ProblemKind.MISSING, topic, partition, si, detail))
        if not last:
            for ci in news[pairs:]:
                found.append(Problem(ProblemKind.INSERTED, topic, partition, off(ci),
                                     "record inside the sealed range that no checkpoint sealed"))
    report.problems.extend(_runs(found))


def _runs(problems: list[Problem]) -> list[Problem]:
    """Merge consecutive offsets of the same kind into one problem with a count."""
    out: list[Problem] = []
    for p in sorted(problems, key=lambda p: (p.kind.value, p.offset)):
        q = out[-1] if out else None
        if (
            q is not None and q.kind == p.kind and q.kind in (ProblemKind.MISSING, ProblemKind.INSERTED)
            and q.offset + q.count == p.offset
        ):
            out[-1] = Problem(q.kind, q.topic, q.partition, q.offset, q.detail, q.count + 1)
        else:
            out.append(p)
    return out


# ---------------------------------------------------------------- exported heads


def _check_against(
    topic: str, partition: int, exported: list[ExportedHead], verified: list[Checkpoint], sealed: merkle.Tree,
    cur: _Current, report: VerifyReport,
) -> None:
    """Each exported root must be reproduced by the log's leaves, and the log's latest
    verified head must be consistent with the latest exported one (RFC 9162 proof)."""
    exported = sorted(exported, key=lambda h: h.tree_size)
    tree = merkle.Tree(cur.leaves[: exported[-1].tree_size])
    for head in exported:
        if head.tree_size > tree.size:
            report.problems.append(
                Problem(ProblemKind.MISSING, topic, partition, tree.size,
                        f"exported head covers {head.tree_size} records; the log has {tree.size}",
                        count=head.tree_size - tree.size)
            )
            return
        if tree.root(head.tree_size) != head.root_hash:
            report.problems.append(
                Problem(ProblemKind.REWRITTEN, topic, partition, 0,
                        f"the first {head.tree_size} records do not reproduce the exported root"
                        f" {head.root_hash.hex()[:16]}..: the topic was rewritten", count=head.tree_size)
            )
            return
    latest = exported[-1]
    if verified and verified[-1].tree_size > latest.tree_size:
        log_head = verified[-1]
        proof = sealed.consistency_proof(latest.tree_size, log_head.tree_size)
        if not merkle.verify_consistency(latest.tree_size, log_head.tree_size, latest.root_hash,
                                         log_head.root_hash, proof):
            report.problems.append(
                Problem(ProblemKind.REWRITTEN, topic, partition, latest.tree_size,
                        f"the log's head at size {log_head.tree_size} is not consistent with the exported head"
                        f" at size {latest.tree_size}")
            )
