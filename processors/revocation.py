"""Revocation rules: TTL expiry, task completion, cascade; one revocation per credential.

Every revocation names its cause (``causation_id``): the credential's issuance for an
expiry, the ``TaskCompleted`` event, or the parent's revocation for a cascade. Its id
is derived from that cause, and its ``occurred_at`` is the moment the cause took
effect (the expiry instant, the completion, the parent's revocation), never the time
a host happened to notice, so a replay writes the same event.
"""

from __future__ import annotations

import heapq
from datetime import datetime

from ledger.events import CredentialRevoked, RevocationReason, TaskCompleted

from .ids import derived_id
from .state import Credential, State

REVOKED_BY = "dledger-processor"


def revoke(state: State, cred: Credential, reason: RevocationReason, cause_id: str, at: datetime) -> list[CredentialRevoked]:
    """Revoke ``cred`` and all its live descendants, unless it is revoked already
    (or, while recovering, its revocation is further down the log)."""
    if cred.revoked or cred.credential_id in state.in_log_revoked:
        return []
    event = CredentialRevoked(
        event_id=derived_id(f"revoke.{reason.value.lower()}", cause_id, cred.credential_id),
        occurred_at=at,
        chain_id=cred.chain_id,
        task_id=cred.task_id,
        workflow_id=cred.workflow_id,
        causation_id=cause_id,
        credential_id=cred.credential_id,
        reason=reason,
        revoked_by=REVOKED_BY,
    )
    mark_revoked(cred, event)
    return [event, *cascade(state, cred)]


def mark_revoked(cred: Credential, event: CredentialRevoked) -> None:
    cred.revocation_id = event.event_id
    cred.revoked_at = event.occurred_at
    cred.revocation_reason = event.reason


def cascade(state: State, parent: Credential) -> list[CredentialRevoked]:
    """Invariant 7: revocation reaches every descendant."""
    out: list[CredentialRevoked] = []
    for child_id in parent.children:
        child = state.credentials.get(child_id)
        if child is not None:
            at = max(parent.revoked_at or child.issued_at, child.issued_at)
            out += revoke(state, child, RevocationReason.PARENT_REVOKED, parent.revocation_id or "", at)
    return out


def on_revoked(state: State, event: CredentialRevoked) -> list[CredentialRevoked]:
    """A revocation read from the log: ours (already applied, a no-op) or anyone's
    (manual, compromised), which cascades."""
    state.in_log_revoked.discard(event.credential_id)
    cred = state.credentials.get(event.credential_id)
    if cred is None:
        state.early_revocations.setdefault(event.credential_id, (event.event_id, event.occurred_at, event.reason))
        return []
    if cred.revoked:
        return []
    mark_revoked(cred, event)
    return cascade(state, cred)


def on_task_completed(state: State, event: TaskCompleted) -> list[CredentialRevoked]:
    if not event.task_id:
        return []
    state.completed.setdefault(event.task_id, event)
    out: list[CredentialRevoked] = []
    bound = [state.credentials[c] for c in state.by_task.get(event.task_id, ())]
    for cred in sorted(bound, key=lambda c: c.depth):  # roots first: descendants cascade from them
        out += revoke(state, cred, RevocationReason.TASK_COMPLETED, event.event_id, max(event.occurred_at, cred.issued_at))
    return out


def on_issued(state: State, cred: Credential) -> list[CredentialRevoked]:
    """A credential born into a revoked world: its parent is revoked, its task is done,
    or a revocation for it arrived first."""
    early = state.early_revocations.pop(cred.credential_id, None)
    if early is not None:
        event_id, at, reason = early
        cred.revocation_id, cred.revoked_at, cred.revocation_reason = event_id, at, reason
        return cascade(state, cred)
    if cred.parent_id is not None:
        parent = state.credentials.get(cred.parent_id)
        if parent is not None and parent.revoked:
            return revoke(state, cred, RevocationReason.PARENT_REVOKED, parent.revocation_id or "",
                          max(parent.revoked_at or cred.issued_at, cred.issued_at))
    done = state.completed.get(cred.task_id or "")
    if done is not None:
        return revoke(state, cred, RevocationReason.TASK_COMPLETED, done.event_id, max(done.occurred_at, cred.issued_at))
    if cred.expires_at is not None:
        state.schedule_expiry(cred.expires_at, cred.credential_id)
    return []


def expire(state: State, now: datetime) -> list[CredentialRevoked]:
    """Revoke every credential whose expiry is at or before ``now``, oldest first."""
    out: list[CredentialRevoked] = []
    limit = now.timestamp()
    heap = state.expiries
    while heap and heap[0][0] <= limit:
        _, cred_id = heapq.heappop(heap)
        cred = state.credentials.get(cred_id)
        if cred is None or cred.revoked or cred.expires_at is None:
            continue
        out += revoke(state, cred, RevocationReason.EXPIRED, cred.issued_event_id, cred.expires_at)
    return out

