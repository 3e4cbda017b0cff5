"""Inclusion and consistency proofs and exported tree heads: what leaves the log, to
be checked by someone who has no access to it.

An inclusion proof carries the record's stored bytes, its offset, the audit path and
the signed head it hangs under. A consistency proof carries two signed heads of one
partition and the RFC 9162 proof that the older tree is a prefix of the newer one.
``verify_proof`` needs only that JSON and the sealer's public key(s). An export
carries the heads alone (no manifests), the sealers' public keys and the registered
issuer keys, small enough to keep anywhere.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from .. import merkle
from ..codec import EventCodec
from ..errors import DomainError, LogTampered
from ..events import Checkpoint, IssuerKeyRegistered
from ..signing import Keyring, key_id_for
from ..store import EventStore
from .heads import head_message, head_signature_ok, manifest_digest, record_leaf
from .host import latest_heads

PROOF_FORMAT = "dledger-inclusion-proof/v1"
CONSISTENCY_FORMAT = "dledger-consistency-proof/v1"
EXPORT_FORMAT = "dledger-checkpoints/v1"


class ProofError(DomainError):
    """A proof or export file is malformed, or does not verify."""


def _head_json(cp: Checkpoint) -> dict[str, Any]:
    return {
        "topic": cp.topic,
        "partition": cp.partition,
        "tree_size": cp.tree_size,
        "root_hash": cp.root_hash.hex(),
        "previous_tree_size": cp.previous_tree_size,
        "previous_root_hash": cp.previous_root_hash.hex() if cp.previous_root_hash else None,
        "occurred_at": cp.occurred_at.isoformat(),
        "issuer_id": cp.producer.issuer_id if cp.producer else None,
        "signer_key_id": cp.signer_key_id,
        "manifest_digest": manifest_digest(cp.leaf_hashes).hex(),
        "head_signature": cp.head_signature.hex(),
    }


def _head_message_from_json(h: dict[str, Any]) -> bytes:
    return head_message(
        h["topic"], int(h["partition"]), int(h["tree_size"]), bytes.fromhex(h["root_hash"]),
        int(h["previous_tree_size"]), bytes.fromhex(h["previous_root_hash"]) if h["previous_root_hash"] else None,
        datetime.fromisoformat(h["occurred_at"]), bytes.fromhex(h["manifest_digest"]),
    )


# ---------------------------------------------------------------- prove


async def find_event(
    store: EventStore, event_id: str, hint: tuple[int, int] | None = None
) -> tuple[int, int, bytes] | None:
    """(partition, offset, stored bytes) of an event in the lifecycle topic.

    ``hint`` (partition, offset), e.g. from the views' events table, is read first and
    used if the record there is that event; otherwise the topic is scanned. The scan
    decodes only records whose bytes contain the id (Avro stores strings as UTF-8), so
    it costs a raw read plus a substring search per record."""
    topic = store.topics.lifecycle.name
    if hint is not None:
        partition, offset = hint
        if 0 <= offset:
            for record in await store.log.read(topic, partition, offset, limit=1):
                item = store.decode(record)
                if record.offset == offset and item.event is not None and item.event.event_id == event_id:
                    return partition, offset, record.value
    needle = event_id.encode()
    async for record in store.log.read_all(topic):
        if needle in record.value:
            item = store.decode(record)
            if item.event is not None and item.event.event_id == event_id:
                return record.partition, record.offset, record.value
    return None


async def _partition_tree(store: EventStore, partition: int, head: Checkpoint, what: str) -> merkle.Tree:
    """The tree over a partition's first ``head.tree_size`` records, which must
    reproduce the head's root (else the log was tampered with since it was sealed)."""
    topic = store.topics.lifecycle.name
    tree = merkle.Tree()
    while tree.size < head.tree_size:
        batch = await store.log.read(topic, partition, tree.size, limit=min(10_000, head.tree_size - tree.size))
        if not batch:
            break
        for r in batch:
            tree.append(record_leaf(r.value))
    if tree.size != head.tree_size or tree.root() != head.root_hash:
        raise LogTampered(f"{what}: {topic}[{partition}] no longer matches its head at size {head.tree_size};"
                          " run `dledger verify`")
    return tree


