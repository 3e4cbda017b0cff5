"""Deterministic ids for derived events.

A derived event's id is a hash of the rule that fired, the id of the event that
caused it and the subject it is about (a credential, a log position). Replaying the
same log therefore yields the same ids, so a host can tell "already written" from
"still owed" after a crash, and consumers drop any duplicate by id.
"""

from __future__ import annotations

import hashlib


def derived_id(rule: str, cause_id: str, subject: str = "") -> str:
    return hashlib.sha256(f"dledger/v1/{rule}\x00{cause_id}\x00{subject}".encode()).hexdigest()[:32]
