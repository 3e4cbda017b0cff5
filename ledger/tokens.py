"""Keep token values out of the ledger (invariant 3).

A token enters an event only as ``fingerprint(token, key)``: HMAC-SHA256 under a
deployment key, so the ledger can correlate uses of one token across systems without
holding anything that could be replayed. ``find_secret`` is the guard every event runs
over its text fields, so a raw token pasted into any field is refused at construction.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re
from collections import Counter

FINGERPRINT_PREFIX = "hmac-sha256:"
FINGERPRINT_RE = re.compile(r"^hmac-sha256:[0-9a-f]{64}$")

# Shapes of well-known bearer secrets. Each is a value nobody needs in an audit record.
_SECRET_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("JWT", re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.?[A-Za-z0-9_-]*")),
    ("bearer credential", re.compile(r"\b(?i:bearer|basic)\s+[A-Za-z0-9._~+/=-]{12,}")),
    ("GitHub token", re.compile(r"\b(gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})")),
    ("Slack token", re.compile(r"\bxox[abprse]-[A-Za-z0-9-]{10,}")),
    ("AWS access key", re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b")),
    ("Google API key or token", re.compile(r"\b(AIza[0-9A-Za-z_-]{30,}|ya29\.[0-9A-Za-z_-]{20,})")),
    ("API secret key", re.compile(r"\bsk-[A-Za-z0-9_-]{20,}")),
    ("private key", re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")),
)
_ANY_SECRET_RE = re.compile("|".join(f"(?:{p.pattern})" for _, p in _SECRET_PATTERNS))
_SHORTEST_SECRET = 12  # no pattern above matches fewer characters
_OPAQUE_RE = re.compile(r"[A-Za-z0-9+/=_.~-]{32,}")
_HEX_RE = re.compile(r"^(?:[a-z0-9-]+:)?[0-9a-fA-F-]+$")


def fingerprint(token: str | bytes, key: bytes) -> str:
    """The keyed fingerprint that stands for ``token`` in every event."""
    if not key:
        raise ValueError("fingerprint needs a non-empty deployment key")
    raw = token.encode() if isinstance(token, str) else token
    return FINGERPRINT_PREFIX + hmac.new(key, raw, hashlib.sha256).hexdigest()


def _entropy(s: str) -> float:
    counts = Counter(s)
    n = len(s)
    return -sum(c / n * math.log2(c / n) for c in counts.values())


def find_secret(text: str) -> str | None:
    """Name the kind of secret ``text`` appears to contain, or None.

    Known token shapes are matched by pattern; any other long opaque run of
    base64-ish characters mixing cases and digits with high entropy is treated as an unknown secret.
    Hex digests, UUIDs and our own fingerprints are allowed: they are not secrets.
    """
    if len(text) < _SHORTEST_SECRET or FINGERPRINT_RE.match(text):
        return None
    if _ANY_SECRET_RE.search(text):
        return next(name for name, pattern in _SECRET_PATTERNS if pattern.search(text))
    for run in _OPAQUE_RE.findall(text):
        if _HEX_RE.match(run):
            continue
        mixed = any(c.isupper() for c in run) and any(c.islower() for c in run) and any(c.isdigit() for c in run)
        if mixed and _entropy(run) >= 4.0:
            return "high-entropy opaque string"
    return None