async def prove(store: EventStore, event_id: str, hint: tuple[int, int] | None = None) -> dict[str, Any]:
    """An inclusion proof of one lifecycle event against its partition's latest head."""
    topic = store.topics.lifecycle.name
    found = await find_event(store, event_id, hint)
    if found is None:
        raise ProofError(f"prove {event_id}: no such event in {topic}")
    partition, offset, value = found
    heads = await latest_heads(store, topic)
    head = heads.get(partition)
    if head is None or head.tree_size <= offset:
        raise ProofError(
            f"prove {event_id}: {topic}[{partition}]@{offset} is not sealed yet (latest head covers"
            f" {head.tree_size if head else 0} records); run `dledger seal`"
        )
    tree = await _partition_tree(store, partition, head, f"prove {event_id}")
    return {
        "format": PROOF_FORMAT,
        "event_id": event_id,
        "topic": topic,
        "partition": partition,
        "offset": offset,
        "record": base64.b64encode(value).decode(),
        "leaf_hash": tree.leaves[offset].hex(),
        "tree_size": head.tree_size,
        "audit_path": [h.hex() for h in tree.inclusion_path(offset)],
        "checkpoint": _head_json(head),
    }


async def _heads_of(store: EventStore, partition: int) -> dict[int, Checkpoint]:
    """The partition's heads by tree size (the first one read at each size)."""
    topic = store.topics.lifecycle.name
    heads: dict[int, Checkpoint] = {}
    async for item in store.read_events(store.topics.checkpoints.name):
        cp = item.event
        if isinstance(cp, Checkpoint) and cp.topic == topic and cp.partition == partition:
            heads.setdefault(cp.tree_size, cp)
    return heads


async def prove_consistency(
    store: EventStore, partition: int, old_size: int, new_size: int | None = None
) -> dict[str, Any]:
    """An RFC 9162 consistency proof between two signed heads of one partition (the
    latest head when ``new_size`` is None)."""
    topic = store.topics.lifecycle.name
    what = f"prove-consistency {topic}[{partition}] {old_size}..{new_size if new_size is not None else 'latest'}"
    heads = await _heads_of(store, partition)
    if new_size is None and heads:
        new_size = max(heads)
    missing = [n for n in (old_size, new_size) if n not in heads]
    if missing or new_size is None:
        sizes = ", ".join(str(n) for n in sorted(heads)[-20:]) or "none"
        raise ProofError(f"{what}: no checkpoint at size {missing[0] if missing else '?'} (sizes: {sizes})")
    if not 0 < old_size <= new_size:
        raise ProofError(f"{what}: need 0 < FROM <= TO")
    old, new = heads[old_size], heads[new_size]
    tree = await _partition_tree(store, partition, new, what)
    if tree.root(old_size) != old.root_hash:
        raise LogTampered(f"{what}: the log reproduces the head at {new_size} but not the one at {old_size}")
    return {
        "format": CONSISTENCY_FORMAT,
        "topic": topic,
        "partition": partition,
        "old_size": old_size,
        "new_size": new_size,
        "proof": [h.hex() for h in tree.consistency_proof(old_size)],
        "old_checkpoint": _head_json(old),
        "new_checkpoint": _head_json(new),
    }


# ---------------------------------------------------------------- verify-proof (offline)


@functools.cache
def _codec() -> EventCodec:
    return EventCodec()  # parsing every schema costs milliseconds: once per process


def load_public_key(text_or_path: str) -> Ed25519PublicKey:
    """A public key given as hex, base64, a PEM file (public or private), or a key file
    written by ``IssuerKey.save`` (issuer id line, then PEM)."""
    text = text_or_path
    path = Path(text_or_path)
    try:
        if path.is_file():
            text = path.read_text()
    except OSError:
        pass
    text = text.strip()
    if "-----BEGIN" in text:
        pem = text[text.index("-----BEGIN"):].encode()
        if b"PRIVATE KEY" in pem:
            key = serialization.load_pem_private_key(pem, password=None)
            if isinstance(key, Ed25519PrivateKey):
                return key.public_key()
        else:
            pub = serialization.load_pem_public_key(pem)
            if isinstance(pub, Ed25519PublicKey):
                return pub
        raise ProofError(f"{text_or_path}: not an Ed25519 key")
    for decode in (bytes.fromhex, base64.b64decode):
        try:
            raw = decode(text)
        except (ValueError, binascii.Error):
            continue
        if len(raw) == 32:
            return Ed25519PublicKey.from_public_bytes(raw)
    raise ProofError(f"{text_or_path!r}: expected a 32-byte Ed25519 public key (hex or base64) or a PEM file")


