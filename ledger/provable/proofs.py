"""Inclusion proofs and exported tree heads: what leaves the log, to be checked by
someone who has no access to it.

A proof carries the record's stored bytes, its offset, the audit path and the signed
head it hangs under; ``verify_proof`` needs only that JSON and the sealer's public
key. An export carries the heads alone (no manifests), small enough to keep anywhere.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from .. import merkle
from ..codec import EventCodec
from ..errors import DomainError, LogTampered
from ..events import Checkpoint
from ..signing import key_id_for
from ..store import EventStore
from .heads import head_message, head_signature_ok, manifest_digest, record_leaf
from .host import latest_heads

PROOF_FORMAT = "dledger-inclusion-proof/v1"
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


async def find_event(store: EventStore, event_id: str) -> tuple[int, int, bytes] | None:
    """(partition, offset, stored bytes) of an event in the lifecycle topic."""
    async for item in store.read_events(store.topics.lifecycle.name):
        if item.event is not None and item.event.event_id == event_id:
            return item.record.partition, item.record.offset, item.record.value
    return None


async def prove(store: EventStore, event_id: str) -> dict[str, Any]:
    """An inclusion proof of one lifecycle event against its partition's latest head."""
    topic = store.topics.lifecycle.name
    found = await find_event(store, event_id)
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
    leaves: list[bytes] = []
    while len(leaves) < head.tree_size:
        batch = await store.log.read(topic, partition, len(leaves), limit=min(10_000, head.tree_size - len(leaves)))
        if not batch:
            break
        leaves.extend(record_leaf(r.value) for r in batch)
    if len(leaves) != head.tree_size or merkle.root(leaves) != head.root_hash:
        raise LogTampered(f"prove {event_id}: {topic}[{partition}] no longer matches its latest head; run `dledger verify`")
    return {
        "format": PROOF_FORMAT,
        "event_id": event_id,
        "topic": topic,
        "partition": partition,
        "offset": offset,
        "record": base64.b64encode(value).decode(),
        "leaf_hash": leaves[offset].hex(),
        "tree_size": head.tree_size,
        "audit_path": [h.hex() for h in merkle.inclusion_path(offset, leaves)],
        "checkpoint": _head_json(head),
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


def public_key_hex(key: Ed25519PublicKey) -> str:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex()


def verify_proof(proof: dict[str, Any], public_key: Ed25519PublicKey) -> dict[str, Any]:
    """Check a proof offline; return what it proves, or raise ProofError naming the step."""
    try:
        if proof.get("format") != PROOF_FORMAT:
            raise ProofError(f"not a {PROOF_FORMAT} document")
        head = proof["checkpoint"]
        raw_public = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        if key_id_for(raw_public) != head["signer_key_id"]:
            raise ProofError(f"the checkpoint names signer {head['signer_key_id']}, not this key ({key_id_for(raw_public)})")
        if not head_signature_ok(public_key, _head_message_from_json(head), bytes.fromhex(head["head_signature"])):
            raise ProofError("the checkpoint's head signature does not verify with this key")
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


# ---------------------------------------------------------------- export


async def export_checkpoints(store: EventStore) -> dict[str, Any]:
    """Every verified-signature head of the lifecycle topic, plus the signers' public keys."""
    ring = await store.keyring()
    heads, signers = [], {}
    async for item in store.read_events(store.topics.checkpoints.name):
        cp = item.event
        if not isinstance(cp, Checkpoint) or cp.producer is None:
            continue
        if ring.knows(cp.producer.issuer_id, cp.signer_key_id):
            signers[cp.signer_key_id] = public_key_hex(ring.public_key(cp.producer.issuer_id, cp.signer_key_id))
        heads.append(_head_json(cp))
    return {"format": EXPORT_FORMAT, "topic": store.topics.lifecycle.name, "signers": signers, "checkpoints": heads}


def load_export(path: str | Path) -> list[Any]:
    """The heads of an export file, as ExportedHead (signatures checked against the
    file's own signer keys: the file is the copy kept elsewhere, trusted as a whole)."""
    from .verifier import ExportedHead

    try:
        data = json.loads(Path(path).read_text())
        if data.get("format") != EXPORT_FORMAT:
            raise ProofError(f"{path}: not a {EXPORT_FORMAT} file")
        out = []
        for h in data["checkpoints"]:
            key = load_public_key(data["signers"][h["signer_key_id"]])
            if not head_signature_ok(key, _head_message_from_json(h), bytes.fromhex(h["head_signature"])):
                raise ProofError(f"{path}: head of partition {h['partition']} at size {h['tree_size']} does not verify")
            out.append(ExportedHead(int(h["partition"]), int(h["tree_size"]), bytes.fromhex(h["root_hash"])))
        return out
    except ProofError:
        raise
    except (OSError, KeyError, TypeError, ValueError) as exc:
        raise ProofError(f"read checkpoints export {path}: {exc!r}") from exc
