"""The provable log: signed Merkle checkpoints over the lifecycle topic, ``verify``,
inclusion proofs and exported tree heads (RFC 9162, the way Certificate Transparency
logs are made accountable).

Why: Kafka offsets are not commitments. Retention, compaction, DeleteRecords or an
administrator can remove or rewrite records, and producer signatures alone cannot show
that an event is *missing* or *out of place*. A sealer therefore commits to each
partition of the lifecycle topic, in offset order, with signed tree heads.

What is sealed
    The leaf of offset ``i`` is ``leaf_hash(record value)``: the exact bytes stored,
    signature included. The sealer (``sealer.Sealer``, a pure core; ``host`` follows
    the log) appends a ``Checkpoint`` to the checkpoints topic every N records or T
    seconds per partition: tree size, root, the previous head it extends, and the
    *seal manifest*: the leaf hashes of the offsets it adds (32 bytes per event). The
    head is Ed25519-signed under ``CHECKPOINT_DOMAIN`` by the sealer's key, registered
    in the registry like every issuer key; the Checkpoint event itself carries the
    usual producer signature too.

Trust anchors
    By default ``verify`` learns the sealer and issuer keys from the registry topic,
    so an administrator who rewrites the log *and* its registry passes it. Pinning
    closes that: ``sealer_keys`` (``--sealer-key``; ``--against`` pins the signers of
    its export too) makes a head signed by any other key an **untrusted checkpoint**,
    not trusted for anything; ``issuer_keys`` (``--issuer-keys``, the keyring a
    ``checkpoints export`` carries) replaces the registry for producer signatures, so
    a key registered later is an **unknown key**. A head also names the topic it
    seals (it is under the signature): one naming another topic is a **wrong topic**
    (a copy under a new prefix), unless ``allow_renamed_topic``.

How ``verify`` names each problem (``verifier``)
    1. Checkpoints are checked on their own: head signature by a trusted key, each
       head links to the previous one (sizes and roots), its manifest has exactly the
       leaves it adds, and the root recomputed over all manifests so far equals the
       signed root. Successive heads are then checked by an RFC 9162 consistency
       proof built from those leaves (``merkle.Tree``: O(log n) per pair), the same
       check an auditor who holds only two signed heads makes with a proof from
       ``prove-consistency``. Given the recomputed roots it cannot fail on its own;
       it keeps the verifier and the offline auditor on one code path. The
       manifests, once checked, are the authenticated *sealed sequence* S of leaf
       hashes.
    2. The log is read again; C is the sequence of current leaf hashes. When C starts
       with S, the sealed part is intact. Otherwise S and C are aligned (a diff over
       leaf hashes, which are unique because event ids are):
         - a sealed leaf with no counterpart, where a current record sits in its place
           at the same position, is **modified** (same offset, different bytes);
         - a sealed leaf absent from C, with nothing in its place, is **missing**
           (reported at its sealed offset; a shorter log than the last head is a
           truncated tail, reported the same way);
         - a current record absent from S, inside the sealed range, is **inserted**;
         - a leaf present in both but at another position is **reordered**
           (reported at its current offset, naming its sealed offset).
       Records after the last head are "unsealed": nothing vouches for their order
       yet, only their producer signatures.
    3. Independently, every record's producer signature is checked against the
       registered issuer keys: **bad signature** (bytes or signature altered, or a
       broken producer) and **unknown key** (signed by a key nobody registered:
       a forgery, or a missing registration). A forged record usually shows twice,
       as ``inserted`` and ``unknown key``: two independent checks, both named.
    4. ``--against FILE`` compares exported heads (kept elsewhere) with the log: the
       current leaves must reproduce each exported root, and the latest head in the
       log must be consistent with it (RFC 9162 consistency proof). This catches a
       rewrite of the whole topic, checkpoints and keys included (**rewritten**).

Cost: per record, verify hashes the stored bytes (the leaf), decodes the event
(codec) and checks its producer signature (a leaf hash and a log2(64) audit path; one
Ed25519 verification per signed group of 64, cached). Decoding, model validation
included, is most of it: ``dledger bench verify`` shows verify against a raw read and
against a decode-only read.

Without manifests (checkpoints written by another sealer), step 2 can only say which
head's range first differs; the manifest costs 32 bytes per event and buys the exact
offset and kind.
"""

from .heads import SEALER_ISSUER, head_message, record_leaf
from .sealer import Sealer
from .verifier import Problem, ProblemKind, VerifyReport, verify_log

__all__ = [
    "Problem",
    "ProblemKind",
    "SEALER_ISSUER",
    "Sealer",
    "VerifyReport",
    "head_message",
    "record_leaf",
    "verify_log",
]