def public_key_raw(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def public_key_hex(key: Ed25519PublicKey) -> str:
    return public_key_raw(key).hex()


def pinned_keys(keys: Sequence[str]) -> dict[str, Ed25519PublicKey]:
    """Sealer keys given on the command line (hex, base64, PEM or key file), by key id."""
    out = {}
    for text in keys:
        key = load_public_key(text)
        out[key_id_for(public_key_raw(key))] = key
    return out


def _check_head(head: dict[str, Any], keys: Sequence[Ed25519PublicKey]) -> None:
    """The head's signature verifies with the key it names, which is one of ``keys``."""
    by_id = {key_id_for(public_key_raw(k)): k for k in keys}
    key = by_id.get(head["signer_key_id"])
    if key is None:
        raise ProofError(f"the checkpoint names signer {head['signer_key_id']}, not this key"
                         f" ({', '.join(by_id)})")
    if not head_signature_ok(key, _head_message_from_json(head), bytes.fromhex(head["head_signature"])):
        raise ProofError(f"the checkpoint's head signature at size {head['tree_size']} does not verify with this key")


def verify_proof(proof: dict[str, Any], public_key: Ed25519PublicKey | Sequence[Ed25519PublicKey]) -> dict[str, Any]:
    """Check an inclusion or consistency proof offline; return what it proves, or raise
    ProofError naming the step. Each head must be signed by one of the given keys."""
    keys = [public_key] if isinstance(public_key, Ed25519PublicKey) else list(public_key)
    try:
        if proof.get("format") == CONSISTENCY_FORMAT:
            return _verify_consistency_proof(proof, keys)
        if proof.get("format") != PROOF_FORMAT:
            raise ProofError(f"not a {PROOF_FORMAT} or {CONSISTENCY_FORMAT} document")
        head = proof["checkpoint"]
        _check_head(head, keys)
        value = base64.b64decode(proof["record"])
        event = _codec().decode(value)
        if event.event_id != proof["event_id"]:
            raise ProofError(f"the record is event {event.event_id}, not {proof['event_id']}")
        leaf = record_leaf(value)
        size, offset = int(head["tree_size"]), int(proof["offset"])
        if (proof["topic"], int(proof["partition"])) != (head["topic"], int(head["partition"])):
            raise ProofError("the record and the checkpoint are from different partitions")
        path = [bytes.fromhex(h) for h in proof["audit_path"]]
        if not merkle.verify_inclusion(leaf, offset, size, path, bytes.fromhex(head["root_hash"])):
            raise ProofError(f"the audit path does not lead from offset {offset} to the signed root at size {size}")
    except ProofError:
        raise
    except (KeyError, TypeError, ValueError, binascii.Error, DomainError) as exc:
        raise ProofError(f"malformed proof: {exc!r}") from exc
    return {
        "ok": True,
        "kind": "inclusion",
        "event_id": event.event_id,
        "type": event.type,
        "topic": head["topic"],
        "partition": int(head["partition"]),
        "offset": offset,
        "tree_size": size,
        "root_hash": head["root_hash"],
        "sealed_at": head["occurred_at"],
        "signer_key_id": head["signer_key_id"],
    }


def _verify_consistency_proof(proof: dict[str, Any], keys: Sequence[Ed25519PublicKey]) -> dict[str, Any]:
    old, new = proof["old_checkpoint"], proof["new_checkpoint"]
    for head in (old, new):
        _check_head(head, keys)
        if (head["topic"], int(head["partition"])) != (proof["topic"], int(proof["partition"])):
            raise ProofError(f"the head at size {head['tree_size']} is of another topic or partition")
    m, n = int(old["tree_size"]), int(new["tree_size"])
    if (m, n) != (int(proof["old_size"]), int(proof["new_size"])):
        raise ProofError("the proof's sizes are not the signed heads' sizes")
    path = [bytes.fromhex(h) for h in proof["proof"]]
    if not merkle.verify_consistency(m, n, bytes.fromhex(old["root_hash"]), bytes.fromhex(new["root_hash"]), path):
        raise ProofError(f"the signed tree at size {m} is not a prefix of the signed tree at size {n}"
                         " (RFC 9162 consistency proof fails)")
    return {
        "ok": True,
        "kind": "consistency",
        "topic": proof["topic"],
        "partition": int(proof["partition"]),
        "old_size": m,
        "new_size": n,
        "old_root_hash": old["root_hash"],
        "new_root_hash": new["root_hash"],
        "signer_key_ids": sorted({old["signer_key_id"], new["signer_key_id"]}),
    }


# ---------------------------------------------------------------- export


async def export_checkpoints(store: EventStore) -> dict[str, Any]:
    """Every head of the lifecycle topic, the signers' public keys, and every issuer key
    registered so far (a keyring ``verify --issuer-keys`` can pin)."""
    ring = await store.keyring()
    heads, signers = [], {}
    async for item in store.read_events(store.topics.checkpoints.name):
        cp = item.event
        if not isinstance(cp, Checkpoint) or cp.producer is None:
            continue
        if ring.knows(cp.producer.issuer_id, cp.signer_key_id):
            signers[cp.signer_key_id] = public_key_hex(ring.public_key(cp.producer.issuer_id, cp.signer_key_id))
        heads.append(_head_json(cp))
    issuers = []
    async for item in store.read_events(store.topics.registry.name):
        e = item.event
        if isinstance(e, IssuerKeyRegistered) and ring.knows(e.issuer_id, e.key_id):
            issuers.append({"issuer_id": e.issuer_id, "key_id": e.key_id, "public_key": e.public_key.hex()})
    return {"format": EXPORT_FORMAT, "topic": store.topics.lifecycle.name, "signers": signers,
            "issuer_keys": issuers, "checkpoints": heads}


def load_export(path: str | Path) -> Any:
    """An export file as a verifier ``Export``: heads (signatures checked against the
    file's own signer keys: the file is the copy kept elsewhere, trusted as a whole)
    and those signer keys, which ``verify --against`` pins."""
    from .verifier import Export, ExportedHead

    try:
        data = json.loads(Path(path).read_text())
        if data.get("format") != EXPORT_FORMAT:
            raise ProofError(f"{path}: not a {EXPORT_FORMAT} file")
        signers = {key_id: load_public_key(text) for key_id, text in data["signers"].items()}
        for key_id, key in signers.items():
            if key_id_for(public_key_raw(key)) != key_id:
                raise ProofError(f"{path}: signer {key_id} does not match its public key")
        heads = []
        for h in data["checkpoints"]:
            key = signers.get(h["signer_key_id"])
            if key is None or not head_signature_ok(key, _head_message_from_json(h), bytes.fromhex(h["head_signature"])):
                raise ProofError(f"{path}: head of partition {h['partition']} at size {h['tree_size']} does not verify")
            if h["topic"] != data["topic"]:
                raise ProofError(f"{path}: head of partition {h['partition']} at size {h['tree_size']} is of topic"
                                 f" {h['topic']}, not {data['topic']}")
            heads.append(ExportedHead(int(h["partition"]), int(h["tree_size"]), bytes.fromhex(h["root_hash"])))
        return Export(data["topic"], tuple(heads), signers)
    except ProofError:
        raise
    except (OSError, KeyError, TypeError, ValueError, binascii.Error) as exc:
        raise ProofError(f"read checkpoints export {path}: {exc!r}") from exc


def load_issuer_keys(path: str | Path) -> Keyring:
    """A keyring from the ``issuer_keys`` of an export file: the producer keys
    ``verify --issuer-keys`` trusts instead of the registry topic."""
    try:
        data = json.loads(Path(path).read_text())
        if data.get("format") != EXPORT_FORMAT:
            raise ProofError(f"{path}: not a {EXPORT_FORMAT} file")
        return Keyring(
            IssuerKeyRegistered(issuer_id=k["issuer_id"], key_id=k["key_id"], public_key=bytes.fromhex(k["public_key"]))
            for k in data["issuer_keys"]
        )
    except ProofError:
        raise
    except (OSError, KeyError, TypeError, ValueError, DomainError) as exc:
        raise ProofError(f"read issuer keys from {path}: {exc!r}") from exc
