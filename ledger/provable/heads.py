"""Signed tree heads: what exactly a sealer signs, in one place for sealer, verifier
and offline proof checking."""

from __future__ import annotations

import hashlib
import struct
from datetime import datetime, timedelta, timezone

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from .. import merkle
from ..events import Checkpoint
from ..signing import CHECKPOINT_DOMAIN

SEALER_ISSUER = "dledger-sealer"
NO_ROOT = b"\x00" * 32
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def record_leaf(value: bytes) -> bytes:
    """The leaf a sealed record contributes: its stored bytes, signature included."""
    return merkle.leaf_hash(value)


def manifest_digest(leaf_hashes: list[bytes]) -> bytes:
    return hashlib.sha256(b"".join(leaf_hashes)).digest()


def head_message(
    topic: str,
    partition: int,
    tree_size: int,
    root_hash: bytes,
    previous_tree_size: int,
    previous_root_hash: bytes | None,
    occurred_at: datetime,
    manifest: bytes,
) -> bytes:
    """CHECKPOINT_DOMAIN || topic || partition || size || root || previous size || previous
    root || time (ms) || SHA-256 of the manifest: fixed widths, length-prefixed topic."""
    t = topic.encode()
    return b"".join(
        (
            CHECKPOINT_DOMAIN,
            struct.pack(">H", len(t)),
            t,
            struct.pack(">IQ", partition, tree_size),
            root_hash,
            struct.pack(">Q", previous_tree_size),
            previous_root_hash or NO_ROOT,
            struct.pack(">q", (occurred_at - EPOCH) // timedelta(milliseconds=1)),
            manifest,
        )
    )


def checkpoint_message(cp: Checkpoint) -> bytes:
    return head_message(
        cp.topic, cp.partition, cp.tree_size, cp.root_hash, cp.previous_tree_size, cp.previous_root_hash,
        cp.occurred_at, manifest_digest(cp.leaf_hashes),
    )


def head_signature_ok(public_key: Ed25519PublicKey, message: bytes, signature: bytes) -> bool:
    try:
        public_key.verify(signature, message)
    except InvalidSignature:
        return False
    return True
